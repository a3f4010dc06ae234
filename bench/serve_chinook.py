"""``ormgate serve`` beside the same routes written by hand (FastAPI + raw driver), on Chinook.

``python -m bench.serve_chinook [--quick] [--database sqlite|postgresql|mysql ...]``: loads
Chinook (../shared/data/chinook, or ORMGATE_CHINOOK) into database ``ormgate_bench_chinook``,
then runs ``GET /Track/{id}`` (a random id) and ``GET /Track?limit=100`` against each
contender under one uvicorn worker on core 0, wrk on core 1, as ``bench.run`` does. Prints
requests per second, p50 and p99 and the ratio serve / hand-written; writes the runs to
bench/results/<id>-serve.json. ``make bench`` runs it after ``bench.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import seed, server

NAME = "ormgate_bench_chinook"
DATA = Path(os.environ.get("ORMGATE_CHINOOK", Path(__file__).resolve().parents[2] / "shared" / "data" / "chinook"))
if not DATA.exists():
    DATA = Path("/work/shared/data/chinook")
RESULTS = Path(__file__).resolve().parent / "results"
CONTENDERS = {"serve": "serve_chinook", "fastapi-raw": "chinook_raw"}
WORKLOADS = {"track-get": "track_get.lua", "track-list100": "track_list.lua"}


def _statements(script: str) -> list[str]:
    """The script's statements, without its DROP/CREATE DATABASE and connection switch."""
    kept = []
    for statement in script.split(";\n"):
        lines = [line for line in statement.splitlines() if line.strip() and not line.startswith("--")]
        text = re.sub(r"/\*.*?\*/", "", "\n".join(lines), flags=re.S).strip()
        if text and not re.match(r"(DROP|CREATE) DATABASE|\\c |USE ", text, re.I):
            kept.append(text)
    return kept


def load(database: str) -> None:
    """Chinook, afresh, in database ``ormgate_bench_chinook`` (a file in bench/.data on SQLite)."""
    if database == "sqlite":
        target = seed.sqlite_file(NAME)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(DATA / "Chinook_Sqlite.sqlite", target)
        target.chmod(0o644)
        return
    script = "Chinook_PostgreSql.sql" if database == "postgresql" else "Chinook_MySql.sql"
    statements = _statements((DATA / script).read_text(encoding="utf-8-sig"))
    if database == "postgresql":
        with seed._pg("postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{NAME}"')
        with seed._pg(NAME) as conn:
            for statement in statements:
                conn.execute(statement.replace("%", "%%"))
            conn.execute("ANALYZE")
        return
    conn = seed._mysql(None)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{NAME}`")
        cursor.execute(f"CREATE DATABASE `{NAME}` CHARACTER SET utf8mb4")
        cursor.execute(f"USE `{NAME}`")
        for statement in statements:
            cursor.execute(statement)
    conn.close()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.serve_chinook", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s runs, 1 s warm-up, 2 rounds")
    parser.add_argument("--database", action="append", choices=("sqlite", "postgresql", "mysql"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pool-size", type=int, default=10)
    # bench.run's other options (make bench passes BENCH_ARGS to both) are not this benchmark's.
    args, _ = parser.parse_known_args(argv)
    args.database = list(dict.fromkeys(args.database or ["sqlite"]))
    args.rounds, args.duration, args.warmup = (2, 3.0, 1.0) if args.quick else (3, 10.0, 2.0)
    return args


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    for database in args.database:
        reason = seed.check(database, NAME)
        if reason is not None:
            skipped[database] = reason
            print(f"[{database}] skipped: {reason}", flush=True)
            continue
        load(database)
        env = {**server.app_env(database, "ormgate_bench", args.pool_size), "BENCH_CHINOOK": NAME}
        track = "/track" if database == "postgresql" else "/Track"
        for round_ in range(args.rounds):
            order = list(CONTENDERS.items())
            for name, module in order[round_ % 2 :] + order[: round_ % 2]:
                with server.serve(module, env, ready_path=f"{track}/1") as srv:
                    for workload, script in WORKLOADS.items():
                        extra = {"BENCH_TRACK_PATH": track}
                        server.wait_quiet(20)
                        server.wrk(srv.url, script, args.warmup, connections=args.connections, extra_env=extra)
                        result = server.wrk(
                            srv.url, script, args.duration, connections=args.connections, extra_env=extra
                        )
                        seconds = result["duration_us"] / 1e6 or args.duration
                        row = {
                            "database": database,
                            "contender": name,
                            "workload": workload,
                            "round": round_,
                            "rps": result["requests"] / seconds,
                            "p50_ms": result["p50_us"] / 1000,
                            "p99_ms": result["p99_us"] / 1000,
                            "non2xx": int(result["non2xx"]),
                            "load": os.getloadavg()[0],
                        }
                        runs.append(row)
                        print(
                            f"[{database} r{round_ + 1}] {name:12} {workload:14} {row['rps']:8.0f} req/s"
                            f"  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms  non-2xx {row['non2xx']}"
                            f"  load {row['load']:.1f}",
                            flush=True,
                        )
    return {"kind": "serve", "settings": vars(args), "skipped": skipped, "runs": runs}


def summary(result: dict[str, Any]) -> str:
    """Median req/s and p99 per contender, and serve's req/s as a ratio of the hand-written routes'."""
    lines = ["| database | workload | serve req/s | hand-written req/s | ratio | serve p99 ms | hand-written p99 ms |"]
    lines.append("|---|---|---|---|---|---|---|")
    for database in result["settings"]["database"]:
        for workload in WORKLOADS:
            cells: dict[str, tuple[float, float]] = {}
            for contender in CONTENDERS:
                mine = [
                    r
                    for r in result["runs"]
                    if (r["database"], r["workload"], r["contender"]) == (database, workload, contender)
                ]
                if mine:
                    cells[contender] = (
                        statistics.median(r["rps"] for r in mine),
                        statistics.median(r["p99_ms"] for r in mine),
                    )
            if len(cells) == 2:
                (s_rps, s_p99), (h_rps, h_p99) = cells["serve"], cells["fastapi-raw"]
                numbers = f"{s_rps:,.0f} | {h_rps:,.0f} | {s_rps / h_rps:.2f} | {s_p99:.2f} | {h_p99:.2f}"
                lines.append(f"| {database} | {workload} | {numbers} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    server.require_tools()
    args = parse_args(argv)
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = run(args)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{started}-serve.json").write_text(json.dumps(result, indent=1))
    print(summary(result))


if __name__ == "__main__":
    main(sys.argv[1:])
