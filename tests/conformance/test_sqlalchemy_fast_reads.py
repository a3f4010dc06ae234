"""SQLAlchemy's fast reads (straight on the driver's connection) answer exactly as the ``Connection`` path does.

A cursor-execute listener on the engine turns the fast path off, as it must for
OpenTelemetry and the like to see every statement: the same requests with and
without one give the same bodies, for every column type and every SQLAlchemy driver.
Every other reason for which ``_sa_fast.eligible`` keeps a read on the ``Connection``
has a test below, and two through HTTP: execution listeners see every read, and a
``schema_translate_map`` on PostgreSQL reads the tenant's schema.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ormgate.adapters._sa_fast import compile_read, eligible
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.sqlalchemy_app import create_engine
from tests import databases
from tests.conformance.asgi import get_beside_a_ping
from tests.conformance.models import contract_app
from tests.conformance.models.sqlalchemy import Base, Category, Ghost, Item
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.conftest import NOT_TESTED
from tests.databases import PAIRS, REQUIRED, Pair, unavailable

pytestmark = pytest.mark.sqlalchemy

ITEMS = [
    {
        "name": "lamp",
        "description": "a 'quoted' % value",
        "quantity": 3,
        "big": 2**40,
        "price": "12.50",
        "weight": 1.25,
        "active": False,
        "status": "published",
        "released": "2024-02-29",
        "starts_at": "08:30:00",
        "seen_at": "2024-03-01T10:11:12",
        "code": "6f1c5a9e-8a0b-4c3e-9d56-0f4a3b2c1d0e",
    },
    {"name": "bare"},
]
READS = [
    "/items/{id}",
    "/items?sort=-price,name",
    "/items?name__icontains=AMP&fields=id,name,price",
    "/items?status=published&seen_at__gte=2024-01-01T00:00:00",
    "/items?limit=1",
]


@pytest.fixture(
    params=[
        pytest.param(pair, id=pair.id, marks=getattr(pytest.mark, pair.database))
        for pair in PAIRS
        if pair.orm == "sqlalchemy"
    ]
)
def app_and_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine]]:
    why = unavailable(request.param.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = databases.TestDatabase(request.param.database, "sqlalchemy_fast", tmp_path)
    try:
        engine = create_engine(db.url(request.param.scheme))
        app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    finally:
        db.drop()


def _bodies(client: TestClient, ids: list[int]) -> list[Any]:
    bodies = []
    for path in READS:
        for pk in ids if "{id}" in path else [None]:
            response = client.get(path.format(id=pk))
            assert response.status_code == 200, response.text
            bodies.append((response.json(), response.headers["etag"] if pk else None))
    return bodies


def test_fast_reads_equal_the_connection_path_and_listeners_see_every_read(
    app_and_engine: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = app_and_engine
    assert eligible(engine)  # the adapter itself leaves its engine's reads eligible
    ids = [client.post("/items", json=item).json()["id"] for item in ITEMS]
    fast = _bodies(client, ids)
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        watched = _bodies(client, ids)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert watched == fast
    assert fast[0][0]["price"] == "12.50"
    assert fast[0][0]["seen_at"].startswith("2024-03-01T10:11:12")
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "items" in s]
    assert len(selects) >= len(watched), seen
    # A missing table is a driver error the fast path hands back to the Connection path: still a 500.
    assert client.get("/ghosts/1").status_code == 500
    assert client.get("/ghosts").status_code == 500
    assert client.get(f"/items/{ids[0]}").json() == fast[0][0]


def test_execution_listeners_see_every_read(app_and_engine: tuple[TestClient, sa.Engine]) -> None:
    client, engine = app_and_engine
    pk = client.post("/items", json=ITEMS[0]).json()["id"]
    executed: list[str] = []
    connected: list[object] = []

    def before_execute(conn: Any, statement: Any, *args: Any) -> None:
        executed.append(str(statement))

    def engine_connect(conn: Any) -> None:
        connected.append(conn)

    sa.event.listen(engine, "before_execute", before_execute)
    sa.event.listen(engine, "engine_connect", engine_connect)
    try:
        assert client.get(f"/items/{pk}").json()["name"] == "lamp"
        assert [item["name"] for item in client.get("/items?name=lamp").json()["items"]] == ["lamp"]
    finally:
        sa.event.remove(engine, "before_execute", before_execute)
        sa.event.remove(engine, "engine_connect", engine_connect)
    selects = [s for s in executed if s.lstrip().upper().startswith("SELECT") and "items" in s]
    assert len(selects) == 2, executed
    assert len(connected) >= 2


# -- each reason a read is not eligible for the fast path (see _sa_fast.eligible) -------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'eligible.sqlite3'}")
    yield engine
    engine.dispose()


def test_eligible_without_listeners_logging_or_options(engine: sa.Engine) -> None:
    assert eligible(engine)
    assert eligible(engine.execution_options(stream_results=True, compiled_cache=None))


def test_not_eligible_while_statements_are_logged(tmp_path: Path) -> None:
    echoing = sa.create_engine(f"sqlite:///{tmp_path / 'echo.sqlite3'}", echo=True)
    assert not eligible(echoing)
    echoing.echo = False
    assert eligible(echoing)
    logger = logging.getLogger("sqlalchemy.engine")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        assert not eligible(echoing)
    finally:
        logger.setLevel(level)
    echoing.dispose()


@pytest.mark.parametrize("event", ["before_execute", "after_cursor_execute", "engine_connect", "begin", "commit"])
def test_not_eligible_with_an_engine_listener(engine: sa.Engine, event: str) -> None:
    def listener(*args: Any) -> None:
        pass

    copy = engine.execution_options(compiled_cache=None)
    sa.event.listen(engine, event, listener)
    assert not eligible(engine)
    assert not eligible(copy)  # a copy shares its engine's listeners


def test_not_eligible_with_a_listener_of_the_copy_or_its_isolation_level(engine: sa.Engine) -> None:
    copy = engine.execution_options(compiled_cache=None)
    sa.event.listen(copy, "before_execute", lambda *args: None)
    assert not eligible(copy)
    assert eligible(engine)
    # The level is applied to each Connection by a listener the fast path would skip.
    assert not eligible(engine.execution_options(isolation_level="SERIALIZABLE"))


@pytest.mark.parametrize("event", ["do_execute", "do_setinputsizes", "handle_error"])
def test_not_eligible_with_a_dialect_listener(engine: sa.Engine, event: str) -> None:
    sa.event.listen(engine, "do_connect", lambda *args: None)  # connections come from the pool: no matter
    assert eligible(engine)
    sa.event.listen(engine, event, lambda *args: None)
    assert not eligible(engine)


@pytest.mark.parametrize("options", [{"schema_translate_map": {None: "tenant1"}}, {"some_future_option": 1}])
def test_not_eligible_with_an_execution_option_not_known_neutral(engine: sa.Engine, options: dict[str, Any]) -> None:
    assert not eligible(engine.execution_options(**options))
    made = sa.create_engine(engine.url, execution_options=options)
    assert not eligible(made)
    made.dispose()


def test_not_eligible_with_expanding_parameters(engine: sa.Engine) -> None:
    table = sa.table("t", sa.column("id"))
    assert compile_read(sa.select(table.c.id).where(table.c.id == 1), engine.dialect) is not None
    assert compile_read(sa.select(table.c.id).where(table.c.id.in_([1, 2])), engine.dialect) is None


# -- schema_translate_map on PostgreSQL: every read in the tenant's schema ---------------------


@pytest.fixture(params=pair_params(database="postgresql"))
def tenant(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Pair, databases.TestDatabase]]:
    with fresh_database(request.param, tmp_path, "sqlalchemy_tenant") as db:
        plain = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
        tables = [Base.metadata.tables[name] for name in ("categories", "items")]
        with plain.begin() as conn:
            conn.execute(sa.text("CREATE SCHEMA tenant1"))
            Base.metadata.create_all(conn, tables=tables)  # the default schema: another tenant's
            conn.execute(sa.insert(Item).values(name="another tenant's"))
        plain.dispose()
        yield request.param, db


@pytest.mark.parametrize("how", ["create_engine", "execution_options"])
def test_reads_honour_schema_translate_map(tenant: tuple[Pair, databases.TestDatabase], how: str) -> None:
    pair, db = tenant
    translate = {"schema_translate_map": {None: "tenant1"}}
    url = db.url(pair.scheme)
    engine: Any
    if how == "create_engine":
        make = create_async_engine if "asyncpg" in pair.scheme else sa.create_engine
        engine = make(url, execution_options=translate)
    else:
        engine = create_engine(url).execution_options(**translate)
    app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)
    with TestClient(app, raise_server_exceptions=False) as client:
        mine = client.post("/items", json={"name": "mine"}).json()
        assert client.get(f"/items/{mine['id']}").json() == mine
        assert [item["name"] for item in client.get("/items").json()["items"]] == ["mine"]
        assert [item["name"] for item in client.get("/items?sort=-id&limit=5").json()["items"]] == ["mine"]
        assert client.get("/items?count=true").json()["total"] == 1


@pytest.mark.parametrize("pool_size", [1, 2])
def test_a_small_pool_serves_many_resources_and_includes(tmp_path: Path, pool_size: int) -> None:
    """SQLite GETs on the event loop keep a connection checked out: one per engine, and only one the pool can spare.

    Each resource's store kept its own, so a pool smaller than the resources read (an include reads
    another model's store) was used up: the next read waited the pool's timeout and answered 503.
    """
    from tests.conformance.relations import relations_app
    from tests.conformance.relations import sqlalchemy as rel

    engine = sa.create_engine(
        f"sqlite:///{tmp_path / 'small.sqlite3'}", pool_size=pool_size, max_overflow=0, pool_timeout=3
    )
    db = SQLAlchemyAdapter(engine)
    tables = [rel.Author, rel.Tag, rel.Post, rel.PostTag, rel.Comment]
    app = relations_app("sqlalchemy", db, rel.Author, rel.Post, rel.Comment, rel.Tag, tables)
    with TestClient(app) as client:
        author = client.post("/authors", json={"username": "ada"}).json()["id"]
        post = client.post("/posts", json={"title": "t", "author_id": author}).json()["id"]
        for _ in range(2):
            assert client.get(f"/authors/{author}").status_code == 200
            assert client.get(f"/posts/{post}").status_code == 200
            assert client.get(f"/tags/{post}").status_code == 404
            included = client.get("/posts?include=author,comments,tags")
            assert included.status_code == 200, included.text
            assert included.json()["items"][0]["author"]["username"] == "ada"
            assert client.get(f"/posts/{post}?include=author").json()["author"]["id"] == author
            # Writes still find a connection.
            assert client.post("/comments", json={"body": "b", "post_id": post}).status_code == 201
        assert engine.pool.checkedout() <= 1  # type: ignore[attr-defined]
    engine.dispose()


@pytest.mark.parametrize("why", ["a listener", "no connection kept yet"])
def test_a_get_that_must_wait_for_the_pool_waits_off_the_event_loop(tmp_path: Path, why: str) -> None:
    """A SQLite GET runs on the event loop only as the fast read on the kept connection.

    With a cursor listener (OpenTelemetry's instrumentation sets one) the read takes the
    ``Connection`` path, which checks a connection out of the pool; before any connection is kept
    (the first GET, or the first after the kept one failed) the fast read checked one out to keep.
    On the event loop, a pool used up by worker threads (lists, writes) froze every request until
    one came back.
    """
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'busy.sqlite3'}", pool_size=2, max_overflow=0, pool_timeout=5)
    app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    statements: list[str] = []
    if why == "a listener":
        sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with TestClient(app) as client:
        pk = client.post("/items", json={"name": "lamp"}).json()["id"]
        held = [engine.raw_connection() for _ in range(2)]  # as worker threads' reads and writes hold them

        def release() -> None:
            for connection in held:
                connection.close()  # back to the pool

        pinged, waiting, got = get_beside_a_ping(app, f"/items/{pk}", release)
        assert client.get(f"/items/{pk}").status_code == 200
        checked_out = engine.pool.checkedout()  # type: ignore[attr-defined]
    assert pinged == 200
    assert waiting, "the GET answered before a connection came back"
    assert got == 200
    if why == "a listener":
        assert any("FROM items" in sql for sql in statements)  # the listener saw the read
    else:  # the worker thread's connection is kept: the next GETs read on the loop without a checkout
        assert checked_out == 1
    engine.dispose()


@pytest.mark.parametrize("how", ["dispose", "NullPool"])
def test_after_a_reset_no_read_uses_a_connection_opened_before(tmp_path: Path, how: str) -> None:
    """``engine.dispose()`` is SQLAlchemy's way to start afresh (after a fork, a reset database file),
    and a ``NullPool`` engine closes every connection after its use.

    The connection SQLite GETs keep checked out outlived both: a test suite that deletes the
    file, disposes the engine (or has none pooled) and creates the tables again read the deleted
    file's rows through GET and lists while writes used the new file.
    """
    path = tmp_path / "reset.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}", **({"poolclass": sa.NullPool} if how == "NullPool" else {}))
    app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)
    with TestClient(app) as client:
        old = client.post("/items", json={"name": "old"}).json()
        for _ in range(3):  # the first GET keeps its connection, the next ones read on it
            assert client.get(f"/items/{old['id']}").json()["name"] == "old"
        if how == "dispose":
            engine.dispose()
        path.unlink()
        Base.metadata.create_all(engine, tables=[Base.metadata.tables[name] for name in ("categories", "items")])
        new = client.post("/items", json={"name": "new"}).json()
        assert new["id"] == old["id"]  # the same key in the new file
        assert [item["name"] for item in client.get("/items").json()["items"]] == ["new"]
        assert client.get(f"/items/{new['id']}").json()["name"] == "new"
    engine.dispose()
