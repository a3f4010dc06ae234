"""The fast-path decision (``ormgate.adapters._fast``) as HTTP shows it, on every ORM and database.

For each reason a read may or may not skip its ORM's execution machinery: a
column type that converts values (its conversion appears, fast or not), a hook
the fast path goes through (it sees every read), a hook it would skip (the read
takes the ORM's own path, and the hook sees it), and a driver without a fast path.
tests/conformance/test_sqlalchemy_fast_reads.py has SQLAlchemy's listeners and options.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import peewee as pw
import pytest
import sqlalchemy as sa
from django.db import models
from fastapi import FastAPI, Header
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import ormgate
import tests.conformance.models.django  # noqa: F401  (Django set up before the models below)
from ormgate.adapters import _pw_store as peewee_store
from ormgate.adapters import django as django_adapter
from ormgate.adapters import peewee as peewee_adapter
from ormgate.adapters._dj_compiled import Compiled
from ormgate.adapters._dj_store import _hooks as django_hooks
from ormgate.adapters._fast import refusal
from ormgate.adapters._sa_fast import driver_refusal, facts, orm
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.common import new_app
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair

NAMES = ["lamp", "desk", "chair"]


def _app(db: Any, model: Any) -> FastAPI:
    app = new_app("fast", lambda: db.create_tables([model]))
    ormgate.Resource(model, db, path="/shouts").install(app)
    return app


def _reads(client: TestClient) -> dict[str, Any]:
    """What a client reads: each row by key, and the pages the list gives."""
    created = [client.post("/shouts", json={"name": name}) for name in NAMES]
    assert all(response.status_code == 201 for response in created), [r.text for r in created]
    ids = [response.json()["id"] for response in created]
    return {
        "rows": [client.get(f"/shouts/{pk}").json() for pk in ids],
        "page": client.get("/shouts?sort=name").json()["items"],
        "matched": client.get("/shouts?name__contains=am").json()["items"],
    }


def _assert_shouted(reads: dict[str, Any]) -> None:
    # The type's conversion from the database: upper case, on every read.
    assert [row["name"] for row in reads["rows"]] == [name.upper() for name in NAMES]
    assert [row["name"] for row in reads["page"]] == sorted(name.upper() for name in NAMES)
    assert [row["name"] for row in reads["matched"]] == ["LAMP"]


# -- SQLAlchemy: a TypeDecorator's process_result_value; drivers with and without a fast path -------


class _Base(DeclarativeBase):
    pass


class Shouting(sa.TypeDecorator[str]):
    impl = sa.String(50)
    cache_ok = True

    @property
    def python_type(self) -> type[Any]:
        return str

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return None if value is None else value.upper()


class SAShout(_Base):
    __tablename__ = "shouts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(Shouting())


@pytest.fixture(params=pair_params("sqlalchemy"))
def sa_pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Pair, str]]:
    with fresh_database(request.param, tmp_path, "fast_sa") as db:
        yield request.param, db.url(request.param.scheme)


def test_sqlalchemy_type_decorator_converts_fast_reads_and_drivers_decide(sa_pair: tuple[Pair, str]) -> None:
    pair, url = sa_pair
    engine = create_engine(url)
    sync = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    why = driver_refusal(sync.dialect)
    assert refusal(facts(sync)) is None  # nothing else keeps reads on the Connection
    if pair.database == "mysql":  # PyMySQL and aiomysql: the Connection, always
        assert why is not None
        assert repr(sync.dialect.driver) in why, why
    else:  # the decorator does not refuse: the fast rows apply its processor
        assert why is None, why
    with TestClient(_app(SQLAlchemyAdapter(engine), SAShout)) as client:
        fast = _reads(client)
        _assert_shouted(fast)
        seen: list[str] = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(sync, "before_cursor_execute", listener)
        try:
            assert refusal(facts(sync)) == f"{orm(sync.dialect)} runs before_cursor_execute as it executes a read"
            watched = {
                "rows": [client.get(f"/shouts/{row['id']}").json() for row in fast["rows"]],
                "page": client.get("/shouts?sort=name").json()["items"],
                "matched": client.get("/shouts?name__contains=am").json()["items"],
            }
        finally:
            sa.event.remove(sync, "before_cursor_execute", listener)
    assert watched == fast  # the Connection path: the same rows, and the listener saw each read
    assert len([s for s in seen if s.lstrip().upper().startswith("SELECT")]) >= len(NAMES) + 2, seen


# -- Peewee: a field's python_value; Database.execute_sql and Database.execute overridden ------------


class PWShouting(pw.CharField):
    def python_value(self, value: Any) -> Any:
        return None if value is None else str(value).upper()


class PWShout(pw.Model):
    name = PWShouting(max_length=50)

    class Meta:
        table_name = "shouts"


@pytest.fixture(params=pair_params("peewee"))
def pw_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "fast_pw") as db:
        yield db.url(request.param.scheme)


def _watched(database: Any, method: str, seen: list[Any]) -> None:
    """``database`` made an instance of a subclass that overrides ``method`` to record its first argument."""
    base = type(database)

    def watch(self: Any, first: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(first)
        return getattr(base, method)(self, first, *args, **kwargs)

    database.__class__ = type(f"Watched{base.__name__}", (base,), {method: watch})


@pytest.mark.parametrize("method", ["", "execute_sql", "execute"])
def test_peewee_python_value_and_overridden_execution(pw_url: str, method: str) -> None:
    database = peewee_adapter.connect(pw_url)
    seen: list[Any] = []
    if method:
        _watched(database, method, seen)
    # execute_sql: fast reads call it. execute: they would skip it, so reads run through it.
    assert peewee_store._hooks(database) == (("Database.execute",) if method == "execute" else ())
    try:
        with TestClient(_app(peewee_adapter.PeeweeAdapter(database), PWShout)) as client:
            _assert_shouted(_reads(client))
    finally:
        database.close_all()
    if method == "execute_sql":
        assert len([sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]) >= len(NAMES) + 2, seen
    if method == "execute":  # the queries themselves, as Peewee's own path hands them over
        assert len([query for query in seen if isinstance(query, pw.Select)]) >= len(NAMES) + 2, seen


@pytest.mark.parametrize("method", ["execute_sql", "execute"])
def test_peewee_scoped_reads_and_locks_go_where_unscoped_ones_go(pw_url: str, method: str) -> None:
    # A scope adds a condition to the GET by key and to the write's lock: those statements must
    # honour an overridden Database.execute as the unscoped ones do, not call execute_sql past it.
    database = peewee_adapter.connect(pw_url)
    seen: list[Any] = []
    _watched(database, method, seen)
    db = peewee_adapter.PeeweeAdapter(database)
    app = new_app("fast", lambda: db.create_tables([PWShout]))
    ormgate.Resource(PWShout, db, path="/shouts", scope=_named).install(app)
    try:
        with TestClient(app) as client:
            ids = {name: client.post("/shouts", json={"name": name}).json()["id"] for name in NAMES}
            seen.clear()
            for name, pk in ids.items():
                got = client.get(f"/shouts/{pk}", headers={"x-name": name})
                assert got.status_code == 200, got.text
                assert got.json() == {"id": pk, "name": name.upper()}
                assert client.get(f"/shouts/{pk}", headers={"x-name": "other"}).status_code == 404
            gets = len(seen)
            deleted = client.delete(f"/shouts/{ids['lamp']}", headers={"x-name": "lamp"})
            assert deleted.status_code == 204, deleted.text
            locks = seen[gets:]
    finally:
        database.close_all()
    if method == "execute_sql":
        selects = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]
        assert len(selects) >= 2 * len(NAMES) + 1, seen
    else:  # the queries themselves: each scoped GET, in scope or not, and the delete's lock
        assert len([query for query in seen[:gets] if isinstance(query, pw.Select)]) == 2 * len(NAMES), seen
        assert any(isinstance(query, pw.Select) for query in locks), locks


# -- Django: from_db_value; an execute_wrapper (gone through); a default manager's get_queryset ------

_shown = {"hidden": True}


class DjangoShouting(models.CharField):  # type: ignore[type-arg]
    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else value.upper()


class DjangoShout(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    name: DjangoShouting = DjangoShouting(max_length=50)

    class Meta:
        app_label = "ormgate_fast"
        db_table = "shouts"


class Unhidden(models.Manager):  # type: ignore[type-arg]
    # Per call: what it filters depends on when it is asked (a tenant, a soft-delete switch).
    def get_queryset(self) -> Any:
        rows = super().get_queryset()
        return rows if _shown["hidden"] else rows.exclude(name__startswith="l")


class DjangoShoutMaybe(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    name: DjangoShouting = DjangoShouting(max_length=50)
    objects = Unhidden()

    class Meta:
        app_label = "ormgate_fast"
        db_table = "shouts"


@pytest.fixture(params=pair_params("django"))
def django_alias(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "fast_dj") as db:
        alias = django_adapter.configure(db.url(request.param.scheme))
        try:
            yield alias
        finally:
            django_adapter.DjangoAdapter(alias).close()


@contextlib.contextmanager
def _wrapped(alias: str, seen: list[str]) -> Iterator[None]:
    """Every connection to ``alias`` opened meanwhile runs its statements through an execute_wrapper."""
    from django.db.backends.signals import connection_created

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    def install(sender: Any, connection: Any, **kwargs: Any) -> None:
        if connection.alias == alias:
            connection.execute_wrappers.append(wrapper)

    connection_created.connect(install, dispatch_uid="test_fast_paths.install")
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="test_fast_paths.install")


def test_django_from_db_value_and_execute_wrappers_on_fast_gets(django_alias: str) -> None:
    assert django_hooks(DjangoShout) == ()  # an execute_wrapper is no reason: the fast GET runs it
    seen: list[str] = []
    with _wrapped(django_alias, seen), TestClient(_app(django_adapter.DjangoAdapter(django_alias), DjangoShout)) as c:
        _assert_shouted(_reads(c))
    gets = [sql for sql in seen if sql.lstrip().upper().startswith("SELECT") and "WHERE" in sql.upper()]
    assert len(gets) >= 2 * len(NAMES), seen  # each create's read-back and each GET


def _named(x_name: Annotated[str | None, Header()] = None) -> ormgate.Scope | None:
    return None if x_name is None else ormgate.Scope({"name": x_name})


def test_django_scoped_gets_compile_once_per_scope_shape(django_alias: str) -> None:
    db = django_adapter.DjangoAdapter(django_alias)
    app = new_app("fast", lambda: db.create_tables([DjangoShout]))
    resource = ormgate.Resource(DjangoShout, db, path="/shouts", scope=_named)
    resource.install(app)
    store: Any = resource.store
    with TestClient(app) as client:
        ids = {name: client.post("/shouts", json={"name": name}).json()["id"] for name in NAMES}
        for name, pk in ids.items():
            # The scope compares the stored value; the row read is converted (from_db_value) as ever.
            got = client.get(f"/shouts/{pk}", headers={"x-name": name})
            assert got.status_code == 200
            assert got.json() == {"id": pk, "name": name.upper()}
            assert client.get(f"/shouts/{pk}", headers={"x-name": "other"}).status_code == 404
            assert client.get(f"/shouts/{pk}").json()["name"] == name.upper()
    # One statement for the unscoped GET (the creates' read-back) and one for every scope by name.
    assert set(store.sync.gets) == {((), ()), (("name",), ())}
    assert all(isinstance(found, Compiled) for found in store.sync.gets.values())


def test_django_lists_compile_once_per_shape(django_alias: str) -> None:
    """A plain list's statement is compiled once per query shape and binds each request's values,
    its page's limit and offset too; converters and execute_wrappers run as for ``values()``."""
    db = django_adapter.DjangoAdapter(django_alias)
    app = new_app("fast", lambda: db.create_tables([DjangoShout]))
    resource = ormgate.Resource(DjangoShout, db, path="/shouts")
    resource.install(app)
    store: Any = resource.store
    seen: list[str] = []
    with _wrapped(django_alias, seen), TestClient(app) as client:
        for name in ["ant", "bee", "cat", "dog", "eel"]:
            assert client.post("/shouts", json={"name": name}).status_code == 201

        def shouted(url: str) -> list[str]:
            response = client.get(url)
            assert response.status_code == 200, response.text
            return [row["name"] for row in response.json()["items"]]

        assert shouted("/shouts?sort=name&limit=2") == ["ANT", "BEE"]
        assert shouted("/shouts?sort=name&limit=2&offset=2") == ["CAT", "DOG"]
        assert shouted("/shouts?sort=name&limit=3&offset=3") == ["DOG", "EEL"]
        assert shouted("/shouts?name=cat") == ["CAT"]
        assert shouted("/shouts?name=eel") == ["EEL"]
        ids = {row["name"]: row["id"] for row in client.get("/shouts").json()["items"]}
        assert shouted(f"/shouts?id__gt={ids['BEE']}&sort=-name") == ["EEL", "DOG", "CAT"]
        assert shouted(f"/shouts?id__gt={ids['DOG']}&sort=-name") == ["EEL"]
        walked, url = [], "/shouts?sort=-id&limit=2"
        while url:
            body = client.get(url).json()
            walked += [row["name"] for row in body["items"]]
            url = body["next_cursor"] and f"/shouts?sort=-id&limit=2&cursor={body['next_cursor']}"
        assert walked == ["EEL", "DOG", "CAT", "BEE", "ANT"]
        assert shouted("/shouts?name__contains=e") == ["BEE", "EEL"]  # a pattern: values() makes it
    compiled = [shape for shape in store.sync.pages.built.values() if shape.statements]
    # sort=name without and with an offset, name=, id__gt= with sort=-name, the walk's first page and
    # its cursor pages, the plain list.
    assert len(compiled) == 7, store.sync.pages.built
    refused = [shape for shape in store.sync.pages.built.values() if shape.layout is None]
    assert len(refused) == 1
    pages = [sql for sql in seen if "LIMIT" in sql.upper()]
    assert len(pages) >= 12, seen  # every list ran through the connection's execute_wrappers


def test_django_default_manager_is_asked_on_every_get(django_alias: str) -> None:
    assert django_hooks(DjangoShoutMaybe) == ("Manager.get_queryset",)
    _shown["hidden"] = True
    try:
        with TestClient(_app(django_adapter.DjangoAdapter(django_alias), DjangoShoutMaybe)) as client:
            reads = _reads(client)
            _assert_shouted(reads)
            lamp = reads["rows"][0]["id"]
            _shown["hidden"] = False  # the manager now hides "lamp": GET and list agree at once
            assert client.get(f"/shouts/{lamp}").status_code == 404
            assert [row["name"] for row in client.get("/shouts?sort=name").json()["items"]] == ["CHAIR", "DESK"]
    finally:
        _shown["hidden"] = True
