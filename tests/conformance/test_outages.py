"""Outages and exhaustion are 503s with Retry-After, within a bounded time, and the service recovers by itself.

Every ORM (SQLAlchemy sync and async, Django, Peewee) on every database where the
fault applies: connections terminated by the server (PostgreSQL, MariaDB), a database
that refuses new connections for a while (through ``tests.proxy``, between the app and
the server: the shared servers are never touched), no connection free within the
bounded wait and load shedding (every database: the slots are held by writes blocked
on a lock the test holds, so what is asserted does not depend on timing), SQLite's
write lock held past the busy timeout, and the users service's hand-written routes.
Each test uses a database of its own.
"""

from __future__ import annotations

import contextlib
import importlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate
from ormgate.demo.common import new_app
from tests import databases
from tests.conformance.test_reconnect import KILL
from tests.conftest import NOT_TESTED
from tests.databases import PAIRS, REQUIRED, Pair, unavailable
from tests.proxy import Proxy

SERVERS = ("postgresql", "mysql")


def _params(where: Callable[[Pair], bool]) -> list[Any]:
    return [
        pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)])
        for pair in PAIRS
        if where(pair)
    ]


def _available(pair: Pair) -> None:
    why = unavailable(pair.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)


def _through(url: str, port: int) -> str:
    return sa.make_url(url).set(port=port).render_as_string(hide_password=False)


COUNT = "SELECT count(*) FROM categories"


def categories_app(
    pair: Pair, url: str, slots: int, waiting: ormgate.Waiting, *, pool_timeout: float = 10.0, pre_ping: bool = False
) -> FastAPI:
    """The categories of the conformance models on ``url``, with ``slots`` connections and the bounds ``waiting``.

    With a hand-written ``GET /count`` on the ORM's own way into a pooled connection
    (SQLAlchemy's session dependency, Peewee's ``connection``), whose pool waits
    ``pool_timeout`` for a connection.
    """
    models: Any = importlib.import_module(f"tests.conformance.models.{pair.orm}")
    db: Any
    count: Callable[..., Any] | None = None
    if pair.orm == "sqlalchemy":
        from fastapi import Depends
        from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
        from sqlalchemy.orm import Session

        from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

        options: dict[str, Any] = {
            "pool_size": slots,
            "max_overflow": 0,
            "pool_timeout": pool_timeout,
            "pool_pre_ping": pre_ping,
        }
        is_async = sa.make_url(url).get_dialect().is_async
        engine = create_async_engine(url, **options) if is_async else sa.create_engine(url, **options)
        db = SQLAlchemyAdapter(engine, waiting=waiting)
        if is_async:

            async def count_async(session: AsyncSession = Depends(db.async_session, scope="function")) -> int:  # noqa: B008
                return int((await session.execute(sa.text(COUNT))).scalar_one())

            count = count_async
        else:

            def count_sync(session: Session = Depends(db.session, scope="function")) -> int:  # noqa: B008
                return int(session.execute(sa.text(COUNT)).scalar_one())

            count = count_sync
    elif pair.orm == "django":
        from ormgate.adapters.django import DjangoAdapter, configure

        db = DjangoAdapter(configure(url), max_connections=slots, waiting=waiting)
    else:
        from ormgate.adapters.peewee import PeeweeAdapter, connect

        db = PeeweeAdapter(connect(f"{url}?max_connections={slots}&timeout={pool_timeout}"), waiting=waiting)

        def count_peewee() -> int:
            with db.connection():
                return int(db.database.execute_sql(COUNT).fetchone()[0])

        count = count_peewee
    app = new_app(pair.orm, lambda: db.create_tables([models.Category]))
    ormgate.Resource(models.Category, db).install(app)
    if count is not None:
        app.get("/count")(count)
    return app


@dataclass
class Answer:
    status: int
    seconds: float
    retry_after: str | None
    body: Any


class Service:
    """An app on a database of its own, maybe through a proxy, and a sync handle on that database."""

    def __init__(self, app: FastAPI, db: databases.TestDatabase, pair: Pair, proxy: Proxy | None = None) -> None:
        self.pair = pair
        self.db = db
        self.proxy = proxy
        self.client = TestClient(app, raise_server_exceptions=False)
        self.client.__enter__()
        self.engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)

    def send(self, method: str, path: str, **kwargs: Any) -> Answer:
        start = time.perf_counter()
        response = self.client.request(method, path, **kwargs)
        seconds = time.perf_counter() - start
        body = response.json() if response.content else {}
        return Answer(response.status_code, seconds, response.headers.get("retry-after"), body)

    def kill(self) -> int:
        with self.engine.connect() as conn:
            killed = KILL[self.pair.database](conn)
            conn.commit()
        return killed

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        if self.pair.database != "sqlite" and self.proxy is None:
            self.kill()  # the app's pooled connections: MariaDB's are few, for every test running
        self.engine.dispose()
        if self.proxy is not None:
            self.proxy.close()


def _service(
    pair: Pair,
    tmp_path: Path,
    *,
    app: Callable[[str], FastAPI],
    proxied: bool = False,
) -> Iterator[Service]:
    _available(pair)
    db = databases.TestDatabase(pair.database, f"{pair.orm}_outage", tmp_path)
    proxy: Proxy | None = None
    try:
        url = db.url(pair.scheme)
        if proxied:
            parsed = sa.make_url(url)
            proxy = Proxy(parsed.host or "127.0.0.1", parsed.port or 0)
            url = _through(url, proxy.port)
        service = Service(app(url), db, pair, proxy)
        try:
            yield service
        finally:
            service.close()
    finally:
        db.drop()


def _unavailable_answer(answer: Answer) -> None:
    """A 503 as documented: problem type, a small Retry-After."""
    assert answer.status == 503, answer
    assert answer.body["type"] == "urn:ormgate:unavailable", answer.body
    assert answer.retry_after is not None, answer
    assert 1 <= int(answer.retry_after) <= 5, answer


def _recovered(service: Service, path: str = "/categories", within: float = 10.0) -> float:
    """Seconds until ``path`` answers 200 again; every answer meanwhile is a 503, never a 500."""
    start = time.perf_counter()
    while True:
        answer = service.send("GET", path)
        if answer.status == 200:
            return time.perf_counter() - start
        _unavailable_answer(answer)
        assert time.perf_counter() - start < within, f"not recovered within {within} s"
        time.sleep(0.05)


def figure(name: str, pair: Pair, value: float) -> None:
    print(f"FIGURE {name} {pair.id} {value:.3f}")


# -- (a) connections terminated by the server ---------------------------------------------------


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS))
def on_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    waiting = ormgate.Waiting(timeout=2.0, max_waiting=64)
    yield from _service(request.param, tmp_path, app=lambda url: categories_app(request.param, url, 4, waiting))


def test_connections_terminated_by_the_server_answer_200_or_503_and_the_service_recovers(
    on_server: Service,
) -> None:
    for name in ("one", "two", "three"):
        assert on_server.send("POST", "/categories", json={"name": name}).status == 201
    statuses: list[int] = []
    for round_ in range(3):
        assert on_server.kill() >= 1, "the app held no connection to terminate"
        answers = [
            on_server.send("GET", "/categories"),
            on_server.send("GET", "/categories/1"),
            on_server.send("POST", "/categories", json={"name": f"new{round_}"}),
            on_server.send("PATCH", "/categories/2", json={"name": f"two{round_}"}),
            on_server.send("GET", "/categories?count=true"),
        ]
        for answer in answers:
            if answer.status == 503:
                _unavailable_answer(answer)
            else:
                assert answer.status in (200, 201), answer
        statuses += [answer.status for answer in answers]
    figure("recovery_after_kill", on_server.pair, _recovered(on_server))
    # Reads retry on a fresh connection; a write whose connection died before COMMIT too.
    assert 500 not in statuses
    assert on_server.send("GET", "/categories/1").status == 200


def test_a_request_in_flight_when_its_connection_is_terminated_is_not_a_500(on_server: Service) -> None:
    assert on_server.send("POST", "/categories", json={"name": "one"}).status == 201
    # The write waits on a lock the test holds; its connection is terminated meanwhile.
    holder = on_server.engine.connect()
    holder.execute(sa.text("SELECT * FROM categories WHERE id = 1 FOR UPDATE"))
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        patch = pool.submit(on_server.send, "PATCH", "/categories/1", json={"name": "uno"})
        _wait_for_lock_waiters(on_server, holder, 1)
        assert on_server.kill() >= 2  # every session but the killer's: the app's and the holder's
    finally:
        with contextlib.suppress(sa.exc.DBAPIError):  # the lock goes, whether or not the kill took it
            holder.rollback()
        with contextlib.suppress(sa.exc.DBAPIError):
            holder.close()
    answer = patch.result(timeout=30)
    pool.shutdown()
    # It failed before COMMIT, so nothing was written: it ran once more on a new connection
    # (200), or, had that failed too, a 503; never a 500.
    if answer.status == 503:
        _unavailable_answer(answer)
    else:
        assert answer.status == 200, answer
    figure("recovery_after_kill_in_flight", on_server.pair, _recovered(on_server))


# -- (b) a database refusing connections for a while --------------------------------------------


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS))
def proxied(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    waiting = ormgate.Waiting(timeout=2.0, max_waiting=64)
    yield from _service(
        request.param, tmp_path, app=lambda url: categories_app(request.param, url, 4, waiting), proxied=True
    )


def test_a_database_refusing_connections_is_a_quick_503_then_the_service_recovers(proxied: Service) -> None:
    assert proxied.proxy is not None
    for name in ("one", "two"):
        assert proxied.send("POST", "/categories", json={"name": name}).status == 201
    assert proxied.send("GET", "/categories").status == 200
    proxied.proxy.refuse()
    assert proxied.proxy.cut() >= 2, "the app held no connection through the proxy"
    answers = [
        proxied.send("GET", "/categories"),
        proxied.send("GET", "/categories/1"),
        proxied.send("POST", "/categories", json={"name": "three"}),
        proxied.send("PATCH", "/categories/1", json={"name": "uno"}),
        proxied.send("DELETE", "/categories/2"),
    ]
    for answer in answers:
        _unavailable_answer(answer)
        assert answer.seconds < 2.0, answer  # connection refused: no wait
    figure("time_to_503_refused", proxied.pair, max(answer.seconds for answer in answers))
    proxied.proxy.accept()
    figure("recovery_after_refusal", proxied.pair, _recovered(proxied))
    # Nothing of the refused writes landed.
    names = sorted(item["name"] for item in proxied.send("GET", "/categories").body["items"])
    assert names == ["one", "two"]


class Login:
    """A login of the test's own, with a limit on its connections the test can lower to refuse it."""

    def __init__(self, db: databases.TestDatabase, database: str) -> None:
        self.db = db
        self.database = database
        self.name = f"{db.name}_login"
        self.holder: sa.Connection | None = None
        admin = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
        with admin.begin() as conn:
            if database == "postgresql":
                conn.execute(sa.text(f"CREATE ROLE {self.name} LOGIN"))
                conn.execute(sa.text(f"ALTER DATABASE {db.name} OWNER TO {self.name}"))
            else:
                conn.execute(sa.text(f"CREATE USER '{self.name}'@'%'"))
                conn.execute(sa.text(f"GRANT ALL ON {db.name}.* TO '{self.name}'@'%'"))
        self.admin = admin

    def url(self, url: str) -> str:
        return sa.make_url(url).set(username=self.name).render_as_string(hide_password=False)

    def refuse(self, url: str) -> None:
        """New connections of this login fail with the server's own error: too many connections."""
        with self.admin.begin() as conn:
            if self.database == "postgresql":
                conn.execute(sa.text(f"ALTER ROLE {self.name} CONNECTION LIMIT 0"))
                return
            conn.execute(sa.text(f"ALTER USER '{self.name}'@'%' WITH MAX_USER_CONNECTIONS 1"))
        # MariaDB counts from 1: the test's own connection is the one allowed.
        self.holder = sa.create_engine(self.url(url), poolclass=sa.NullPool).connect()

    def accept(self) -> None:
        if self.holder is not None:
            self.holder.close()
            self.holder = None
        with self.admin.begin() as conn:
            if self.database == "postgresql":
                conn.execute(sa.text(f"ALTER ROLE {self.name} CONNECTION LIMIT -1"))
            else:
                conn.execute(sa.text(f"ALTER USER '{self.name}'@'%' WITH MAX_USER_CONNECTIONS 0"))

    def drop(self) -> None:
        self.accept()
        with self.admin.begin() as conn:
            if self.database == "postgresql":
                conn.execute(sa.text(f"REASSIGN OWNED BY {self.name} TO CURRENT_USER"))
                conn.execute(sa.text(f"DROP OWNED BY {self.name}"))
                conn.execute(sa.text(f"DROP ROLE {self.name}"))
            else:
                conn.execute(sa.text(f"DROP USER '{self.name}'@'%'"))
        self.admin.dispose()


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS))
def limited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Service, Login]]:
    pair: Pair = request.param
    _available(pair)
    db = databases.TestDatabase(pair.database, f"{pair.orm}_limited", tmp_path)
    login = Login(db, pair.database)
    url = login.url(db.url(pair.scheme))
    waiting = ormgate.Waiting(timeout=2.0, max_waiting=64)
    try:
        service = Service(categories_app(pair, url, 4, waiting), db, pair)
        try:
            yield service, login
        finally:
            service.close()
    finally:
        login.drop()
        db.drop()


def test_a_server_refusing_a_login_with_an_error_of_its_own_is_a_503(limited: tuple[Service, Login]) -> None:
    # Not a refused socket (the proxy's case) but the server's answer to the login: PostgreSQL's
    # 53300 "too many connections for role", MariaDB's 1226 (max_user_connections).
    service, login = limited
    assert service.send("POST", "/categories", json={"name": "one"}).status == 201
    assert service.kill() >= 1, "the app held no connection to terminate"
    login.refuse(service.db.sync_url)
    answers = [
        service.send("GET", "/categories"),
        service.send("GET", "/categories/1"),
        service.send("GET", "/categories?count=true"),
        service.send("POST", "/categories", json={"name": "two"}),
    ]
    for answer in answers:
        _unavailable_answer(answer)
    login.accept()
    figure("recovery_after_login_refused", service.pair, _recovered(service))
    assert [item["name"] for item in service.send("GET", "/categories").body["items"]] == ["one"]


# -- (c) no free connection within the wait, (d) load shedding ---------------------------------


def _bounded(pair: Pair, tmp_path: Path, waiting: ormgate.Waiting) -> Iterator[Service]:
    # A pool of 2 on every database; SQLite's writes pass one at a time whatever it is.
    yield from _service(pair, tmp_path, app=lambda url: categories_app(pair, url, 2, waiting))


def _slots(pair: Pair) -> int:
    """What blocked writes hold: the pool's connections, or SQLite's one writer."""
    return 1 if pair.database == "sqlite" else 2


def _wait_for_lock_waiters(service: Service, conn: sa.Connection, count: int) -> None:
    """Until ``count`` sessions on the test's database wait for a lock (server databases)."""
    if service.pair.database == "postgresql":
        sql = "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    else:
        # Every UPDATE of these tests waits for the test's lock: running is waiting.
        sql = (
            "SELECT count(*) FROM information_schema.processlist"
            " WHERE db = DATABASE() AND command = 'Query' AND info LIKE 'UPDATE %'"
        )
    deadline = time.monotonic() + 20
    with service.engine.connect() as probe:
        while probe.execute(sa.text(sql)).scalar() != count:
            assert time.monotonic() < deadline, f"{count} writes never waited for the lock"
            time.sleep(0.02)
            probe.rollback()


class _Lock:
    """The write lock on category 1 (SQLite: the database's), held by the test until released."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.sqlite: sqlite3.Connection | None = None
        self.conn: sa.Connection | None = None
        if service.pair.database == "sqlite":
            self.sqlite = sqlite3.connect(service.db.path, isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            self.conn = service.engine.connect()
            self.conn.execute(sa.text("SELECT * FROM categories WHERE id = 1 FOR UPDATE"))

    def blocked(self, count: int) -> None:
        """Until ``count`` writes wait for the lock (SQLite cannot say: its one writer waits in the busy handler)."""
        if self.conn is not None:
            _wait_for_lock_waiters(self.service, self.conn, count)

    def release(self) -> None:
        if self.sqlite is not None:
            self.sqlite.rollback()
            self.sqlite.close()
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()


def _patches(service: Service, count: int) -> list[Any]:
    pool = ThreadPoolExecutor(max_workers=count)
    futures = [pool.submit(service.send, "PATCH", "/categories/1", json={"name": f"n{i}"}) for i in range(count)]
    pool.shutdown(wait=False)
    return futures


WAIT = 1.0  # the bounded wait of test (c)


@pytest.fixture(params=_params(lambda pair: True))
def bounded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _bounded(request.param, tmp_path, ormgate.Waiting(timeout=WAIT, max_waiting=16))


def test_no_free_connection_within_the_wait_is_a_503_within_the_bound(bounded: Service) -> None:
    assert bounded.send("POST", "/categories", json={"name": "one"}).status == 201
    slots = _slots(bounded.pair)
    lock = _Lock(bounded)
    try:
        # One write more than there are slots: the ones that get a slot hold it, blocked on
        # the test's lock, until it is released; the last waits for a slot, in vain.
        futures = _patches(bounded, slots + 1)
        lock.blocked(slots)
        while not any(future.done() for future in futures):
            time.sleep(0.01)
    finally:
        lock.release()
    answers = [future.result(timeout=30) for future in futures]
    late = [answer for answer in answers if answer.status != 200]
    assert len(late) == 1, answers
    _unavailable_answer(late[0])
    assert late[0].body["detail"] == f"no database connection freed up within {WAIT:g} s"
    assert WAIT <= late[0].seconds < WAIT + 1.5, late[0]
    figure("time_to_503_no_connection", bounded.pair, late[0].seconds)
    assert bounded.send("GET", "/categories").status == 200


SHED_WAIT = 5.0  # long enough that a request which waits is told apart from one refused at once


@pytest.fixture(params=_params(lambda pair: True))
def shedding(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _bounded(request.param, tmp_path, ormgate.Waiting(timeout=SHED_WAIT, max_waiting=2))


def test_more_requests_than_may_wait_are_refused_at_once(shedding: Service) -> None:
    assert shedding.send("POST", "/categories", json={"name": "one"}).status == 201
    slots, excess = _slots(shedding.pair), 4
    lock = _Lock(shedding)
    try:
        futures = _patches(shedding, slots + 2 + excess)  # slots held, 2 waiting, the rest refused
        refused: list[Answer] = []
        deadline = time.monotonic() + SHED_WAIT - 1
        while len(refused) < excess and time.monotonic() < deadline:
            refused = [f.result() for f in futures if f.done()]
            time.sleep(0.01)
    finally:
        lock.release()
    answers = [future.result(timeout=30) for future in futures]
    shed = [answer for answer in answers if answer.status == 503]
    assert len(shed) == excess, answers
    for answer in shed:
        _unavailable_answer(answer)
        assert answer.seconds < 2.0, answer  # at once, well before the wait's 5 s (CI runs workers in parallel)
    figure("time_to_503_shed", shedding.pair, max(answer.seconds for answer in shed))
    assert sorted(answer.status for answer in answers) == [200] * (slots + 2) + [503] * excess


# -- a pool's own checkout timeout, met by a hand-written route ---------------------------------

POOL_TIMEOUT = 0.5


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS and pair.orm != "django"))
def one_connection(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    waiting = ormgate.Waiting(timeout=30.0, max_waiting=16)
    yield from _service(
        request.param,
        tmp_path,
        app=lambda url: categories_app(request.param, url, 1, waiting, pool_timeout=POOL_TIMEOUT),
    )


def test_a_pools_own_checkout_timeout_is_a_503(one_connection: Service) -> None:
    """The pool's one connection is held by a blocked write; a hand-written route waits in the pool itself.

    (Django keeps a connection per thread, with no pool to wait in.)
    """
    assert one_connection.send("POST", "/categories", json={"name": "one"}).status == 201
    lock = _Lock(one_connection)
    try:
        holders = _patches(one_connection, 1)
        lock.blocked(1)
        answer = one_connection.send("GET", "/count")
    finally:
        lock.release()
    _unavailable_answer(answer)
    assert answer.body["detail"] == "the database is busy; try again shortly"
    assert POOL_TIMEOUT <= answer.seconds < POOL_TIMEOUT + 1.5, answer
    figure("time_to_503_pool_timeout", one_connection.pair, answer.seconds)
    assert holders[0].result(timeout=30).status == 200
    counted = one_connection.send("GET", "/count")
    assert (counted.status, counted.body) == (200, 1)


# -- the session dependency on an engine with pool_pre_ping ------------------------------------


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS and pair.orm == "sqlalchemy"))
def pre_ping(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    waiting = ormgate.Waiting(timeout=2.0, max_waiting=16)
    yield from _service(
        request.param, tmp_path, app=lambda url: categories_app(request.param, url, 2, waiting, pre_ping=True)
    )


def test_on_an_engine_that_pings_the_session_routes_never_see_a_drop(pre_ping: Service) -> None:
    """The engine's own options are kept: with ``pool_pre_ping`` the pool replaces a dead connection at checkout."""
    assert pre_ping.send("POST", "/categories", json={"name": "one"}).status == 201
    assert pre_ping.send("GET", "/count").status == 200
    statuses = []
    for _ in range(3):
        assert pre_ping.kill() >= 1, "the app held no connection to terminate"
        statuses += [pre_ping.send("GET", "/count").status, pre_ping.send("GET", "/categories").status]
    assert statuses == [200] * 6


# -- SQLite: the write lock held past the busy timeout ------------------------------------------


@pytest.fixture(params=_params(lambda pair: pair.database == "sqlite"))
def on_sqlite(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    waiting = ormgate.Waiting(timeout=30.0, max_waiting=16)
    yield from _service(request.param, tmp_path, app=lambda url: categories_app(request.param, url, 2, waiting))


def test_sqlite_locked_past_the_busy_timeout_is_a_503(on_sqlite: Service) -> None:
    assert on_sqlite.send("POST", "/categories", json={"name": "one"}).status == 201
    lock = _Lock(on_sqlite)  # another process's writer, holding the lock
    try:
        answer = on_sqlite.send("PATCH", "/categories/1", json={"name": "uno"})
    finally:
        lock.release()
    _unavailable_answer(answer)
    assert answer.body["detail"] == "the database is busy; try again shortly"
    figure("time_to_503_sqlite_busy", on_sqlite.pair, answer.seconds)
    assert on_sqlite.send("PATCH", "/categories/1", json={"name": "uno"}).status == 200


# -- (e) the users service's hand-written routes ------------------------------------------------


def _users_app(pair: Pair) -> Callable[[str], FastAPI]:
    return lambda url: importlib.import_module(f"ormgate.demo.{pair.orm}_app").create_app(url)


@pytest.fixture(params=_params(lambda pair: pair.database in SERVERS))
def users(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    yield from _service(request.param, tmp_path, app=_users_app(request.param), proxied=True)


def _user(i: int) -> dict[str, str]:
    return {"username": f"user{i}", "email": f"user{i}@example.com", "password": "correct horse battery"}


def test_the_hand_written_routes_after_a_drop_are_never_a_500(users: Service) -> None:
    created = users.send("POST", "/users", json=_user(1))
    assert created.status == 201, created
    user = created.body["id"]
    assert users.send("GET", f"/users/{user}").status == 200
    statuses: list[int] = []
    for round_ in range(2):
        assert users.kill() >= 1, "the app held no connection to terminate"
        answers = [users.send("GET", f"/users/{user}"), users.send("POST", "/users", json=_user(10 + round_))]
        answers += [users.send("GET", f"/users/{user}") for _ in range(3)]
        for answer in answers:
            if answer.status == 503:
                _unavailable_answer(answer)
            else:
                assert answer.status in (200, 201), answer
        statuses += [answer.status for answer in answers]
    assert 500 not in statuses
    figure("recovery_hand_written_after_kill", users.pair, _recovered(users, f"/users/{user}"))


def test_the_hand_written_routes_while_the_database_refuses_are_503_then_recover(users: Service) -> None:
    assert users.proxy is not None
    created = users.send("POST", "/users", json=_user(1))
    assert created.status == 201, created
    user = created.body["id"]
    users.proxy.refuse()
    users.proxy.cut()
    answers = [users.send("GET", f"/users/{user}"), users.send("POST", "/users", json=_user(2))]
    for answer in answers:
        _unavailable_answer(answer)
        assert answer.seconds < 2.0, answer
    users.proxy.accept()
    figure("recovery_hand_written_after_refusal", users.pair, _recovered(users, f"/users/{user}"))
    assert users.send("POST", "/users", json=_user(3)).status == 201


def test_every_operation_documents_the_503(tmp_path: Path) -> None:
    pair = next(pair for pair in PAIRS if pair.database == "sqlite")
    for service in _service(pair, tmp_path, app=_users_app(pair)):
        spec = service.client.get("/openapi.json").json()
        for path_item in spec["paths"].values():
            for operation in path_item.values():
                response = operation["responses"]["503"]
                assert "Retry-After" in response["headers"]
                assert "application/problem+json" in response["content"]
