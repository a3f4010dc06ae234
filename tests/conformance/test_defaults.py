"""Defaults that agree across ORMs: the default path, HEAD wherever GET, timestamps to the microsecond."""

from __future__ import annotations

import datetime as dt
import importlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate
from tests.conftest import Served

# -- the default path: "/" + the table's name; Django's made-up "<app>_<model>" is "/<model>" ------


def _paths_django(tmp_path: Path) -> tuple[Any, list[tuple[Any, str]]]:
    from django.db import models

    from ormgate.adapters.django import DjangoAdapter, configure, setup

    setup()

    class Todo(models.Model):  # table "ormgate_defaults_todo", made up by Django
        title: models.CharField[str, str] = models.CharField(max_length=50)

        class Meta:
            app_label = "ormgate_defaults"

    class Note(models.Model):  # table named by its model
        text: models.CharField[str, str] = models.CharField(max_length=50)

        class Meta:
            app_label = "ormgate_defaults"
            db_table = "notes"

    return DjangoAdapter(configure(f"sqlite:///{tmp_path}/django.sqlite3")), [(Todo, "/todo"), (Note, "/notes")]


def _paths_peewee(tmp_path: Path) -> tuple[Any, list[tuple[Any, str]]]:
    import peewee as pw

    from ormgate.adapters.peewee import PeeweeAdapter, connect

    class Todo(pw.Model):  # table "todo", made up by Peewee
        title = pw.CharField(max_length=50)

    class Note(pw.Model):
        text = pw.CharField(max_length=50)

        class Meta:
            table_name = "notes"

    return PeeweeAdapter(connect(f"sqlite:///{tmp_path}/peewee.sqlite3")), [(Todo, "/todo"), (Note, "/notes")]


def _paths_sqlalchemy(tmp_path: Path) -> tuple[Any, list[tuple[Any, str]]]:
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, mapped_column

    from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter

    class Base(DeclarativeBase):
        pass

    class Note(Base):  # SQLAlchemy has no made-up table name
        __tablename__ = "notes"
        id = mapped_column(sa.Integer, primary_key=True)
        text = mapped_column(sa.String(50), nullable=False)

    return SQLAlchemyAdapter(sa.create_engine(f"sqlite:///{tmp_path}/sa.sqlite3")), [(Note, "/notes")]


@pytest.mark.sqlite
@pytest.mark.parametrize(
    "orm", [pytest.param(orm, marks=getattr(pytest.mark, orm)) for orm in ("django", "peewee", "sqlalchemy")]
)
def test_the_default_path_is_the_table_name_without_djangos_app_prefix(orm: str, tmp_path: Path) -> None:
    db, expected = globals()[f"_paths_{orm}"](tmp_path)

    async def create() -> None:
        await db.create_tables([model for model, _ in expected])

    app = FastAPI(on_startup=[create])
    ormgate.install_problem_handlers(app)
    for model, path in expected:
        resource = ormgate.Resource(model, db)
        assert resource.path == path, (model, resource.path)
        resource.install(app)
    with TestClient(app) as client:
        for _, path in expected:
            assert client.get(path).json()["items"] == [], path


# -- HEAD answers as GET does, without the body -------------------------------------------------


@pytest.fixture
def api(contract: Served) -> Served:
    contract.clear("items", "categories")
    return contract


SAME = ("etag", "content-length", "content-type", "cache-control", "vary", "location", "link")


def _head_as_get(client: TestClient, path: str, **params: Any) -> int:
    got = client.get(path, params=params)
    head = client.head(path, params=params)
    assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
    assert head.content == b"", (path, head.content)
    for name in SAME:
        assert head.headers.get(name) == got.headers.get(name), (path, name, head.headers, got.headers)
    assert int(head.headers["content-length"]) == len(got.content) > 0
    return got.status_code


def test_head_answers_every_generated_get_as_get_without_the_body(api: Served) -> None:
    created = api.client.post("/items", json={"name": "lamp"})
    assert created.status_code == 201, created.text
    item = created.json()["id"]
    assert "etag" in api.client.get(f"/items/{item}").headers
    assert _head_as_get(api.client, f"/items/{item}") == 200
    assert _head_as_get(api.client, "/items") == 200
    assert _head_as_get(api.client, "/items", count="true", limit="1") == 200
    assert _head_as_get(api.client, "/items/987654") == 404
    assert _head_as_get(api.client, "/items", bogus="1") == 400
    # Other methods still refuse a HEAD where there is no GET.
    assert api.client.head("/no-such-path").status_code == 404


def test_head_answers_the_hand_written_get_as_get(users_service: Served) -> None:
    users_service.clear("users")
    body = {"username": "head", "email": "head@example.com", "password": "correct horse battery"}
    created = users_service.client.post("/users", json=body)
    assert created.status_code == 201, created.text
    assert _head_as_get(users_service.client, f"/users/{created.json()['id']}") == 200
    assert _head_as_get(users_service.client, "/users/987654") == 404


# -- timestamps keep their microseconds, on every ORM and database ------------------------------

STAMP = "2024-03-01T12:34:56.123456"


def test_a_timestamp_keeps_its_microseconds(api: Served) -> None:
    created = api.client.post("/items", json={"name": "stamped", "seen_at": STAMP})
    assert created.status_code == 201, created.text
    assert created.json()["seen_at"] == STAMP + "Z"
    item = created.json()["id"]
    assert api.client.get(f"/items/{item}").json()["seen_at"] == STAMP + "Z"
    found = api.client.get("/items", params={"seen_at": STAMP}).json()["items"]
    assert [row["id"] for row in found] == [item]
    patched = api.client.patch(f"/items/{item}", json={"seen_at": "2024-03-01T12:34:56.000001"})
    assert patched.json()["seen_at"] == "2024-03-01T12:34:56.000001Z", patched.text
    stored = api.scalar("SELECT seen_at FROM items WHERE id = :id", id=item)
    if isinstance(stored, str):  # SQLite: text, written the same way by every ORM
        assert stored == "2024-03-01 12:34:56.000001", stored
    else:
        assert stored.replace(tzinfo=None) == dt.datetime(2024, 3, 1, 12, 34, 56, 1), stored


def test_a_whole_second_round_trips_and_is_found_by_equality(api: Served) -> None:
    created = api.client.post("/items", json={"name": "whole", "seen_at": "2024-03-01T12:34:56"})
    assert created.status_code == 201, created.text
    assert created.json()["seen_at"] == "2024-03-01T12:34:56Z"
    found = api.client.get("/items", params={"seen_at": "2024-03-01T12:34:56"}).json()["items"]
    assert [row["name"] for row in found] == ["whole"]
    stored = api.scalar("SELECT seen_at FROM items WHERE id = :id", id=created.json()["id"])
    if isinstance(stored, str):  # SQLite: as Python writes it, and CURRENT_TIMESTAMP: no fraction
        assert stored == "2024-03-01 12:34:56", stored


# -- a cursor walk over a timestamp returns every row once, whoever wrote each ------------------


def _walk(api: Served, sort: str) -> list[int]:
    ids: list[int] = []
    url = f"/items?sort={sort}&limit=2&fields=id"
    for _ in range(20):
        body = api.client.get(url).json()
        ids += [row["id"] for row in body["items"]]
        if body["next_cursor"] is None:
            return ids
        url = f"/items?sort={sort}&limit=2&fields=id&cursor={body['next_cursor']}"
    raise AssertionError(f"the walk on {sort} did not end: {ids}")


def _created(api: Served, count: int, **values: Any) -> list[int]:
    made = [api.client.post("/items", json={"name": f"n{n}", **values}) for n in range(count)]
    assert all(r.status_code == 201 for r in made), [r.text for r in made]
    return [r.json()["id"] for r in made]


def test_a_cursor_walk_over_a_server_default_timestamp_returns_every_row_once(api: Served) -> None:
    # CURRENT_TIMESTAMP on SQLite writes whole seconds ("2024-01-02 12:34:56"): the rows share
    # a second, and the cursor's value must compare equal to the text stored.
    ids = _created(api, 7)
    for sort in ("created_at", "-created_at", "created_at,-id", "-created_at,-id"):
        walked = _walk(api, sort)
        assert sorted(walked) == ids, (sort, walked)


def test_a_timestamp_written_by_the_server_and_by_the_orm_compares_as_one(api: Served) -> None:
    server = _created(api, 3)
    api.execute("UPDATE items SET seen_at = CURRENT_TIMESTAMP")  # the database's own text
    moment = api.client.get(f"/items/{server[0]}").json()["seen_at"]
    ids = server + _created(api, 3, seen_at=moment)  # the same instant, as the ORM writes it
    for sort in ("seen_at", "-seen_at", "seen_at,-id", "-seen_at,-id"):
        assert sorted(_walk(api, sort)) == ids, sort
    if api.pair.database == "sqlite":  # rows kept as older SQLAlchemy wrote whole seconds, and with millis
        text = api.scalar("SELECT seen_at FROM items WHERE id = :id", id=server[0])
        legacy = _created(api, 2)
        api.execute("UPDATE items SET seen_at = :t WHERE id = :id", t=text + ".000000", id=legacy[0])
        api.execute("UPDATE items SET seen_at = :t WHERE id = :id", t=text + ".000", id=legacy[1])
        ids += legacy
    for op, expected in (("", ids), ("__gte", ids), ("__lte", ids), ("__gt", []), ("__lt", []), ("__ne", [])):
        found = api.client.get("/items", params={f"seen_at{op}": moment, "limit": 50}).json()["items"]
        assert sorted(row["id"] for row in found) == expected, (op, found)


STAMPS = ("2024-03-01T12:34:56", "2024-03-01T12:34:56.000001", "2024-03-01T12:34:56.5")


@pytest.mark.sqlite
@pytest.mark.parametrize(
    ("writer", "reader"),
    [
        pytest.param(writer, reader, marks=[getattr(pytest.mark, writer), getattr(pytest.mark, reader)])
        for writer, reader in [
            ("sqlalchemy", "peewee"),
            ("sqlalchemy", "django"),
            ("peewee", "sqlalchemy"),
            ("django", "sqlalchemy"),
        ]
    ],
)
def test_orms_sharing_a_sqlite_file_write_and_find_the_same_timestamps(
    writer: str, reader: str, tmp_path: Path
) -> None:
    path = tmp_path / "shared.sqlite3"
    apps = [
        importlib.import_module(f"tests.conformance.models.{orm}").create_app(f"sqlite:///{path}")
        for orm in (writer, reader)
    ]
    with TestClient(apps[0]) as written, TestClient(apps[1]) as read:
        for stamp in STAMPS:
            made = written.post("/items", json={"name": stamp, "seen_at": stamp, "starts_at": stamp[11:]})
            assert made.status_code == 201, made.text
        for stamp in STAMPS:
            for client in (written, read):
                found = client.get("/items", params={"seen_at": stamp, "starts_at": stamp[11:]}).json()["items"]
                assert [row["name"] for row in found] == [stamp], (client is read, stamp, found)
        stored = sqlite3.connect(path).execute("SELECT seen_at, starts_at FROM items ORDER BY id").fetchall()
    assert stored == [
        ("2024-03-01 12:34:56", "12:34:56"),
        ("2024-03-01 12:34:56.000001", "12:34:56.000001"),
        ("2024-03-01 12:34:56.500000", "12:34:56.500000"),
    ]
