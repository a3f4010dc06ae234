"""Every SQLite connection an adapter uses has ormgate's settings, even one opened before the adapter existed.

The natural start is ``Base.metadata.create_all(engine)`` (or a query, a
Peewee ``create_tables``) before the app is built: the engine's pool then keeps
connections that never saw the adapter's set-up. On them, orphan foreign keys
were accepted, ``contains`` ignored case and ``icontains`` missed "Ärger".
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playhouse.pool import PooledSqliteDatabase
from sqlalchemy.ext.asyncio import AsyncEngine

from ormgate.demo.common import new_app
from ormgate.demo.sqlalchemy_app import create_engine
from tests import databases
from tests.conformance.models import contract_app
from tests.conformance.sa_pairs import fresh_database
from tests.databases import PAIRS, Pair


def _sqlalchemy(db: databases.TestDatabase, pair: Pair) -> FastAPI:
    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
    from tests.conformance.models.sqlalchemy import Base, Category, Ghost, Item

    engine = create_engine(db.url(pair.scheme))
    tables = [Base.metadata.tables[name] for name in ("categories", "items")]

    def use(conn: sa.Connection) -> None:
        Base.metadata.create_all(conn, tables=tables)
        conn.execute(sa.select(sa.func.count()).select_from(Item))

    if isinstance(engine, AsyncEngine):

        async def use_async() -> None:
            async with engine.begin() as conn:
                await conn.run_sync(use)

        asyncio.run(use_async())
    else:
        with engine.begin() as conn:
            use(conn)
    pool = engine.pool
    assert isinstance(pool, sa.QueuePool)
    assert pool.checkedin() == 1  # the pool keeps the connection used
    return contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)


def _peewee(db: databases.TestDatabase, pair: Pair) -> FastAPI:
    from ormgate.adapters.peewee import PeeweeAdapter
    from tests.conformance.models.peewee import Category, Ghost, Item

    # A Database made by hand, as the Peewee docs show: no pragmas, a pool.
    database = PooledSqliteDatabase(str(db.path), check_same_thread=False, max_connections=None)
    with database.bind_ctx([Category, Item]), database.connection_context():
        database.create_tables([Category, Item])
        Item.select().count()
    assert len(database._connections) == 1  # the pool keeps the connection used
    return contract_app("peewee", PeeweeAdapter(database), Category, Item, Ghost)


def _django(db: databases.TestDatabase, pair: Pair) -> FastAPI:
    from django.db import connections
    from django.db.backends.signals import connection_created

    import ormgate
    from ormgate.adapters import _threaded
    from ormgate.adapters._dj_connections import _prepare
    from ormgate.adapters.django import DjangoAdapter, configure
    from tests.conformance.models.django import Category, Ghost, Item

    alias = configure(db.url(pair.scheme))
    adapter = DjangoAdapter(alias)
    # Connections are per thread: one opened on every thread of ormgate's pool, so that the
    # requests find one whichever thread they run on (the barrier keeps each on a thread of its own).
    workers = _threaded._pool._max_workers
    barrier = threading.Barrier(workers, timeout=60)

    def open_connection() -> None:
        connections[alias].ensure_connection()
        barrier.wait()

    async def startup() -> None:
        # As though opened before ormgate's module was imported: without its connection_created receiver.
        connection_created.disconnect(dispatch_uid="ormgate.adapters.django")
        try:
            await asyncio.gather(*(_threaded.run_sync(open_connection) for _ in range(workers)))
        finally:
            connection_created.connect(_prepare, dispatch_uid="ormgate.adapters.django")
        await adapter.create_tables([Category, Item])

    app = new_app("django", startup)
    for model in (Category, Item, Ghost):
        ormgate.Resource(model, adapter).install(app)
    return app


FACTORIES: dict[str, Callable[[databases.TestDatabase, Pair], FastAPI]] = {
    "sqlalchemy": _sqlalchemy,
    "peewee": _peewee,
    "django": _django,
}


@pytest.fixture(
    params=[
        pytest.param(pair, id=pair.id, marks=[pytest.mark.sqlite, getattr(pytest.mark, pair.orm)])
        for pair in PAIRS
        if pair.database == "sqlite"
    ]
)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, Path]]:
    pair: Pair = request.param
    with fresh_database(pair, tmp_path, f"{pair.orm}_preused") as db:
        app = FACTORIES[pair.orm](db, pair)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, db.path


@pytest.fixture
def client(served: tuple[TestClient, Path]) -> TestClient:
    return served[0]


def _names(client: TestClient, query: str) -> list[str]:
    response = client.get(f"/items?{query}")
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["items"]]


def test_connections_used_before_the_adapter_get_its_settings(client: TestClient) -> None:
    orphan = client.post("/items", json={"name": "orphan", "category_id": 424242})
    assert orphan.status_code == 409, orphan.text
    category = client.post("/categories", json={"name": "tools"}).json()
    assert client.post("/items", json={"name": "Ärger Box", "category_id": category["id"]}).status_code == 201

    assert _names(client, "name__contains=box") == []  # case-sensitive, as on PostgreSQL and MariaDB
    assert _names(client, "name__contains=Box") == ["Ärger Box"]
    assert _names(client, "name__icontains=ä") == ["Ärger Box"]  # Unicode case folding
    assert _names(client, "name__istartswith=ÄRGER") == ["Ärger Box"]
    counted = client.get("/items?name__icontains=ä&count=true").json()
    assert counted["total"] == 1
    assert client.delete(f"/categories/{category['id']}").status_code == 409  # still referenced


def test_a_reader_does_not_wait_for_a_writer(served: tuple[TestClient, Path]) -> None:
    # WAL on every ORM: a read takes no lock a writer holds, so it never waits for one, nor
    # fails with "database is locked" while another process commits. Django's backend left
    # the file in rollback-journal mode, where a writer's EXCLUSIVE lock stops every reader.
    client, path = served
    category = client.post("/categories", json={"name": "tools"})
    assert category.status_code == 201, category.text
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("UPDATE categories SET name = 'held' WHERE id = ?", (category.json()["id"],))
        start = time.perf_counter()
        read = client.get(f"/categories/{category.json()['id']}")
        listed = client.get("/categories?count=true")
        seconds = time.perf_counter() - start
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert (read.status_code, listed.status_code) == (200, 200), (read.text, listed.text)
    assert read.json()["name"] == "tools"  # the last committed value
    assert seconds < 2.0  # no wait for the busy timeout (5 s)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
def test_an_engine_whose_pool_takes_a_disposed_pools_place_gets_the_settings(tmp_path: Path) -> None:
    # SQLAlchemy's event registry names a listener's target by id(), and keeps a disposed pool's
    # entries (its replacement inherits the listeners). An app that disposed its engine (every
    # app ormgate's demo makes, at shutdown) left them behind; a pool made later at the freed
    # address looked prepared already, and its connections never got ormgate's settings: no WAL,
    # so a reader waited for a writer and answered 503 (seen in CI), nor foreign keys.
    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
    from tests.conformance.models.sqlalchemy import Category, Ghost, Item

    path = tmp_path / "second.sqlite3"

    def connect() -> Any:  # a DBAPI connection (typeshed and SQLAlchemy disagree on its type)
        return sqlite3.connect(path, check_same_thread=False)

    def pool_where_a_disposed_one_was() -> sa.QueuePool | None:
        first = sa.create_engine(f"sqlite:///{tmp_path / 'first.sqlite3'}")
        SQLAlchemyAdapter(first)
        disposed = first.pool
        address = id(disposed)
        first.dispose()
        del disposed  # freed here: the next object of its size usually takes its place
        pool = sa.QueuePool(connect)
        return pool if id(pool) == address else None

    # Another thread (xdist's) may take the freed block first: a few tries.
    pool = next(filter(None, (pool_where_a_disposed_one_was() for _ in range(100))), None)
    assert pool is not None, "CPython reused no disposed pool's address in 100 tries"
    engine = sa.create_engine(f"sqlite:///{path}", pool=pool)
    app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)
    with TestClient(app, raise_server_exceptions=False) as client:
        orphan = client.post("/items", json={"name": "orphan", "category_id": 424242})
        assert orphan.status_code == 409, orphan.text  # foreign keys enforced
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
