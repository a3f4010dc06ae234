"""``If-Match`` on SQLite is atomic across processes: a write unit takes the write lock first.

SQLite has no row locks (``FOR UPDATE`` is dropped) and pysqlite begins no
transaction before a SELECT: on SQLAlchemy a write from another process landed
between the check of the ETag and the UPDATE, and was overwritten. Process A
here pauses right after its check (its store's ``_lock`` wrapped) until the
test lets it go; nothing is timed. On every ORM's SQLite pair; Django and Peewee
begin their writes IMMEDIATE already.
"""

from __future__ import annotations

import importlib
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

from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.models import contract_app
from tests.conformance.models.sqlalchemy import Category, Ghost, Item
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair

WAIT = 120  # seconds: only a bound on a hang, never an expectation


def _app(orm: str, url: str) -> tuple[TestClient, sa.Engine | None]:
    """The conformance app, and for SQLAlchemy its engine, its busy timeout generous."""
    if orm != "sqlalchemy":
        return TestClient(importlib.import_module(f"tests.conformance.models.{orm}").create_app(url)), None
    engine: Any = create_engine(url) if "aiosqlite" in url else sa.create_engine(url, connect_args={"timeout": WAIT})
    client = TestClient(contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost))
    return client, engine.sync_engine if isinstance(engine, AsyncEngine) else engine


# Where each ORM's store reads the row and checks it, in the write's transaction.
_CHECKS = {
    "sqlalchemy": ("ormgate.adapters._sa_operations", "_Operations"),
    "django": ("ormgate.adapters.django", "_SyncStore"),
    "peewee": ("ormgate.adapters.peewee", "_SyncStore"),
}


def _paused_put(orm: str, url: str, pk: int, etag: str, checked: Any, go: Any, results: Any) -> None:
    """Process A: PUT with If-Match, pausing after the row was read and checked."""
    module, name = _CHECKS[orm]
    store = getattr(importlib.import_module(module), name)
    check = store._lock

    def paused(*args: Any) -> None:
        check(*args)
        checked.set()
        go.wait(WAIT)

    store._lock = paused
    client, _ = _app(orm, url)
    with client:
        response = client.put(f"/items/{pk}", json={"name": "from A"}, headers={"If-Match": etag})
        results.put(response.status_code)


class _ProcessA:
    def __init__(self, orm: str, url: str, pk: int, etag: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.checked = context.Event()
        self.go = context.Event()
        self.results = context.Queue()
        self.process = context.Process(
            target=_paused_put, args=(orm, url, pk, etag, self.checked, self.go, self.results)
        )
        self.process.start()

    def finish(self) -> int:
        self.go.set()
        status: int = self.results.get(timeout=WAIT)
        self.process.join(WAIT)
        return status


Served = tuple[Pair, TestClient, sa.Engine | None, str, Path]


def _serve(pair: Pair, tmp_path: Path) -> Iterator[Served]:
    with fresh_database(pair, tmp_path, f"{pair.orm}_if_match") as db:
        client, engine = _app(pair.orm, db.url(pair.scheme))
        with client:
            yield pair, client, engine, db.url(pair.scheme), db.path


@pytest.fixture(params=[param for orm in _CHECKS for param in pair_params(orm, database="sqlite")])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(request.param, tmp_path)


@pytest.fixture(params=pair_params(database="sqlite"))
def sqlalchemy_served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    yield from _serve(request.param, tmp_path)


def _item(client: TestClient) -> tuple[int, str]:
    created = client.post("/items", json={"name": "start"})
    assert created.status_code == 201, created.text
    return created.json()["id"], created.headers["etag"]


def test_no_write_lands_between_the_check_and_the_update(served: Served) -> None:
    pair, client, _, url, path = served
    pk, etag = _item(client)
    a = _ProcessA(pair.orm, url, pk, etag)
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


def test_two_sqlalchemy_processes_with_the_same_etag_one_wins(sqlalchemy_served: Served) -> None:
    # B's request is watched through its engine's events: SQLAlchemy's pairs.
    pair, client, engine, url, _ = sqlalchemy_served
    assert engine is not None
    pk, etag = _item(client)
    a = _ProcessA(pair.orm, url, pk, etag)
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
