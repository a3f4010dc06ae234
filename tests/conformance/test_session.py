"""The session dependency, through HTTP, on every ORM and database.

``db.session`` (``db.async_session`` on an async SQLAlchemy engine) in hand-written
endpoints: the work is committed when the endpoint succeeds, rolled back when it raises,
a duplicate is a 409 and an unreachable database a 503 as on the generated routes, and
the connection goes back every time (a pool of one connection serves many requests).
"""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException

import ormgate
from ormgate.demo.common import new_app
from tests.conformance.test_outages import SERVERS, Service, _params, _service, _unavailable_answer

COUNT = "SELECT count(*) FROM categories"
TEAPOT = HTTPException(418, "after the insert")


def session_app(orm: str, url: str, connections: int = 4) -> FastAPI:
    """The categories, and ``POST /made/{name}``, ``POST /failed/{name}``, ``GET /count`` on the session.

    ``/failed`` inserts, then raises: nothing of it may remain.
    """
    models: Any = importlib.import_module(f"tests.conformance.models.{orm}")
    waiting = ormgate.Waiting(timeout=2.0, max_waiting=64)
    db: Any = None

    async def create() -> None:  # db is set by then
        await db.create_tables([models.Category])

    app = new_app(orm, create)
    if orm == "sqlalchemy":
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
        from sqlalchemy.orm import Session

        from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

        options: dict[str, Any] = {"pool_size": connections, "max_overflow": 0, "pool_timeout": 2.0}
        if sa.make_url(url).get_dialect().is_async:
            db = SQLAlchemyAdapter(create_async_engine(url, **options), waiting=waiting)
            ASession = Annotated[AsyncSession, Depends(db.async_session, scope="function")]

            @app.post("/made/{name}", status_code=201)
            async def made_async(name: str, session: ASession) -> int:
                category = models.Category(name=name)
                session.add(category)
                await session.flush()
                return int(category.id)

            @app.post("/failed/{name}")
            async def failed_async(name: str, session: ASession) -> None:
                session.add(models.Category(name=name))
                await session.flush()
                raise TEAPOT

            @app.get("/count")
            async def count_async(session: ASession) -> int:
                return int((await session.execute(sa.text(COUNT))).scalar_one())

        else:
            db = SQLAlchemyAdapter(sa.create_engine(url, **options), waiting=waiting)
            SyncSession = Annotated[Session, Depends(db.session, scope="function")]

            @app.post("/made/{name}", status_code=201)
            def made(name: str, session: SyncSession) -> int:
                category = models.Category(name=name)
                session.add(category)
                session.flush()
                return int(category.id)

            @app.post("/failed/{name}")
            def failed(name: str, session: SyncSession) -> None:
                session.add(models.Category(name=name))
                session.flush()
                raise TEAPOT

            @app.get("/count")
            def count(session: SyncSession) -> int:
                return int(session.execute(sa.text(COUNT)).scalar_one())

    else:
        insert: Callable[[str], int]
        counted: Callable[[], int]
        if orm == "django":
            from django.db import connections as django_connections

            from ormgate.adapters.django import DjangoAdapter, configure

            db = DjangoAdapter(configure(url), max_connections=connections, waiting=waiting)

            def insert(name: str) -> int:
                return int(models.Category._default_manager.using(db.alias).create(name=name).pk)

            def counted() -> int:
                with django_connections[db.alias].cursor() as cursor:
                    cursor.execute(COUNT)
                    return int(cursor.fetchone()[0])

        else:
            from ormgate.adapters.peewee import PeeweeAdapter, connect

            db = PeeweeAdapter(connect(f"{url}?max_connections={connections}&timeout=2"), waiting=waiting)
            categories = db.bound(models.Category)

            def insert(name: str) -> int:
                return int(categories.create(name=name).id)

            def counted() -> int:
                return int(db.database.execute_sql(COUNT).fetchone()[0])

        def insert_then_fail(name: str) -> None:
            insert(name)
            raise TEAPOT

        Work = Annotated[ormgate.UnitOfWork, Depends(db.session)]

        @app.post("/made/{name}", status_code=201)
        async def made_threaded(name: str, session: Work) -> int:
            return await session.run(insert, name)

        @app.post("/failed/{name}")
        async def failed_threaded(name: str, session: Work) -> None:
            await session.run(insert_then_fail, name)

        @app.get("/count")
        async def count_threaded(session: Work) -> int:
            return await session.run(counted, write=False)

    ormgate.Resource(models.Category, db).install(app)
    return app


@pytest.fixture(params=_params(lambda pair: True))
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _service(request.param, tmp_path, app=lambda url: session_app(request.param.orm, url))


def _names(service: Service) -> list[str]:
    return sorted(item["name"] for item in service.send("GET", "/categories").body["items"])


def test_the_session_commits_on_success_and_rolls_back_on_an_exception(served: Service) -> None:
    made = served.send("POST", "/made/kept")
    assert made.status == 201, made
    assert served.send("GET", f"/categories/{made.body}").body["name"] == "kept"
    failed = served.send("POST", "/failed/dropped")
    assert failed.status == 418, failed
    assert _names(served) == ["kept"]
    assert served.send("GET", "/count").body == 1


def test_a_duplicate_through_the_session_is_a_409_as_on_the_generated_routes(served: Service) -> None:
    assert served.send("POST", "/made/twice").status == 201
    duplicate = served.send("POST", "/made/twice")
    generated = served.send("POST", "/categories", json={"name": "twice"})
    assert duplicate.status == generated.status == 409, (duplicate, generated)
    assert duplicate.body["type"] == generated.body["type"], (duplicate.body, generated.body)
    assert _names(served) == ["twice"]


@pytest.fixture(params=_params(lambda pair: True))
def one_connection(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _service(request.param, tmp_path, app=lambda url: session_app(request.param.orm, url, connections=1))


def test_the_session_gives_its_connection_back_every_time(one_connection: Service) -> None:
    """A pool of one connection: a request that kept it would leave every later one waiting (503)."""
    for i in range(20):
        assert one_connection.send("POST", f"/made/n{i}").status == 201
        assert one_connection.send("POST", f"/made/n{i}").status == 409
        assert one_connection.send("POST", f"/failed/f{i}").status == 418
        answer = one_connection.send("GET", "/count")
        assert (answer.status, answer.body) == (200, i + 1), answer
    # Not in the loop: on SQLite, a sync SQLAlchemy engine's reads on the event loop keep one
    # pooled connection checked out for good (ormgate/adapters/_sa_fast.py), a pool of one included.
    assert len(one_connection.send("GET", "/categories").body["items"]) == 20


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS))
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _service(request.param, tmp_path, app=lambda url: session_app(request.param.orm, url), proxied=True)


def test_the_session_on_a_database_refusing_connections_is_a_503_then_recovers(proxied: Service) -> None:
    assert proxied.proxy is not None
    assert proxied.send("POST", "/made/before").status == 201
    proxied.proxy.refuse()
    proxied.proxy.cut()
    for answer in (proxied.send("GET", "/count"), proxied.send("POST", "/made/during")):
        _unavailable_answer(answer)
        assert answer.seconds < 2.5, answer
    proxied.proxy.accept()
    assert proxied.send("POST", "/made/after").status == 201
    assert _names(proxied) == ["after", "before"]
