from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.databases import FLAVOURS, PAIRS, REQUIRED, Pair, TestDatabase, unavailable

NOT_TESTED = "DATABASE NOT TESTED: "


def pytest_terminal_summary(terminalreporter: Any) -> None:
    # Read from the reports, which xdist brings back from its workers.
    reasons = {
        str(report.longrepr[2]).partition(NOT_TESTED)[2]
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and NOT_TESTED in str(report.longrepr[2])
    }
    if reasons:
        terminalreporter.section("databases NOT tested", sep="!", red=True, bold=True)
        for why in sorted(reasons):
            terminalreporter.line(f"{why}: every test on it was skipped", red=True)


def _pair_params(pairs: list[Pair] = PAIRS) -> list[Any]:
    return [
        pytest.param(
            pair,
            id=pair.id,
            # One worker takes every test of a pair: its database and data are made once.
            marks=[
                getattr(pytest.mark, pair.database),
                getattr(pytest.mark, pair.orm),
                pytest.mark.xdist_group(pair.id),
            ],
        )
        for pair in pairs
    ]


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[tuple[str, str], TestDatabase]]:
    """Fresh databases, one per (database, ORM), made when first asked for and dropped at the end."""
    made: dict[tuple[str, str], TestDatabase] = {}
    yield made
    for db in made.values():
        db.drop()


def _database(databases: dict[tuple[str, str], TestDatabase], pair: Pair, tmp: Path) -> TestDatabase:
    key = (pair.database, pair.models)
    if key not in databases:
        why = unavailable(pair.database)
        if why is not None:
            if REQUIRED:
                pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
            pytest.skip(NOT_TESTED + why)
        databases[key] = TestDatabase(pair.database, pair.models, tmp)
    return databases[key]


class Served:
    """An app on one pair, kept running for one test module, with a sync handle on its database.

    For a module, not the session: each app's pool keeps its idle connections (up to 20), and the
    session's apps together (several per worker, one per fixture and pair) once held more than the
    shared PostgreSQL server's 100, failing whichever test connected next ("too many clients").
    """

    def __init__(self, app: FastAPI, db: TestDatabase, pair: Pair) -> None:
        self.pair = pair
        self.db = db
        self.client = TestClient(app, raise_server_exceptions=False)
        self.client.__enter__()
        self.engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)

    def clear(self, *tables: str) -> None:
        with self.engine.begin() as conn:
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))

    def execute(self, sql: str, **params: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def close(self) -> None:
        self.client.__exit__(None, None, None)
        self.engine.dispose()


def _serve(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: dict[tuple[str, str], TestDatabase],
    module: str,
    factory: str = "create_app",
    **options: Any,
) -> Iterator[Served]:
    """The app ``module``'s ``factory`` makes on the request's pair (``module`` formatted with its orm and models)."""
    pair: Pair = request.param
    db = _database(databases, pair, tmp_path_factory.getbasetemp())
    make = getattr(importlib.import_module(module.format(orm=pair.orm, models=pair.models)), factory)
    app = make(db.url(pair.scheme), **options)
    served = Served(app, db, pair)
    yield served
    served.close()


@pytest.fixture(scope="module", params=_pair_params(PAIRS + FLAVOURS))
def contract(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: dict[tuple[str, str], TestDatabase],
) -> Iterator[Served]:
    """The conformance app (categories, items) on every adapter x database pair, and SQLModel's on SQLAlchemy's."""
    yield from _serve(request, tmp_path_factory, databases, "tests.conformance.models.{models}")


@pytest.fixture(scope="module", params=_pair_params())
def users_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: dict[tuple[str, str], TestDatabase],
) -> Iterator[Served]:
    """The users service of ormgate/demo on every adapter x database pair."""
    yield from _serve(request, tmp_path_factory, databases, "ormgate.demo.{orm}_app")
