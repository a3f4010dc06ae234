"""Nothing that can take long runs on the event loop, and reads never wait for a writer.

- A list over a large table runs in a worker thread: a GET by key sent while it
  runs answers first (SQLite pairs, each on a database of its own).
- ``on_write`` (the users service's Argon2 hash) runs on a thread other than the
  event loop's, on every pair.
- ``?count=true`` answers while another connection holds SQLite's write lock.
"""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx2
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from ormgate.demo import common
from tests import databases
from tests.conformance.asgi import get_beside_a_ping
from tests.conftest import Served, _pair_params
from tests.databases import PAIRS

SQLITE_PAIRS = [
    pytest.param(pair, id=pair.id, marks=[pytest.mark.sqlite, getattr(pytest.mark, pair.orm)])
    for pair in PAIRS
    if pair.database == "sqlite"
]

# Enough rows that a scan of them, with SQLite calling Python's lower() on each, lasts long
# past a GET by key.
ROWS = 200_000
SLOW_LIST = "/items?name__icontains=no+such+name&count=true"


@pytest.fixture(params=SQLITE_PAIRS)
def large(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[FastAPI, databases.TestDatabase]]:
    """The conformance app on a SQLite database of its own, its items table still empty."""
    db = databases.TestDatabase("sqlite", f"{request.param.orm}_loop", tmp_path)
    module: Any = importlib.import_module(f"tests.conformance.models.{request.param.orm}")
    yield module.create_app(db.url(request.param.scheme)), db
    db.drop()


def _fill(db: databases.TestDatabase) -> None:
    engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)"
                " INSERT INTO items (name, quantity, active, status, created_at)"
                " SELECT 'item ' || i, 0, 1, 'draft', '2024-01-01 00:00:00' FROM n"
            ),
            {"rows": ROWS},
        )
    engine.dispose()


def _announcing(app: ASGIApp, query: bytes, entered: asyncio.Event) -> ASGIApp:
    """``app``, setting ``entered`` when a request with this query string comes in."""

    async def announced(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["query_string"] == query:
            entered.set()
        await app(scope, receive, send)

    return announced


def test_a_get_by_key_answers_while_a_list_scans_a_large_table(large: tuple[FastAPI, databases.TestDatabase]) -> None:
    app, db = large
    finished: list[str] = []

    async def scenario() -> tuple[httpx2.Response, httpx2.Response]:
        async with app.router.lifespan_context(app):
            _fill(db)
            entered = asyncio.Event()
            transport = httpx2.ASGITransport(app=_announcing(app, SLOW_LIST.partition("?")[2].encode(), entered))
            async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:

                async def fetch(url: str) -> httpx2.Response:
                    response = await client.get(url)
                    finished.append(url)
                    return response

                listing = asyncio.create_task(fetch(SLOW_LIST))
                # The list has come in and run until it first waited: in a worker thread, or to its end.
                await entered.wait()
                got = await fetch("/items/1")
                return got, await listing

    got, listed = asyncio.run(scenario())
    assert got.status_code == 200, got.text
    assert got.json()["name"] == "item 1"
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"items": [], "next_cursor": None, "total": 0}
    assert finished == ["/items/1", SLOW_LIST], "the GET waited for the list: the list ran on the event loop"


@pytest.fixture
def users(users_service: Served) -> Served:
    users_service.clear("users")
    return users_service


def test_on_write_runs_off_the_event_loop(users: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    hashed_in: list[int] = []
    hash_password = common.hasher.hash

    def recording(password: str, **options: Any) -> str:
        hashed_in.append(threading.get_ident())
        return hash_password(password, **options)

    monkeypatch.setattr(common.hasher, "hash", recording)
    ada = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}
    created = users.client.post("/users", json=ada)  # the hand-written endpoint
    assert created.status_code == 201, created.text
    url = f"/users/{created.json()['id']}"
    assert users.client.patch(url, json={"password": "another secret"}).status_code == 200
    assert users.client.put(url, json={**ada, "password": "a third secret"}).status_code == 200
    portal = users.client.portal
    assert portal is not None
    event_loop_thread = portal.call(threading.get_ident)
    assert len(hashed_in) == 3
    assert event_loop_thread not in hashed_in, "on_write ran on the event loop thread"


def test_a_hash_in_flight_holds_up_no_other_write(users: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """``on_write`` runs before the write waits at the gate (one writer on SQLite, the pool's
    size elsewhere): a write sent while a hash is in flight does not wait for it."""
    ids = []
    for name in ("ada", "bob"):
        sent = {"username": name, "email": f"{name}@example.com", "password": "correct horse"}
        created = users.client.post("/users", json=sent)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    hash_password = common.hasher.hash
    started, release, released = threading.Event(), threading.Event(), []

    def held(password: str, **options: Any) -> str:
        started.set()
        released.append(release.wait(10))  # False: nothing let it go, the other write waited for it
        return hash_password(password, **options)

    monkeypatch.setattr(common.hasher, "hash", held)
    answers: list[int] = []
    hashing = threading.Thread(
        target=lambda: answers.append(
            users.client.patch(f"/users/{ids[0]}", json={"password": "new secret"}).status_code
        )
    )
    hashing.start()
    try:
        assert started.wait(10)
        other = users.client.patch(f"/users/{ids[1]}", json={"email": "robert@example.com"})
    finally:
        release.set()
        hashing.join()
    assert other.status_code == 200, other.text
    assert released == [True], "the write waited for the hash"
    assert answers == [200]


@pytest.mark.parametrize("contract", [p for p in _pair_params() if p.values[0].database == "sqlite"], indirect=True)
def test_count_answers_while_another_connection_holds_the_write_lock(contract: Served) -> None:
    contract.clear("items", "categories")
    for name in ("one", "two"):
        assert contract.client.post("/items", json={"name": name}).status_code == 201
    answers: list[tuple[int, Any]] = []

    def count() -> None:
        response = contract.client.get("/items?count=true")
        answers.append((response.status_code, response.json().get("total")))

    writer = sqlite3.connect(contract.db.path, isolation_level=None, timeout=0)
    try:
        writer.execute("BEGIN IMMEDIATE")
        # Several at once: some in worker threads whose connection is not open yet.
        threads = [threading.Thread(target=count) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert answers == [(200, 2)] * 8


@pytest.mark.django
@pytest.mark.sqlite
def test_django_begins_a_read_transaction_deferred_on_sqlite(tmp_path: Path) -> None:
    """What the test above cannot see: Django runs a unit of work again after an OperationalError
    (as for a dropped connection), so a count that waited out the busy timeout still answered."""
    from django.db.backends.signals import connection_created

    from tests.conformance.models import django

    begun: list[str] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        if sql.startswith("BEGIN"):
            begun.append(sql)
        return execute(sql, params, many, context)

    def watch(sender: Any, connection: Any, **kwargs: Any) -> None:
        connection.execute_wrappers.append(record)

    connection_created.connect(watch, dispatch_uid="test_event_loop.watch")
    db = databases.TestDatabase("sqlite", "django_begin", tmp_path)
    try:
        with TestClient(django.create_app(db.url("sqlite"))) as client:
            begun.clear()  # creating the tables
            assert client.post("/items", json={"name": "one"}).status_code == 201
            writes = list(begun)
            begun.clear()
            with ThreadPoolExecutor(8) as clients:
                responses = list(clients.map(lambda _: client.get("/items?count=true"), range(8)))
    finally:
        connection_created.disconnect(dispatch_uid="test_event_loop.watch")
        db.drop()
    assert [(r.status_code, r.json()["total"]) for r in responses] == [(200, 1)] * 8
    assert writes == ["BEGIN IMMEDIATE"]
    assert begun == ["BEGIN DEFERRED"] * 8


@pytest.mark.peewee
@pytest.mark.sqlite
@pytest.mark.parametrize("read", ["/items/{pk}", "/items?limit=5"])
def test_a_peewee_read_waits_for_a_bounded_pool_off_the_event_loop(tmp_path: Path, read: str) -> None:
    """SQLite GETs and lists run on the event loop, unless taking a connection could wait: a Peewee pool bounded
    by ``max_connections`` (with a ``timeout``) used up by worker threads froze every request until one came back."""
    from ormgate.adapters.peewee import PeeweeAdapter, connect
    from tests.conformance.models import contract_app
    from tests.conformance.models import peewee as models

    database = connect(f"sqlite:///{tmp_path / 'bounded.sqlite3'}?max_connections=2&timeout=5")
    app = contract_app("peewee", PeeweeAdapter(database), models.Category, models.Item, models.Ghost)

    @app.get("/ping")
    async def ping() -> dict[str, bool]:
        return {"ok": True}

    release = threading.Event()
    holding = threading.Barrier(3)

    def hold() -> None:  # as a worker thread's list or write holds its connection
        database.connect(reuse_if_open=True)
        holding.wait(10)
        release.wait(10)
        database.close()

    with TestClient(app) as client, ThreadPoolExecutor(2) as threads:
        pk = client.post("/items", json={"name": "lamp"}).json()["id"]
        held = [threads.submit(hold) for _ in range(2)]
        holding.wait(10)

        pinged, waiting, got = get_beside_a_ping(app, read.format(pk=pk), release.set)
        for future in held:
            future.result()
    assert pinged == 200
    assert waiting, "the GET answered before a connection came back"
    assert got == 200
