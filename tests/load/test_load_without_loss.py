"""Load without loss: many clients write through several worker processes while the database fails under them.

Per ORM (SQLAlchemy sync on psycopg, SQLAlchemy async on asyncpg, Django, Peewee):

- PostgreSQL, 3 uvicorn workers, on a server this test starts itself (its own port and
  directory): ``CLIENTS`` clients create, PATCH with ``If-Match`` and delete users for
  ``PG_SECONDS`` while the test ends every session on the database twice and restarts the
  server once.
- SQLite, 2 workers writing one file, ``SQLITE_SECONDS`` of the same load, no fault.

Then the database is checked against the clients' log of acknowledged operations
(tests/load/verdict.py): nothing lost, nothing phantom, one winner per contested version,
no 500, a 503 only during an outage; recovery time and the workers' memory are reported.
Loopback only; it stops by itself in a few minutes. ``ORMGATE_LOAD_REPORT=file`` appends
each run's figures to ``file`` as one JSON line.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import NOT_TESTED
from tests.databases import REQUIRED
from tests.load import cluster
from tests.load.clients import Log, run_clients
from tests.load.verdict import Outage, Verdict, judge
from tests.load.workers import Workers, create_tables, serve

pytestmark = [pytest.mark.load, pytest.mark.xdist_group("load")]

CLIENTS = 32
PG_WORKERS = 3
SQLITE_WORKERS = 2
PG_SECONDS = 20.0
SQLITE_SECONDS = 12.0
# Seconds into the load: end every session, restart the server (down for RESTART_DOWN s), end every session.
TERMINATE_AT = (4.0, 14.0)
RESTART_AT = 8.0
RESTART_DOWN = 1.5
SHOWN = 10  # problems shown of each kind

# (id, ORM, PostgreSQL scheme, SQLite scheme)
VARIANTS = [
    ("sqlalchemy", "sqlalchemy", "postgresql+psycopg", "sqlite"),
    ("sqlalchemy-async", "sqlalchemy", "postgresql+asyncpg", "sqlite+aiosqlite"),
    ("django", "django", "postgresql+psycopg", "sqlite"),
    ("peewee", "peewee", "postgresql+psycopg", "sqlite"),
]


def _variants(database: str) -> list[Any]:
    column = 2 if database == "postgresql" else 3
    return [
        pytest.param(variant[1], variant[column], id=variant[0], marks=[getattr(pytest.mark, variant[1])])
        for variant in VARIANTS
    ]


@pytest.fixture(autouse=True)
def alone() -> Iterator[None]:
    """One load test at a time on this machine, whichever pytest worker runs it: each needs the CPUs."""
    with open(Path(tempfile.gettempdir()) / "ormgate-load.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def server() -> Iterator[cluster.Cluster]:
    """A PostgreSQL server of this module's own, removed at the end."""
    bin_dir = cluster.binaries()
    if bin_dir is None:
        why = f"no PostgreSQL server binaries (pg_ctl) in {', '.join(cluster.BINARIES)} or ORMGATE_TEST_PG_BIN"
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires them")
        pytest.skip(NOT_TESTED + why)
    with cluster.cluster(bin_dir) as started:
        yield started


def _report(name: str, verdict: Verdict, rss: tuple[dict[int, int], dict[int, int]], seconds: float) -> None:
    figures = {
        "test": name,
        **verdict.figures,
        "load s": seconds,
        "worker RSS MiB start": [round(kib / 1024) for kib in rss[0].values()],
        "worker RSS MiB end": [round(kib / 1024) for kib in rss[1].values()],
        "problems": {kind: lines[:SHOWN] for kind, lines in verdict.problems().items()},
    }
    print(f"\n{name}: {json.dumps(figures)}")
    if os.environ.get("ORMGATE_LOAD_REPORT"):
        with open(os.environ["ORMGATE_LOAD_REPORT"], "a") as out:
            out.write(json.dumps(figures) + "\n")


def _assert_sound(verdict: Verdict, workers: Workers, pids: list[int], server_log: str = "") -> None:
    problems = verdict.problems()
    if workers.pids() != pids:
        problems["workers"] = [f"the workers changed: {pids} at the start, {workers.pids()} at the end"]
    if not problems:
        return
    report = [", ".join(f"{len(lines)} {kind}" for kind, lines in problems.items())]
    for kind, lines in problems.items():
        report += [f"\n{kind} ({len(lines)}):", *lines[:SHOWN]]
        report += [f"... and {len(lines) - SHOWN} more"] if len(lines) > SHOWN else []
    # The workers' log: each distinct error line (and 503 with its cause), with how often it came.
    lines = workers.log().splitlines()
    errors = Counter(line for line in lines if line.startswith("503 ") or ("Error" in line and line[:1] != " "))
    report += ["\nerrors in the workers' log:", *(f"{n} x {line}" for line, n in errors.most_common(20))]
    if server_log:
        report += ["\nPostgreSQL's log (end):", server_log[-2000:]]
    pytest.fail("\n".join(report), pytrace=False)


async def _outages(server: cluster.Cluster, name: str, started: float) -> list[Outage]:
    """End every session on ``name``, restart the server, end every session again, on schedule."""
    outages = []
    schedule = sorted([(at, "terminate") for at in TERMINATE_AT] + [(RESTART_AT, "restart")])
    for at, kind in schedule:
        await asyncio.sleep(max(0.0, started + at - time.monotonic()))
        start = time.monotonic()
        if kind == "terminate":
            sessions = await asyncio.to_thread(server.terminate, name)
            outages.append(Outage(kind, start, time.monotonic(), sessions))
        else:
            await asyncio.to_thread(server.stop, "fast")
            await asyncio.sleep(RESTART_DOWN)
            await asyncio.to_thread(server.start)
            outages.append(Outage(kind, start, time.monotonic()))
    return outages


async def _load_with_outages(server: cluster.Cluster, name: str, url: str, log: Log) -> list[Outage]:
    log.started = time.monotonic()
    outages, _ = await asyncio.gather(_outages(server, name, log.started), run_clients(url, CLIENTS, PG_SECONDS, log))
    return outages


@pytest.mark.postgresql
@pytest.mark.parametrize(("orm", "scheme"), _variants("postgresql"))
def test_load_without_loss_on_postgresql(server: cluster.Cluster, orm: str, scheme: str, tmp_path: Path) -> None:
    name = f"load_{orm}_{uuid.uuid4().hex[:6]}"
    server.create_database(name)
    create_tables(orm, server.url(scheme, name))
    log = Log()
    with serve(orm, server.url(scheme, name), PG_WORKERS, tmp_path / "workers.log") as workers:
        pids, rss_start = workers.pids(), workers.rss()
        outages = asyncio.run(_load_with_outages(server, name, workers.url, log))
        rss_end = workers.rss()
        with server.connect(name) as conn:
            rows = conn.execute("SELECT username, id, email FROM users").fetchall()
        stored = {str(username): (int(id_), str(email)) for username, id_, email in rows}  # type: ignore[call-overload]
        verdict = judge(log, stored, outages)
        _report(f"postgresql {scheme} {orm}", verdict, (rss_start, rss_end), PG_SECONDS)
        _assert_sound(verdict, workers, pids, server.log())


@pytest.mark.sqlite
@pytest.mark.parametrize(("orm", "scheme"), _variants("sqlite"))
def test_load_without_loss_on_sqlite(orm: str, scheme: str, tmp_path: Path) -> None:
    path = tmp_path / "users.sqlite3"
    create_tables(orm, f"{scheme}:///{path}")
    log = Log()
    with serve(orm, f"{scheme}:///{path}", SQLITE_WORKERS, tmp_path / "workers.log") as workers:
        pids, rss_start = workers.pids(), workers.rss()
        log.started = time.monotonic()
        asyncio.run(run_clients(workers.url, CLIENTS, SQLITE_SECONDS, log))
        rss_end = workers.rss()
        with contextlib.closing(sqlite3.connect(path)) as conn:
            stored = {name: (id_, email) for name, id_, email in conn.execute("SELECT username, id, email FROM users")}
        verdict = judge(log, stored, [])
        _report(f"sqlite {scheme} {orm}", verdict, (rss_start, rss_end), SQLITE_SECONDS)
        _assert_sound(verdict, workers, pids)
