"""Deep pages (issue 4): page k of a 500,000-row table by keyset cursor vs by ``offset``.

    python -m bench.deep_pages                    # SQLite and PostgreSQL, 30 requests per point
    python -m bench.deep_pages --quick            # 10 requests per point
    python -m bench.deep_pages --database sqlite --contender ormgate-sa-async

The cursor of page k is the one ormgate issues after the last row of page
k - 1: that row is fetched through the API (``?limit=1&offset=...``) and the
cursor minted by ormgate's own ``QueryParser.next_cursor`` (cursors are signed
with the ORMGATE_SECRET_KEY the server is given). ``--walk`` instead follows ``next_cursor`` from page 1
to page 5,000. Either way each cursor page is checked to hold exactly the rows
the same ``offset`` page holds.
Then every point is measured N times, cursor and offset requests alternating,
one keep-alive connection, and the median client-side latency is reported.
Writes docs/deep-pages.md and bench/results/<id>-deep-pages.json.
"""

# ruff: noqa: RUF001  (the multiplication sign, dashes and minus are the typography of the tables)

from __future__ import annotations

import argparse
import http.client
import json
import shlex
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

if __package__ in (None, ""):  # `python bench/deep_pages.py` as well as `python -m bench.deep_pages`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "bench"

from . import seed, server
from .contenders import CONTENDERS, ORMGATE

DB_NAME = "ormgate_bench_deep"
PAGES = (1, 10, 100, 1_000, 5_000)
LIMIT = 100
SORTS = ("id", "-created_at")
RESULTS = Path(__file__).resolve().parent / "results"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "deep-pages.md"
# Hand-written reading of the latest results, placed after the tables.
OBSERVATIONS = Path(__file__).resolve().parent / "observations-deep-pages.md"


class Client:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)

    def get(self, path: str) -> tuple[float, dict[str, Any]]:
        start = time.perf_counter()
        self.conn.request("GET", path)
        response = self.conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise RuntimeError(f"GET {path} -> {response.status}: {body[:200]!r}")
        data: dict[str, Any] = json.loads(body)
        return elapsed, data


def _path(sort: str, *, cursor: str | None = None, offset: int | None = None, limit: int = LIMIT) -> str:
    path = f"/users?limit={limit}&sort={quote(sort)}"
    if cursor is not None:
        path += f"&cursor={quote(cursor)}"
    if offset is not None:
        path += f"&offset={offset}"
    return path


def walk(client: Client, sort: str) -> tuple[dict[int, str | None], float]:
    """The cursor that fetches each page in PAGES (None for page 1), and the seconds the walk took."""
    cursors: dict[int, str | None] = {1: None}
    cursor: str | None = None
    start = time.perf_counter()
    for page in range(1, max(PAGES)):
        _, data = client.get(_path(sort, cursor=cursor))
        cursor = data["next_cursor"]
        if cursor is None:
            raise RuntimeError(f"the list ended at page {page}: is the table seeded with {max(PAGES) * LIMIT} rows?")
        if page + 1 in PAGES:
            cursors[page + 1] = cursor
    return cursors, time.perf_counter() - start


def mint(client: Client, sort: str, key: str) -> tuple[dict[int, str | None], float]:
    """The cursor of each page in PAGES, minted after the last row of the page before it."""
    import sqlalchemy as sa

    import ormgate
    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

    from .apps.sa_models import User

    # Any ORM's resource over the users table signs cursors alike, given the server's key.
    adapter = SQLAlchemyAdapter(sa.create_engine("sqlite://"))
    parser = ormgate.Resource(User, adapter, path="/users", cursor_key=key).query
    query = parser.parse([("limit", str(LIMIT)), ("sort", sort)])
    cursors: dict[int, str | None] = {1: None}
    start = time.perf_counter()
    for page in PAGES[1:]:
        _, data = client.get(_path(sort, offset=(page - 1) * LIMIT - 1, limit=1))
        cursors[page] = parser.next_cursor(query, data["items"][0])
    return cursors, time.perf_counter() - start


def measure(client: Client, sort: str, cursors: dict[int, str | None], samples: int) -> list[dict[str, Any]]:
    points = []
    for page in PAGES:
        by_cursor = _path(sort, cursor=cursors[page])
        by_offset = _path(sort, offset=(page - 1) * LIMIT)
        _, a = client.get(by_cursor)
        _, b = client.get(by_offset)
        if [r["id"] for r in a["items"]] != [r["id"] for r in b["items"]]:
            raise RuntimeError(f"page {page} by cursor and by offset differ (sort={sort})")
        times: dict[str, list[float]] = {"cursor": [], "offset": []}
        for _ in range(samples):
            times["cursor"].append(client.get(by_cursor)[0])
            times["offset"].append(client.get(by_offset)[0])
        points.append(
            {
                "page": page,
                "first_id": a["items"][0]["id"],
                **{f"{k}_ms": statistics.median(v) * 1000 for k, v in times.items()},
                **{f"{k}_p90_ms": sorted(v)[int(len(v) * 0.9) - 1] * 1000 for k, v in times.items()},
            }
        )
        print(
            f"  sort={sort:12} page {page:5}: cursor {points[-1]['cursor_ms']:8.2f} ms"
            f"   offset {points[-1]['offset_ms']:8.2f} ms",
            flush=True,
        )
    return points


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = datetime.now(UTC)
    results: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    contender = CONTENDERS[args.contender]
    for database in args.database:
        reason = seed.check(database, DB_NAME)
        if reason is not None:
            skipped[database] = reason
            print(f"[{database}] skipped: {reason}")
            continue
        t0 = time.perf_counter()
        seed.seed(database, DB_NAME, args.rows)
        seeded = time.perf_counter() - t0
        print(f"[{database}] seeded {args.rows:,} rows in {seeded:.1f} s", flush=True)
        env = server.app_env(database, DB_NAME, 10)
        why = server.probe(contender.module, env)
        if why is not None:
            skipped[database] = f"{contender.name}: {why}"
            continue
        with server.serve(contender.module, env) as srv:
            client = Client(srv.url)
            for sort in SORTS:
                cursors, took = walk(client, sort) if args.walk else mint(client, sort, env["ORMGATE_SECRET_KEY"])
                if args.walk:
                    print(f"[{database}] sort={sort}: walked {max(PAGES):,} pages in {took:.1f} s", flush=True)
                results.append(
                    {
                        "database": database,
                        "sort": sort,
                        "walk_s": took if args.walk else None,
                        "seed_s": seeded,
                        "points": measure(client, sort, cursors, args.samples),
                    }
                )
    return {
        "kind": "deep_pages",
        "id": started.strftime("%Y%m%dT%H%M%SZ") + "-deep-pages",
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench.deep_pages " + shlex.join(sys.argv[1:]),
        "contender": contender.name,
        "rows": args.rows,
        "samples": args.samples,
        "walked": args.walk,
        "skipped": skipped,
        "results": results,
    }


NAMES = {"sqlite": "SQLite (file, WAL)", "postgresql": "PostgreSQL", "mysql": "MariaDB"}


def write_docs(data: dict[str, Any]) -> None:
    lines = [
        "# Deep pages: keyset cursor vs offset",
        "",
        "<!-- Written by `python -m bench.deep_pages` from bench/results/*-deep-pages.json: do not edit by hand. -->",
        "",
        f"A `users` table of {data['rows']:,} rows (indexes on the primary key and on `created_at`), served by",
        f"`{data['contender']}` ({CONTENDERS[data['contender']].label}) under the same uvicorn settings as",
        f"[the benchmarks](benchmarks.md). Page *k* of `?limit={LIMIT}` is fetched two ways:",
        "",
        "- **cursor**: `?cursor=` set to the `next_cursor` of page *k − 1*: "
        + (
            "obtained by walking the list from page 1 through the API;"
            if data["walked"]
            else "minted by ormgate's `QueryParser.next_cursor` after the last row of page *k − 1* (fetched "
            "through the API), exactly the cursor the API would have returned there (`--walk` follows the "
            "cursors from page 1 instead);"
        ),
        "  ormgate turns it into a keyset condition (rows after the last one in the sort order), which should",
        "  let the database seek in an index and read 101 rows at any depth;",
        "- **offset**: `?offset=(k − 1) × 100`, which makes the database read and discard every earlier row.",
        "",
        "Both return the same rows (checked for every page). Latency is the median of "
        f"{data['samples']} requests per point, measured by the client on one keep-alive connection, cursor and",
        "offset requests alternating; the ratio column is offset ÷ cursor.",
        "",
        f"Run `{data['id']}`: `{data['command']}`.",
        "",
    ]
    for result in data["results"]:
        first = result["points"][0]
        lines += [
            f"## {NAMES[result['database']]}, `?sort={result['sort']}`",
            "",
            "| page | first row id | cursor, ms | offset, ms | offset ÷ cursor | cursor vs page 1 |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for p in result["points"]:
            lines.append(
                f"| {p['page']:,} | {p['first_id']:,} | {p['cursor_ms']:.2f} | {p['offset_ms']:.2f} "
                f"| {p['offset_ms'] / p['cursor_ms']:.1f}× | {p['cursor_ms'] / first['cursor_ms']:.2f}× |"
            )
        lines.append("")
        if result["walk_s"] is not None:
            lines += [f"Walking to page {max(PAGES):,} by cursor took {result['walk_s']:.1f} s.", ""]
    for database, why in data["skipped"].items():
        lines += [f"{NAMES[database]}: skipped, {why}", ""]
    if OBSERVATIONS.exists():
        lines += [OBSERVATIONS.read_text().strip(), ""]
    lines += [
        "Rerun with `.venv/bin/python -m bench.deep_pages` (one to two minutes per database: seeding 500,000",
        "rows, then the measurements; `--walk` adds two walks of 5,000 pages each).",
        "",
    ]
    DOCS.write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.deep_pages", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", action="append", choices=("sqlite", "postgresql", "mysql"))
    parser.add_argument("--contender", default="ormgate-sa-sync", choices=ORMGATE)
    parser.add_argument("--samples", type=int, help="requests per point; default 30 (--quick: 10)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--walk", action="store_true", help="obtain the cursors by walking from page 1")
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--report", action="store_true", help="only rewrite the page from the newest JSON")
    args = parser.parse_args()
    if args.report:
        newest = max(RESULTS.glob("*-deep-pages.json"), key=lambda path: path.name)
        write_docs(json.loads(newest.read_text()))
        return
    args.database = args.database or ["sqlite", "postgresql"]
    args.samples = args.samples or (10 if args.quick else 30)
    if args.rows < max(PAGES) * LIMIT:
        parser.error(f"--rows must be at least {max(PAGES) * LIMIT:,} to have page {max(PAGES):,}")
    server.require_tools()
    data = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{data['id']}.json"
    path.write_text(json.dumps(data, indent=1) + "\n")
    write_docs(data)
    print(f"wrote {path.relative_to(server.ROOT)} and {DOCS.relative_to(server.ROOT)}")


if __name__ == "__main__":
    main()
