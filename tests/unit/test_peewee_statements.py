"""Peewee statements are built once per shape: each request must still get its own values and defaults."""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from pathlib import Path

import peewee as pw
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect


class Reading(pw.Model):
    id = pw.UUIDField(primary_key=True, default=uuid.uuid4)
    taken_at = pw.DateTimeField(default=datetime.now)
    value = pw.IntegerField()
    note = pw.CharField(max_length=20, null=True)

    class Meta:
        table_name = "readings"


def test_defaults_are_drawn_and_values_bound_per_request(tmp_path: Path) -> None:
    db = PeeweeAdapter(connect(f"sqlite:///{tmp_path / 'readings.sqlite3'}"))

    async def create_tables() -> None:
        await db.create_tables([Reading])

    app = FastAPI(on_startup=[create_tables])
    ormgate.install_problem_handlers(app)
    ormgate.Resource(Reading, db).install(app)
    with TestClient(app) as client:
        created = []
        for value in (1, 2, 3):
            response = client.post("/readings", json={"value": value})
            assert response.status_code == 201, response.text
            created.append(response.json())
            time.sleep(0.002)
        assert [r["value"] for r in created] == [1, 2, 3]
        assert len({r["id"] for r in created}) == 3
        assert len({r["taken_at"] for r in created}) == 3
        for row in created:
            assert client.get(f"/readings/{row['id']}").json() == row

        # The same UPDATE shape twice, and another one.
        first, second, third = (r["id"] for r in created)
        assert client.patch(f"/readings/{first}", json={"value": 10}).json()["value"] == 10
        assert client.patch(f"/readings/{second}", json={"value": 20}).json()["value"] == 20
        changed = client.patch(f"/readings/{third}", json={"value": 30, "note": "x"}).json()
        assert (changed["value"], changed["note"]) == (30, "x")
        assert client.patch(f"/readings/{uuid.uuid4()}", json={"value": 1}).status_code == 404

        # The same list shape with other values, then walked by cursor.
        assert [r["value"] for r in client.get("/readings?value__gte=15&sort=value").json()["items"]] == [20, 30]
        assert [r["value"] for r in client.get("/readings?value__gte=25&sort=value").json()["items"]] == [30]
        page = client.get("/readings?sort=value&limit=1").json()
        seen = [r["value"] for r in page["items"]]
        while page["next_cursor"]:
            page = client.get(f"/readings?sort=value&limit=1&cursor={page['next_cursor']}").json()
            seen += [r["value"] for r in page["items"]]
        assert seen == [10, 20, 30]
