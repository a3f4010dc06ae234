from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from ormgate.serve import ServedAPI, ServeOptions, build
from tests.conftest import NOT_TESTED
from tests.databases import REQUIRED, TestDatabase, unavailable
from tests.serve.chinook import Names, load

SCHEMES = [
    ("sqlite", "sqlite"),
    ("sqlite", "sqlite+aiosqlite"),
    ("postgresql", "postgresql+psycopg"),
    ("postgresql", "postgresql+asyncpg"),
    ("mysql", "mysql+pymysql"),
    ("mysql", "mysql+aiomysql"),
]
KEY = "tests-serve-cursor-key"


@dataclass
class Chinook:
    """Chinook on one database, served read-only and with --allow-writes through one driver."""

    db: TestDatabase
    scheme: str
    read: ServedAPI
    write: ServedAPI
    reader: TestClient = field(init=False)
    writer: TestClient = field(init=False)
    engine: sa.Engine = field(init=False)

    def __post_init__(self) -> None:
        self.reader = TestClient(self.read.app, raise_server_exceptions=False).__enter__()
        self.writer = TestClient(self.write.app, raise_server_exceptions=False).__enter__()
        self.engine = sa.create_engine(self.db.sync_url, poolclass=sa.NullPool)
        self.n = Names(self.db.database)

    @property
    def database(self) -> str:
        return self.db.database

    def q(self, name: str) -> str:
        return f"`{name}`" if self.database == "mysql" else f'"{name}"'

    def rows(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(sa.text(sql), params)]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def close(self) -> None:
        for client, api in ((self.reader, self.read), (self.writer, self.write)):
            if isinstance(api.engine, AsyncEngine) and client.portal is not None:
                client.portal.call(api.engine.dispose)  # its connections closed on their own event loop
            client.__exit__(None, None, None)
            if isinstance(api.engine, sa.Engine):
                api.engine.dispose()
        self.engine.dispose()


@pytest.fixture(scope="session")
def chinook_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestDatabase]]:
    made: dict[str, TestDatabase] = {}
    yield made
    for db in made.values():
        db.drop()


def loaded(made: dict[str, TestDatabase], database: str, tmp: Path) -> TestDatabase:
    if database not in made:
        why = unavailable(database)
        if why is not None:
            if REQUIRED:
                pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
            pytest.skip(NOT_TESTED + why)
        made[database] = load(database, tmp)
    return made[database]


@pytest.fixture(
    scope="module",
    params=[
        pytest.param(
            pair,
            id=pair[1],
            marks=[getattr(pytest.mark, pair[0]), pytest.mark.sqlalchemy, pytest.mark.xdist_group(f"serve-{pair[0]}")],
        )
        for pair in SCHEMES
    ],
)
def chinook(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    chinook_databases: dict[str, TestDatabase],
) -> Iterator[Chinook]:
    database, scheme = request.param
    db = loaded(chinook_databases, database, tmp_path_factory.getbasetemp())
    url = db.url(scheme)
    served = Chinook(
        db,
        scheme,
        build(ServeOptions(url), cursor_key=KEY, count_rows=True),
        build(ServeOptions(url, allow_writes=True), cursor_key=KEY),
    )
    yield served
    served.close()
