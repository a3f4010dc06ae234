"""docs/benchmarks.md from the raw JSON in bench/results: one table per database x workload.

Each table comes whole from the newest run that measured that database and
workload, so every ratio in it compares contenders of the same run.
"""

# ruff: noqa: RUF001  (the multiplication sign, dashes and minus are the typography of the tables)

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from . import chart
from .contenders import (
    BASELINES,
    BEST_PLAIN,
    CONTENDERS,
    DRIVERS,
    FLOOR,
    ORMGATE,
    SCOPED_OVERHEAD,
    TARGETS,
    WORKLOADS,
)
from .seed import POSTS_PER_USER

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
# Hand-written reading of the latest results (profiles, causes), placed before the tables.
OBSERVATIONS = Path(__file__).resolve().parent / "observations.md"
DATABASE_NAMES = {"sqlite": "SQLite (file, WAL)", "postgresql": "PostgreSQL", "mysql": "MariaDB"}
CRUDROUTER = (
    "**fastapi-crudrouter** (0.8.6, its latest release) is not a contender: it does not run on Pydantic v2. "
    "Building its `SQLAlchemyCRUDRouter` for this table fails in `fastapi_crudrouter/core/_utils.py` "
    "`get_pk_type` with `AttributeError: 'FieldInfo' object has no attribute 'type_'` (a Pydantic v1 API)."
)
NOTES = (
    "FastCRUD answers `POST` with 200 rather than 201, checks each unique column with a `SELECT` "
    "before inserting, and answers `PATCH` with `null`; its list needs both `offset` and `limit` "
    "(hence `offset=0` in every list URL).",
    "django-ninja runs under Django's ASGI handler with no middleware at all and `DEBUG=False` (leaner than a "
    "new Django project). Django runs each ASGI request's sync code in a new thread, so its per-thread "
    "connections cannot persist (with `CONN_MAX_AGE` > 0 they leak, one per request): as Django's docs say, "
    "`CONN_MAX_AGE=0` and, on PostgreSQL, Django's own pool (`OPTIONS['pool']`, same size as everyone's); "
    "on SQLite and MariaDB every ninja request opens a connection. ormgate's Django adapter keeps one "
    "connection per worker thread instead.",
    "The hand-written tutorials return a bare JSON list from the list route; the raw routes and ormgate an "
    '`{"items": [...]}` object (ormgate also fetches `limit + 1` rows to build `next_cursor` and `Link`).',
    "On SQLite the raw routes call `sqlite3` on the event loop (one connection, no thread hop); every ORM "
    "contender uses its own connection handling with the pool size above.",
    "PostgreSQL and MariaDB run on the same two cores as the server and wrk (not pinned): their CPU "
    "is not in the CPU µs/request column, which is the uvicorn process only.",
    "`include100` (issue 14) reads the first 100 posts by id, each with its author embedded (every users "
    "column). ormgate answers `?include=author` with one batched `IN` statement for the page's authors "
    "after the page (docs/relationships.md). The hand-written routes always embed the author, as a "
    "posts-with-authors endpoint would: SQLAlchemy tutorials with `joinedload(Post.author)` (one joined "
    "statement: for a many-to-one relation `selectinload` would add a second round trip), ninja with "
    '`select_related("author")`, the Peewee tutorial with a join (`Post.select(Post, User).join(User)`), '
    "fastapi-raw with one `LEFT JOIN` written by hand, FastCRUD with `crud_router(joins_config=[JoinConfig(...)])` "
    "(its `get_multi_joined`, a left join, which also counts the rows on every request, as its plain list "
    "does; `sort=id` is in the URL because its joined read has no order of its own). On MariaDB an inner "
    "join of posts to users is planned from users (a scan, a temporary table and a filesort of every post: "
    "0.75 s a page at 50,000 posts, once, in-process), a left join from the posts' primary key; Django's "
    "`select_related` on a non-null key and Peewee's default `join` are inner joins, so ninja and the Peewee "
    "tutorial pay it there, as their idiom does. "
    "Before a server is measured on it, the harness checks that it answers the seeded posts and authors "
    "(bench/expect.py): a contender that answers other content fails instead of being measured.",
)


def _load(results: Path) -> list[dict[str, Any]]:
    return sorted((json.loads(p.read_text()) for p in results.glob("*.json")), key=lambda d: d["id"])


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    rps = [r["rps"] for r in runs]
    cpu = [r["cpu_us_per_request"] for r in runs if r["cpu_us_per_request"] is not None]
    return {
        "rps": _median(rps),
        "min": min(rps),
        "max": max(rps),
        "p50": _median([r["p50_ms"] for r in runs]),
        "p99": _median([r["p99_ms"] for r in runs]),
        "cpu": _median(cpu),
        "non2xx": sum(r["non2xx"] for r in runs),
        "socket": sum(r["socket_errors"] for r in runs),
        "rounds": len(runs),
        "foreign": _median([r["foreign_cores"] for r in runs if "foreign_cores" in r]),
        "database": _median([r["database_cores"] for r in runs if "database_cores" in r]),
    }


def _ratio(a: dict[str, Any] | None, b: dict[str, Any] | None) -> str:
    if not a or not b or not b["rps"]:
        return "–"
    return f"{a['rps'] / b['rps']:.2f}×"


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _stats(data: dict[str, Any], database: str, workload: str) -> dict[str, dict[str, Any]]:
    by_contender: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for run in data["runs"]:
        if run["database"] == database and run["workload"] == workload:
            by_contender[run["contender"]].append(run)
    return {name: _summary(runs) for name, runs in by_contender.items()}


def _scoped(data: dict[str, Any], database: str, workload: str, stats: dict[str, dict[str, Any]]) -> list[str]:
    """Each ormgate contender's scoped workload against its unscoped twin of the same run (issue 16)."""
    twin = WORKLOADS[workload].twin
    assert twin is not None
    plain = _stats(data, database, twin)
    lines = [
        "",
        f"| scoped vs unscoped (`{twin}`) | unscoped req/s | scoped req/s | req/s ratio | unscoped CPU µs/req "
        "| scoped CPU µs/req | extra CPU | target (issue 16) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name in ORMGATE:
        if name not in stats or name not in plain:
            continue
        ours, theirs = stats[name], plain[name]
        extra = ours["cpu"] / theirs["cpu"] - 1
        mark = "✓" if extra <= SCOPED_OVERHEAD else "✗"
        lines.append(
            f"| {name} | {_n(theirs['rps'])} | {_n(ours['rps'])} | {_ratio(ours, theirs)} | {theirs['cpu']:,.0f} "
            f"| {ours['cpu']:,.0f} | {extra:+.1%} | {mark} ≤ +{SCOPED_OVERHEAD:.0%} CPU |"
        )
    return lines


def _table(data: dict[str, Any], database: str, workload: str) -> list[str]:
    stats = _stats(data, database, workload)
    scoped = WORKLOADS[workload].twin is not None
    skipped = data["skipped"].get(database, {})
    failed = [f for f in data["failed"] if f["database"] == database and f["workload"] in (workload, "*")]
    s = data["settings"]
    lines = [
        f"### {DATABASE_NAMES[database]} — {WORKLOADS[workload].label}",
        "",
        f"Run `{data['id']}`: {s['rounds']} round(s) × {s['duration_s']:g} s, `{data['command']}`",
        "",
        "| contender | req/s, median (min–max) | × best FastAPI route | × floor | p50 ms | p99 ms "
        "| server CPU µs/req | non-2xx | socket errors | database cores | outside load, cores |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    served = WORKLOADS[workload]
    for name in [c for c in data["contenders"] if served.serves(c)]:  # scoped: ormgate's alone
        label = f"{name}: {CONTENDERS[name].label}" if name in CONTENDERS else name
        if name in stats:
            st = stats[name]
            lines.append(
                f"| {label} | {_n(st['rps'])} ({_n(st['min'])}–{_n(st['max'])}) "
                f"| {_ratio(st, stats.get(BEST_PLAIN))} | {_ratio(st, stats.get(FLOOR))} "
                f"| {st['p50']:.2f} | {st['p99']:.2f} | {st['cpu']:,.0f} | {st['non2xx']} | {st['socket']} "
                f"| {st['database']:.2f} | {st['foreign']:.2f} |"
            )
        elif name in skipped:
            lines.append(f"| {label} | **skipped**: {skipped[name].replace('|', '/')} | | | | | | | | | |")
        else:
            why = next((f["error"] for f in failed if f["contender"] == name), "no result")
            lines.append(f"| {label} | **failed**: {why.replace('|', '/')} | | | | | | | | | |")
    absent = [c for c in data["contenders"] if not served.serves(c)]
    if absent and not scoped:
        lines += ["", f"Not contenders here (no such route): {', '.join(absent)}."]
    present = [c for c in ORMGATE if c in stats]
    if scoped:
        lines += _scoped(data, database, workload, stats)
    elif present:
        lines += ["", "| ormgate vs | " + " | ".join(BASELINES) + " | targets (issue 5) |"]
        lines.append("|---|" + "---:|" * len(BASELINES) + "---|")
        for name in present:
            cells = [_ratio(stats[name], stats.get(b)) for b in BASELINES]
            checks = []
            for t in TARGETS:
                if t.contender == name and workload in t.workloads and stats.get(t.versus, {}).get("rps"):
                    ratio = stats[name]["rps"] / stats[t.versus]["rps"]
                    mark = "✓" if ratio >= t.ratio else "✗"
                    checks.append(f"{mark} ≥{t.ratio:g}× {t.versus}{' (stretch)' if t.note else ''}")
            lines.append(f"| {name} | " + " | ".join(cells) + f" | {'; '.join(checks) or '–'} |")
    return [*lines, ""]


def _memory(data: dict[str, Any]) -> list[str]:
    lines = [
        "## Memory",
        "",
        f"Run `{data['id']}`: `{data['command']}`. Worker RSS (VmRSS of the uvicorn process) after "
        "10,000 and after 100,000 `GET /users/{id}` requests (target: within 10%).",
        "",
        "| database | contender | at start, MB | after 10,000, MB | after 100,000, MB | growth | within 10% |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for row in data["memory"]:
        first, last = row["after_10000"]["rss_mb"], row["after_100000"]["rss_mb"]
        ok = "✓" if abs(row["growth"]) <= 0.10 else "✗"
        lines.append(
            f"| {DATABASE_NAMES[row['database']]} | {row['contender']} | {row['start_mb']:.1f} | {first:.1f} "
            f"| {last:.1f} | {row['growth']:+.1%} | {ok} |"
        )
    for database, reasons in data["skipped"].items():
        for name, why in reasons.items():
            lines.append(f"| {DATABASE_NAMES[database]} | {name} | skipped: {why.replace('|', '/')} | | | | |")
    return [*lines, ""]


def _header(sources: list[dict[str, Any]]) -> list[str]:
    newest = sources[-1]
    env, s = newest["environment"], newest["settings"]
    # wrk --version prints "wrk <version> [epoll] Copyright ...".
    clean = {k: str(v).split(" Copyright")[0].removeprefix(f"{k} ") for k, v in env["versions"].items() if v}
    versions = ", ".join(f"{k} {v}" for k, v in clean.items())
    return [
        "# Benchmarks",
        "",
        "<!-- Written by `python -m bench.run` (bench/report.py) from bench/results/*.json: do not edit by hand. -->",
        "",
        "ormgate side by side with the same `users` endpoints written by hand, by CRUD generators and by a bare",
        "ASGI floor, all measured in the same run. Figures are ratios between contenders of one run, never",
        "absolute targets: rerun on your machine with `make bench` (see [How to run](#how-to-run)).",
        "Deep pagination (offset vs cursor) is in [deep-pages.md](deep-pages.md).",
        "",
        "## Setup",
        "",
        f"- Machine: {env['cpu']}, {env['cores']} cores, {env['memory_gb']} GB, Linux {env['kernel']}.",
        f"- Versions: {versions}.",
        f"- Server: {s['server']}. Client: {s['wrk']}. Warm-up {s['warmup_s']:g} s before each measured run.",
        f"- Data: a `users` table of {s['rows']:,} rows (id, username unique, email unique, full_name, age, "
        "created_at indexed, tenant 1 for every row: read only by the scoped workloads), no password hashing, "
        f"and a `posts` table of {POSTS_PER_USER} posts per user (id, author_id an indexed foreign key to a random "
        "user, title, body, created_at); both reseeded before a contender runs after any write run.",
        f"- Pool size: **{s['pool_size']} connections** for every contender (SQLAlchemy `pool_size` with no "
        "overflow, asyncpg/aiomysql pools, Peewee `max_connections`, Django's psycopg pool for ninja on "
        "PostgreSQL); ormgate's Django adapter keeps one persistent connection per worker thread; the raw "
        "SQLite routes use one connection on the event loop.",
        *(f"- Drivers on {DATABASE_NAMES[d]}: {v}." for d, v in DRIVERS.items()),
        "- Rounds are interleaved: each round runs every contender in turn, starting one further along, so",
        "  drift (other load, thermal, the database's caches) hits every contender alike. Reported: median over",
        "  rounds with min–max; p50/p99 and CPU are medians over rounds; errors are summed.",
        "- Server CPU µs/request: utime + stime of the uvicorn process (all threads, from /proc) over the",
        "  measured run, divided by the requests served. Database cores: CPU of the PostgreSQL/MariaDB",
        "  processes during the run. Outside load: busy cores that were neither the server, wrk nor the",
        "  database (this machine is shared). Before each run the harness waits up to `--quiet-wait` s for",
        "  an idle machine, and repeats a run whose outside load exceeded `--max-foreign` cores (up to",
        "  `--retries` times), keeping the cleanest attempt.",
        "",
        "## Notes",
        "",
        f"- {CRUDROUTER}",
        *(f"- {note}" for note in NOTES),
        "",
    ]


def _how_to_run() -> list[str]:
    return [
        "## How to run",
        "",
        "```sh",
        "make bench                                    # full: every contender and workload on SQLite, 3 rounds x 10 s",
        "make bench BENCH_ARGS='--quick --database postgresql --workload get --workload list100'",
        "make bench BENCH_ARGS='--quick --workload include100'   # the list with ?include=author alone",
        ".venv/bin/python -m bench.run --memory --database sqlite --database postgresql",
        ".venv/bin/python -m bench.deep_pages          # offset vs cursor on 500,000 rows -> docs/deep-pages.md",
        ".venv/bin/python -m bench.run --report        # rewrite this page and its charts from bench/results",
        "```",
        "",
        "Needs wrk (`apt-get install wrk`) and, for those databases, PostgreSQL on 127.0.0.1:5432 (user",
        "postgres, trust) and MariaDB on 127.0.0.1:3306 (root, no password); the harness creates the",
        "`ormgate_bench` databases. A contender whose module does not import (a missing package, an adapter",
        "not written yet) is listed as skipped with the reason, never dropped silently.",
        "",
        "Expected duration: about (duration + warm-up + 0.6 s) per contender × workload × round, plus ~3 s per",
        "server start. With all 12 contenders, 6 workloads (`include100` runs on the 10 that have the route) and",
        "ormgate's 2 scoped ones (each ormgate contender is started a second time, scoped, for those): a full",
        "run (10 s + 2 s, 3 rounds) takes about 50 minutes per database, 2½ hours for all three; `--quick`",
        "(3 s + 1 s, 2 rounds) about 14 minutes per database. The run prints its own estimate first.",
        "",
        "The scoped workloads (`get-scoped`, `list100-scoped`) are ormgate's alone: the same app started with",
        "`BENCH_SCOPED=1` serves the users resource scoped by an `async def` dependency reading the `x-tenant`",
        "header (bench/apps/scoped.py; every row is tenant 1's, the requests send `x-tenant: 1`, the bodies are",
        "the unscoped ones; their unscoped twins `get` and `list100` send the same header, unread, for every",
        "contender, so that the two differ by the scope alone: in runs made after 2026-11-30 09:00 UTC, earlier",
        "twins sent no header). It runs before the unscoped app, so that, like",
        "every other read, they read the seeded rows, not the writes' rows. Their tables end with each",
        "contender's scoped/unscoped ratio in the",
        "same run: the goal of issue 16 is at most 5% more server CPU per request than the unscoped twin.",
        "Timed, that ratio varies by more than 5% between rounds here; `make bench` ends by counting it",
        "(`python -m bench.scope_cost --instructions`, on the databases and ormgate contenders of `BENCH_ARGS`",
        "asking for a scoped workload, about 75 s per ORM and database; skipped, saying so, without valgrind):",
        "server instructions per request, unscoped and scoped, a ✓ within 5% (docs/scoping.md).",
        "",
    ]


def _partial(data: dict[str, Any]) -> bool:
    """A run limited to some contenders (``--contender``): a check, not the whole field."""
    return "--contender" in data["command"].split()


def _charts(results: Path, throughput: list[dict[str, Any]], tables: dict[tuple[str, str], Any]) -> list[str]:
    """The picture of each run behind the tables, and of the newest run, newest first (drawn here)."""
    shown = {data["id"]: data for data in tables.values()}
    if throughput:
        shown.setdefault(throughput[-1]["id"], throughput[-1])
    lines = [
        "## Charts",
        "",
        "One chart per run, a panel per database × workload: each bar is a contender's median req/s as a ratio",
        "of the best plain FastAPI route of the same run (the dashed line is 1×); ormgate in blue, the raw",
        "routes in grey, the alternatives in orange. `make bench` draws them (bench/chart.py) beside each",
        "run's JSON in bench/results. A run limited to some contenders (`--contender`) supplies a table below",
        "only where no run measured every contender.",
        "",
    ]
    for run_id in sorted(shown, reverse=True):
        data = shown[run_id]
        svg = chart.write(results / f"{run_id}.json")
        places = sorted({f"{DATABASE_NAMES[d].split(' ')[0]} {w}" for (d, w), t in tables.items() if t is data})
        supplies = f"the tables below for {', '.join(places)}" if places else "no table below"
        kind = f"limited to {len(data['contenders'])} contenders (`--contender`), " if _partial(data) else ""
        lines += [
            f"Run `{run_id}`, {kind}{supplies}:",
            "",
            f"![Run {run_id}: req/s as a ratio of the best plain FastAPI route](../bench/results/{svg.name})",
            "",
        ]
    return lines


def write(results: Path) -> Path:
    documents = _load(results)
    throughput = [d for d in documents if d.get("kind") == "throughput"]
    memory = [d for d in documents if d.get("kind") == "memory"]
    # The newest run that measured each database x workload supplies that table; a run limited
    # to some contenders only where no run measured the whole field.
    tables: dict[tuple[str, str], dict[str, Any]] = {}
    for data in sorted(throughput, key=lambda d: (not _partial(d), d["id"])):
        for run in data["runs"]:
            tables[(run["database"], run["workload"])] = data
    for data in throughput:  # a database whose every contender was skipped still gets its tables
        for database in data["databases"]:
            if database in data["skipped"] and not any(r["database"] == database for r in data["runs"]):
                for workload in data["workloads"]:
                    tables.setdefault((database, workload), data)
    behind = sorted({d["id"]: d for d in tables.values()}.values(), key=lambda d: d["id"])
    sources = behind or throughput or memory
    lines = _header(sources) if sources else ["# Benchmarks", "", "No results yet.", ""]
    if OBSERVATIONS.exists():
        lines += [OBSERVATIONS.read_text().strip(), ""]
    if throughput:
        lines += _charts(results, throughput, tables)
    lines += ["## Results", ""]
    for database in DATABASE_NAMES:
        for workload in WORKLOADS:
            if (database, workload) in tables:
                lines += _table(tables[(database, workload)], database, workload)
    if memory:
        lines += _memory(memory[-1])
    lines += _how_to_run()
    DOCS.write_text("\n".join(lines))
    return DOCS
