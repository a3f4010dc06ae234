"""A fresh database per test on each SQLAlchemy pair, for tests that build their own app and engine."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import NOT_TESTED
from tests.databases import PAIRS, REQUIRED, Pair, TestDatabase, unavailable


def pair_params(orm: str = "sqlalchemy", database: str | None = None) -> list[object]:
    return [
        pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)])
        for pair in PAIRS
        if pair.orm == orm and database in (None, pair.database)
    ]


@contextlib.contextmanager
def fresh_database(pair: Pair, tmp_path: Path, name: str) -> Iterator[TestDatabase]:
    """A database of its own on ``pair``'s server, dropped afterwards; a skip (or failure in CI) without the server."""
    why = unavailable(pair.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = TestDatabase(pair.database, name, tmp_path)
    try:
        yield db
    finally:
        db.drop()
