"""``If-Match`` on SQLAlchemy + SQLite is atomic across processes: a write unit takes the write lock first.

SQLite has no row locks (``FOR UPDATE`` is dropped) and pysqlite begins no
transaction before a SELECT: a write from another process landed between the
check of the ETag and the UPDATE, and was overwritten. Process A here pauses
right after its check (an ``after_cursor_execute`` listener) until the test lets
it go; nothing is timed.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from examples.users.sqlalchemy_app import create_engine
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from tests.conformance.models import contract_app
from tests.conformance.models.sqlalchemy import Category, Ghost, Item
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair

WAIT = 120  # seconds: only a bound on a hang, never an expectation


def _app(url: str) -> tuple[TestClient, sa.Engine]:
    # A generous busy timeout: a writer waits for the lock rather than failing.
    engine: Any = create_engine(url) if "aiosqlite" in url else sa.create_engine(url, connect_args={"timeout": WAIT})
    client = TestClient(contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost))
    return client, engine.sync_engine if isinstance(engine, AsyncEngine) else engine


def _paused_put(url: str, pk: int, etag: str, checked: Any, go: Any, results: Any) -> None:
    """Process A: PUT with If-Match, pausing after the SELECT that reads the row for the check."""
    client, engine = _app(url)
    with client:

        def pause(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT") and not checked.is_set():
                checked.set()
                go.wait(WAIT)

        sa.event.listen(engine, "after_cursor_execute", pause)
        response = client.put(f"/items/{pk}", json={"name": "from A"}, headers={"If-Match": etag})
        results.put(response.status_code)


class _ProcessA:
    def __init__(self, url: str, pk: int, etag: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.checked = context.Event()
        self.go = context.Event()
        self.results = context.Queue()
        self.process = context.Process(target=_paused_put, args=(url, pk, etag, self.checked, self.go, self.results))
        self.process.start()

    def finish(self) -> int:
        self.go.set()
        status: int = self.results.get(timeout=WAIT)
        self.process.join(WAIT)
        return status


@pytest.fixture(params=pair_params(database="sqlite"))
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine, str, Path]]:
    pair: Pair = request.param
    with fresh_database(pair, tmp_path, "sqlalchemy_if_match") as db:
        client, engine = _app(db.url(pair.scheme))
        with client:
            yield client, engine, db.url(pair.scheme), db.path


def _item(client: TestClient) -> tuple[int, str]:
    created = client.post("/items", json={"name": "start"})
    assert created.status_code == 201, created.text
    return created.json()["id"], created.headers["etag"]


def test_no_write_lands_between_the_check_and_the_update(served: tuple[TestClient, sa.Engine, str, Path]) -> None:
    client, _, url, path = served
    pk, etag = _item(client)
    a = _ProcessA(url, pk, etag)
    try:
        assert a.checked.wait(WAIT), "process A never read the row"
        # Another process writes the row while A is between its check and its UPDATE.
        other = sqlite3.connect(path, timeout=0)
        try:
            with pytest.raises(sqlite3.OperationalError, match="database is locked"):
                other.execute("UPDATE items SET description = 'from another process' WHERE id = ?", (pk,))
        finally:
            other.close()  # uncommitted, had it landed: A would otherwise wait for it
    finally:
        status = a.finish()
    assert status == 200
    assert client.get(f"/items/{pk}").json()["name"] == "from A"


def test_two_processes_with_the_same_etag_one_wins(served: tuple[TestClient, sa.Engine, str, Path]) -> None:
    client, engine, url, _ = served
    pk, etag = _item(client)
    a = _ProcessA(url, pk, etag)
    b_started = threading.Event()
    b_status: list[int] = []

    def started(*args: Any) -> None:
        b_started.set()

    def put_b() -> None:
        response = client.put(f"/items/{pk}", json={"name": "from B"}, headers={"If-Match": etag})
        b_status.append(response.status_code)

    try:
        assert a.checked.wait(WAIT), "process A never read the row"
        sa.event.listen(engine, "before_cursor_execute", started)
        b = threading.Thread(target=put_b)
        b.start()
        assert b_started.wait(WAIT), "B never reached the database"
    finally:
        status = a.finish()
    b.join(WAIT)
    sa.event.remove(engine, "before_cursor_execute", started)
    assert (status, b_status) == (200, [412])
    assert client.get(f"/items/{pk}").json()["name"] == "from A"
