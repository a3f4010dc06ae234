"""SQLAlchemy's fast reads (straight on the driver's connection) answer exactly as the ``Connection`` path does.

A cursor-execute listener on the engine turns the fast path off, as it must for
OpenTelemetry and the like to see every statement: the same requests with and
without one give the same bodies, for every column type and every SQLAlchemy driver.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from examples.users.sqlalchemy_app import create_engine
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from tests import databases
from tests.conformance.models import contract_app
from tests.conformance.models.sqlalchemy import Category, Ghost, Item
from tests.conftest import NOT_TESTED
from tests.databases import PAIRS, REQUIRED, unavailable

ITEMS = [
    {
        "name": "lamp",
        "description": "a 'quoted' % value",
        "quantity": 3,
        "big": 2**40,
        "price": "12.50",
        "weight": 1.25,
        "active": False,
        "status": "published",
        "released": "2024-02-29",
        "starts_at": "08:30:00",
        "seen_at": "2024-03-01T10:11:12",
        "code": "6f1c5a9e-8a0b-4c3e-9d56-0f4a3b2c1d0e",
    },
    {"name": "bare"},
]
READS = [
    "/items/{id}",
    "/items?sort=-price,name",
    "/items?name__icontains=AMP&fields=id,name,price",
    "/items?status=published&seen_at__gte=2024-01-01T00:00:00",
    "/items?limit=1",
]


@pytest.fixture(
    params=[
        pytest.param(pair, id=pair.id, marks=getattr(pytest.mark, pair.database))
        for pair in PAIRS
        if pair.orm == "sqlalchemy"
    ]
)
def app_and_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[TestClient, sa.Engine]]:
    why = unavailable(request.param.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = databases.TestDatabase(request.param.database, "sqlalchemy_fast", tmp_path)
    try:
        engine = create_engine(db.url(request.param.scheme))
        app = contract_app("sqlalchemy", SQLAlchemyAdapter(engine), Category, Item, Ghost)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    finally:
        db.drop()


def _bodies(client: TestClient, ids: list[int]) -> list[Any]:
    bodies = []
    for path in READS:
        for pk in ids if "{id}" in path else [None]:
            response = client.get(path.format(id=pk))
            assert response.status_code == 200, response.text
            bodies.append((response.json(), response.headers["etag"] if pk else None))
    return bodies


def test_fast_reads_equal_the_connection_path_and_listeners_see_every_read(
    app_and_engine: tuple[TestClient, sa.Engine],
) -> None:
    client, engine = app_and_engine
    ids = [client.post("/items", json=item).json()["id"] for item in ITEMS]
    fast = _bodies(client, ids)
    seen: list[str] = []

    def listen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listen)
    try:
        watched = _bodies(client, ids)
    finally:
        sa.event.remove(engine, "before_cursor_execute", listen)
    assert watched == fast
    assert fast[0][0]["price"] == "12.50"
    assert fast[0][0]["seen_at"].startswith("2024-03-01T10:11:12")
    selects = [s for s in seen if s.lstrip().upper().startswith("SELECT") and "items" in s]
    assert len(selects) >= len(watched), seen
    # A missing table is a driver error the fast path hands back to the Connection path: still a 500.
    assert client.get("/ghosts/1").status_code == 500
    assert client.get("/ghosts").status_code == 500
    assert client.get(f"/items/{ids[0]}").json() == fast[0][0]
