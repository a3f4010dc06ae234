"""Fixtures of the conformance modules that share an app besides the contract's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests import databases as known
from tests.conftest import Served, _pair_params, _serve


@pytest.fixture(scope="module", params=_pair_params())
def scoped_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: dict[tuple[str, str], known.TestDatabase],
) -> Iterator[Served]:
    """The scoped app (``scoped_app`` in tests/conformance/models) on every pair."""
    yield from _serve(request, tmp_path_factory, databases, "tests.conformance.models.{models}", "create_scoped_app")


@pytest.fixture
def tenants(scoped_service: Served) -> Iterator[Served]:
    """Categories 1001 and 1002 (the tenants) and 1003, with no items; none left behind for the other tests."""
    scoped_service.clear("items", "categories")
    with scoped_service.engine.begin() as conn:
        for n in (1001, 1002, 1003):
            conn.execute(sa.text("INSERT INTO categories (id, name) VALUES (:id, :name)"), {"id": n, "name": f"t{n}"})
    yield scoped_service
    scoped_service.clear("items", "categories")


@pytest.fixture(scope="module", params=_pair_params())
def auth_service(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    databases: dict[tuple[str, str], known.TestDatabase],
) -> Iterator[Served]:
    """The users service of ormgate/demo with ``--auth`` on every pair."""
    yield from _serve(request, tmp_path_factory, databases, "ormgate.demo.{orm}_app", auth=True)
