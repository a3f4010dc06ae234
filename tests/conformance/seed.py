"""The rows the query tests read: made through the API itself, once per pair, so every ORM stores them its own way."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal
from typing import Any

from tests.conftest import Served

NAMES = ["ada", "Ada", "ADA", "grace", "Grace Hopper", "linus", "50% off", "a_b", "ab", "x'y", "zed", "Ärger", "ärger"]
DESCRIPTIONS = [None, "Émile", "émile", "plain", "with % sign", "under_score", "Straße", "ÄÖÜ", "naïve café"]
STATUSES = ["draft", "published", "archived"]


def make(count: int, seed: int) -> list[dict[str, Any]]:
    """Deterministic rows with NULLs, duplicates, case and accent variants, % and _."""
    rng = random.Random(seed)

    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.2 else value

    return [
        {
            "name": rng.choice(NAMES),
            "description": rng.choice(DESCRIPTIONS),
            "quantity": rng.randint(-5, 20),
            "big": maybe(rng.randint(-(2**40), 2**40)),
            "price": maybe(str(Decimal(rng.randint(0, 5000)) / 100)),
            "weight": maybe(rng.randint(-8, 40) / 4),
            "active": rng.random() < 0.5,
            "status": rng.choice(STATUSES),
            "released": maybe((dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 60))).isoformat()),
            "starts_at": maybe(dt.time(rng.randint(0, 23), rng.choice([0, 30])).isoformat()),
            "seen_at": maybe((dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 5000))).isoformat()),
            "code": maybe(str(uuid.UUID(int=rng.getrandbits(128), version=4))),
        }
        for i in range(count)
    ]


SIZE = 1000
# By database, the pair that made its items and the rows its API returned: the pairs of one database
# (a sync and an async driver) share the table, and a pair reads back only the rows it made.
_made: dict[int, tuple[str, list[dict[str, Any]]]] = {}


def dataset(api: Served) -> list[dict[str, Any]]:
    """The SIZE rows of this pair as the API returned them, made again if another test or pair changed the table."""
    made = _made.get(id(api.db))
    if made is not None and made[0] == api.pair.id:
        rows = made[1]
        now = api.scalar("SELECT COUNT(*) FROM items"), api.scalar("SELECT SUM(quantity) FROM items")
        if now == (len(rows), sum(r["quantity"] for r in rows)):
            return rows
    api.clear("items", "categories")
    rows = []
    for fields in make(SIZE, seed=11):
        response = api.client.post("/items", json={k: v for k, v in fields.items() if v is not None})
        assert response.status_code == 201, response.text
        rows.append(response.json())
    _made[id(api.db)] = (api.pair.id, rows)
    return rows
