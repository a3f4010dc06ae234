"""An app that made its adapter closes its connections at shutdown, on every ORM and database server.

Left open, every app made in one process (a test suite, a reload) kept its pool's idle
connections until the process ended: the suite's apps once held more than the shared
PostgreSQL server's 100 connections and failed whichever test connected next.
"""

from __future__ import annotations

import importlib
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.conformance.sa_pairs import fresh_database
from tests.conformance.test_django_connections import SESSIONS
from tests.databases import PAIRS, Pair

GONE_WITHIN = 5.0  # seconds; left open, a pool's idle connections stayed until the process ended
SERVERS = [
    pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)])
    for pair in PAIRS
    if pair.database in SESSIONS
]


@pytest.mark.parametrize("pair", SERVERS)
def test_the_users_service_closes_its_connections_at_shutdown(pair: Pair, tmp_path: Path) -> None:
    with fresh_database(pair, tmp_path, f"shutdown_{pair.orm}") as db:
        watcher = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
        app = importlib.import_module(f"ormgate.demo.{pair.orm}_app").create_app(db.url(pair.scheme))
        # One connection, which counts the others; in autocommit: each count a fresh snapshot.
        with watcher.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            with TestClient(app) as client, ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: client.get("/users?limit=5").status_code, range(40)))
                assert answers == [200] * 40
                assert SESSIONS[pair.database](conn) >= 1
            # A closed connection's server process may be listed a moment longer: gone within seconds.
            deadline = time.monotonic() + GONE_WITHIN
            while SESSIONS[pair.database](conn) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert SESSIONS[pair.database](conn) == 0
        watcher.dispose()
