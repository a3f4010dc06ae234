"""A connection the database server dropped is replaced: the next requests still succeed.

Every pair on a database server, each on a database of its own: the test ends every
other session on it, which would also hit the shared apps of the other tests.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests import databases
from tests.conftest import NOT_TESTED, Served
from tests.databases import PAIRS, REQUIRED, unavailable


def _kill_postgresql(conn: sa.Connection) -> int:
    killed = conn.execute(
        sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    )
    return len(killed.all())


def _kill_mysql(conn: sa.Connection) -> int:
    ids = conn.execute(
        sa.text("SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()")
    ).scalars()
    killed = 0
    for session in ids:
        conn.execute(sa.text(f"KILL {int(session)}"))
        killed += 1
    return killed


# How to end every other session on the current database, by database.
KILL: dict[str, Callable[[sa.Connection], int]] = {"postgresql": _kill_postgresql, "mysql": _kill_mysql}


@pytest.fixture(
    params=[
        pytest.param(
            pair,
            id=pair.id,
            marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)],
        )
        for pair in PAIRS
        if pair.database in KILL
    ]
)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    why = unavailable(request.param.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = databases.TestDatabase(request.param.database, f"{request.param.orm}_reconnect", tmp_path)
    try:
        module: Any = importlib.import_module(f"tests.conformance.models.{request.param.orm}")
        served = Served(module.create_app(db.url(request.param.scheme)), db, request.param)
        yield served
        served.close()
    finally:
        db.drop()


def test_requests_succeed_after_the_server_dropped_every_connection(served: Served) -> None:
    for name in ("one", "two", "three"):
        assert served.client.post("/categories", json={"name": name}).status_code == 201
    with served.engine.connect() as conn:
        assert KILL[served.pair.database](conn) >= 1, "the app held no connection to drop"
    statuses = [served.client.get("/categories").status_code for _ in range(5)]
    statuses.append(served.client.post("/categories", json={"name": "four"}).status_code)
    assert statuses == [200] * 5 + [201]
    assert len(served.client.get("/categories").json()["items"]) == 4


def test_a_write_first_after_the_server_dropped_every_connection_succeeds_once(served: Served) -> None:
    for name in ("one", "two", "three"):
        assert served.client.post("/categories", json={"name": name}).status_code == 201
    with served.engine.connect() as conn:
        assert KILL[served.pair.database](conn) >= 1, "the app held no connection to drop"
    statuses = [served.client.post("/categories", json={"name": name}).status_code for name in ("four", "five")]
    statuses.append(served.client.patch("/categories/1", json={"name": "uno"}).status_code)
    assert statuses == [201, 201, 200]
    names = sorted(item["name"] for item in served.client.get("/categories").json()["items"])
    assert names == ["five", "four", "three", "two", "uno"]
