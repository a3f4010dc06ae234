"""The Django adapter holds at most ``max_connections`` connections to a database, however many requests come.

Django keeps a connection per thread: the adapter runs an alias's operations
on that many threads of its own. Each pair on a database server, on a database
of its own, so that the connections counted are this app's alone.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from ormgate.adapters.django import DjangoAdapter, configure
from tests import databases
from tests.conformance.models import contract_app
from tests.conformance.models.django import Category, Ghost, Item
from tests.conftest import NOT_TESTED, Served
from tests.databases import PAIRS, REQUIRED, unavailable

LIMIT = 3
CLIENTS = 40

# The sessions connected to the current database, this one left out.
SESSIONS: dict[str, Callable[[sa.Connection], int]] = {
    "postgresql": lambda conn: conn.execute(
        sa.text("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
    ).scalar_one(),
    "mysql": lambda conn: conn.execute(
        sa.text("SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()")
    ).scalar_one(),
}


@pytest.fixture(
    params=[
        pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), pytest.mark.django])
        for pair in PAIRS
        if pair.orm == "django" and pair.database in SESSIONS
    ]
)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    why = unavailable(request.param.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = databases.TestDatabase(request.param.database, "django_connections", tmp_path)
    try:
        adapter = DjangoAdapter(configure(db.url(request.param.scheme)), max_connections=LIMIT)
        served = Served(contract_app("django", adapter, Category, Item, Ghost), db, request.param)
        yield served
        adapter.close()
        served.close()
    finally:
        db.drop()


def test_concurrent_requests_share_at_most_max_connections(served: Served) -> None:
    for i in range(20):
        assert served.client.post("/items", json={"name": f"item {i}"}).status_code == 201
    statuses: Counter[int] = Counter()
    barrier = threading.Barrier(CLIENTS)

    def client(i: int) -> None:
        barrier.wait()
        for url in ("/items?count=true&name__icontains=item", f"/items/{i % 20 + 1}", "/items?sort=-name"):
            statuses[served.client.get(url).status_code] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == {200: 3 * CLIENTS}
    with served.engine.connect() as conn:
        sessions = SESSIONS[served.pair.database](conn)
    assert 1 <= sessions <= LIMIT


def test_adapters_on_one_alias_share_one_bound(served: Served) -> None:
    alias = configure(served.db.url(served.pair.scheme))
    assert DjangoAdapter(alias, max_connections=LIMIT).threads is DjangoAdapter(alias, max_connections=LIMIT).threads
    with pytest.raises(ValueError, match=f"max_connections={LIMIT}"):
        DjangoAdapter(alias, max_connections=LIMIT + 1)
