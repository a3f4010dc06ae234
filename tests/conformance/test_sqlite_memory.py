"""An in-memory SQLite database is refused alike on every ORM, with a message naming the fix.

Each of ormgate's connections (a pool's, a worker thread's) would open a memory
database of its own: the app started, then answered 500 "no such table".
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import peewee
import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.sqlite


def _sqlalchemy_static_pool() -> Any:
    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

    engine = sa.create_engine("sqlite://", poolclass=sa.StaticPool, connect_args={"check_same_thread": False})
    return SQLAlchemyAdapter(engine)


def _peewee_database() -> Any:
    from ormgate.adapters.peewee import PeeweeAdapter

    return PeeweeAdapter(peewee.SqliteDatabase(":memory:"))


def _django_alias() -> Any:
    from django.db import connections

    from ormgate.adapters.django import DjangoAdapter, setup

    setup()
    memory = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    connections.settings["ormgate_memory"] = connections.configure_settings(
        {"default": connections.settings["default"], "ormgate_memory": memory}
    )["ormgate_memory"]
    try:
        return DjangoAdapter("ormgate_memory")
    finally:
        del connections.settings["ormgate_memory"]


def _app(module: str, url: str) -> Callable[[], Any]:
    return lambda: importlib.import_module(module).create_app(url)


CASES = {
    "sqlalchemy-pysqlite": _app("tests.conformance.models.sqlalchemy", "sqlite://"),
    "sqlalchemy-pysqlite-memory-path": _app("tests.conformance.models.sqlalchemy", "sqlite:///:memory:"),
    "sqlalchemy-aiosqlite": _app("tests.conformance.models.sqlalchemy", "sqlite+aiosqlite://"),
    "sqlalchemy-static-pool": _sqlalchemy_static_pool,
    "sqlalchemy-shared-cache": _app(
        "tests.conformance.models.sqlalchemy", "sqlite:///file::memory:?cache=shared&uri=true"
    ),
    "sqlalchemy-users": _app("ormgate.demo.sqlalchemy_app", "sqlite://"),
    "django": _app("tests.conformance.models.django", "sqlite://"),
    "django-memory-path": _app("tests.conformance.models.django", "sqlite:///:memory:"),
    "django-alias": _django_alias,
    "peewee": _app("tests.conformance.models.peewee", "sqlite://"),
    "peewee-memory-path": _app("tests.conformance.models.peewee", "sqlite:///:memory:"),
    "peewee-database": _peewee_database,
}


@pytest.mark.parametrize(
    "build",
    [pytest.param(build, id=name, marks=getattr(pytest.mark, name.split("-")[0])) for name, build in CASES.items()],
)
def test_in_memory_sqlite_is_refused_with_the_fix(build: Callable[[], Any]) -> None:
    with pytest.raises(ValueError, match=r"in-memory SQLite .* use a file, e\.g\. sqlite:///app\.sqlite3"):
        build()


@pytest.mark.parametrize(
    ("name", "memory"),
    [
        ("", True),
        (":memory:", True),
        ("file::memory:?cache=shared", True),
        ("file:db?mode=memory&cache=shared", True),
        ("/tmp/app.sqlite3", False),
        ("file:app.db?mode=ro", False),
    ],
)
def test_memory_databases_are_told_from_files(name: str, memory: bool) -> None:
    from ormgate.adapters.base import memory_sqlite

    assert memory_sqlite(name) is memory
