"""The test databases: one fresh database per ORM and xdist worker, dropped at the end.

PostgreSQL and MariaDB are optional on a laptop (their pairs are skipped and
the summary says so) and required in CI (ORMGATE_REQUIRE_DATABASES=1).
"""

from __future__ import annotations

import functools
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

PG = os.environ.get("ORMGATE_TEST_POSTGRESQL", "postgres@127.0.0.1:5432")
MY = os.environ.get("ORMGATE_TEST_MYSQL", "root@127.0.0.1:3306")
REQUIRED = os.environ.get("ORMGATE_REQUIRE_DATABASES") == "1"


@dataclass(frozen=True)
class Pair:
    """One adapter x database pair: how its URL is spelled for the ORM under test."""

    orm: str  # sqlalchemy, django, peewee: the module under tests/conformance/models and ormgate/demo
    database: str  # sqlite, postgresql, mysql
    scheme: str  # the URL scheme, e.g. postgresql+asyncpg
    # The conformance models' flavour, when not the ORM's own: a module under tests/conformance/models
    # (sqlmodel: SQLModel table models on the SQLAlchemy adapter).
    flavour: str = ""

    @property
    def id(self) -> str:
        driver = self.scheme.partition("+")[2] or self.scheme
        return f"{self.flavour or self.orm}-{driver}"

    @property
    def models(self) -> str:
        """The module of the conformance models on this pair."""
        return self.flavour or self.orm


PAIRS = [
    Pair("sqlalchemy", "sqlite", "sqlite"),
    Pair("sqlalchemy", "sqlite", "sqlite+aiosqlite"),
    Pair("sqlalchemy", "postgresql", "postgresql+psycopg"),
    Pair("sqlalchemy", "postgresql", "postgresql+asyncpg"),
    Pair("sqlalchemy", "mysql", "mysql+pymysql"),
    Pair("sqlalchemy", "mysql", "mysql+aiomysql"),
    Pair("django", "sqlite", "sqlite"),
    Pair("django", "postgresql", "postgresql+psycopg"),
    Pair("django", "mysql", "mysql+pymysql"),
    Pair("peewee", "sqlite", "sqlite"),
    Pair("peewee", "postgresql", "postgresql+psycopg"),
    Pair("peewee", "mysql", "mysql+pymysql"),
]

# The conformance app with other models on an adapter's pairs: the contract suite runs on these too.
FLAVOURS = [
    Pair(pair.orm, pair.database, pair.scheme, flavour="sqlmodel") for pair in PAIRS if pair.orm == "sqlalchemy"
]

# The same schema a second time, through a sync driver, for set-up, clean-up and checks.
SYNC_SCHEME = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def server_url(database: str, name: str) -> str:
    if database == "postgresql":
        return f"postgresql+psycopg://{PG}/{name}"
    return f"mysql+pymysql://{MY}/{name}"


@functools.cache
def unavailable(database: str) -> str | None:
    """Why ``database`` cannot be used here, or None when it can."""
    if database == "sqlite":
        return None
    try:
        engine = sa.create_engine(server_url(database, "postgres" if database == "postgresql" else "mysql"))
        with engine.connect():
            pass
        engine.dispose()
    except sa.exc.OperationalError as exc:
        return f"{database} is not reachable ({str(exc.orig).splitlines()[0]})"
    return None


class TestDatabase:
    """A database created fresh for one ORM on one worker."""

    def __init__(self, database: str, orm: str, tmp: Path) -> None:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.database = database
        self.name = f"ormgate_{orm}_{worker}_{uuid.uuid4().hex[:6]}"
        self.path = tmp / f"{self.name}.sqlite3"
        if database != "sqlite":
            self._admin(f"CREATE DATABASE {self.name}" + (" CHARACTER SET utf8mb4" if database == "mysql" else ""))

    def url(self, scheme: str) -> str:
        if self.database == "sqlite":
            return f"{scheme}:///{self.path}"
        host = PG if self.database == "postgresql" else MY
        return f"{scheme}://{host}/{self.name}"

    @property
    def sync_url(self) -> str:
        return self.url(SYNC_SCHEME[self.database])

    def _admin(self, statement: str) -> None:
        admin = "postgres" if self.database == "postgresql" else "mysql"
        engine = sa.create_engine(server_url(self.database, admin), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(statement))
        engine.dispose()

    def drop(self) -> None:
        if self.database == "postgresql":
            self._admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        elif self.database == "mysql":
            self._admin(f"DROP DATABASE IF EXISTS {self.name}")
        else:
            self.path.unlink(missing_ok=True)
