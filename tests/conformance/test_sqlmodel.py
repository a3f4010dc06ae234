"""SQLModel table models through the SQLAlchemy adapter, on every SQLAlchemy pair.

SQLModel declares ``str`` fields as ``AutoString`` and aware datetimes as
``UTCDateTime``: ``TypeDecorator``s around ``String`` and ``DateTime``. Their
length, range and kind are read through the decorator (``impl_instance``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import AwareDatetime
from sqlmodel import Field, SQLModel

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter, describe
from ormgate.demo.common import new_app
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair

pytestmark = pytest.mark.sqlalchemy


class Hero(SQLModel, table=True):
    __tablename__ = "sqlmodel_heroes"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=50, unique=True)
    secret_name: str  # no length: unbounded, 255 on MySQL/MariaDB (VARCHAR(255))
    age: int | None = Field(default=None, index=True)
    power: Decimal | None = Field(default=None, max_digits=6, decimal_places=2)
    code: uuid.UUID | None = None
    seen_at: dt.datetime | None = None  # UTCDateTime: aware values
    met_at: AwareDatetime | None = None  # UTCDateTime too, annotated with Pydantic's refinement


class Odd(SQLModel, table=True):
    __tablename__ = "sqlmodel_odd"
    id: int | None = Field(default=None, primary_key=True)
    pickled: dict[str, int] = Field(sa_type=sa.PickleType)  # converted values, not of the stored type


def test_sqlmodel_columns_are_read_through_their_type_decorators() -> None:
    info = describe(Hero)
    name, secret, age, seen = (info.by_name[n] for n in ("name", "secret_name", "age", "seen_at"))
    assert (name.python_type, name.max_length, name.unique) == (str, 50, True)
    assert (secret.python_type, secret.max_length) == (str, None)
    assert (age.python_type, age.int_range) == (int, (-(2**31), 2**31 - 1))
    assert (seen.python_type, seen.timezone) == (dt.datetime, True)
    assert (info.by_name["met_at"].python_type, info.by_name["met_at"].timezone) == (dt.datetime, True)
    # A decorator that converts values and names no type is not taken on an annotation it contradicts.
    assert describe(Odd).by_name["pickled"].python_type is object
    assert info.pk.generated
    # The dialect's own impl: AutoString without a length is VARCHAR(255) on MySQL/MariaDB.
    for url, length in (("mysql+pymysql://", 255), ("postgresql+psycopg://", None), ("sqlite://", None)):
        dialect = sa.make_url(url).get_dialect()()
        assert describe(Hero, dialect).by_name["secret_name"].max_length == length


def test_a_type_decorator_that_names_its_python_type_keeps_it() -> None:
    class Tags(sa.TypeDecorator[list[str]]):
        """Comma-separated text, a list in Python: the decorator says so."""

        impl = sa.String(200)
        cache_ok = True

        @property
        def python_type(self) -> type[Any]:
            return list

    class Base(sa.orm.DeclarativeBase):
        pass

    class Post(Base):
        __tablename__ = "posts"
        id: sa.orm.Mapped[int] = sa.orm.mapped_column(primary_key=True)
        tags: sa.orm.Mapped[list[str]] = sa.orm.mapped_column(Tags)

    tags = describe(Post).by_name["tags"]
    assert (tags.python_type, tags.max_length) == (list, 200)


@pytest.fixture(params=pair_params())
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    pair: Pair = request.param
    with fresh_database(pair, tmp_path, "sqlmodel") as db:
        adapter = SQLAlchemyAdapter(create_engine(db.url(pair.scheme)))
        app = new_app("sqlalchemy", lambda: adapter.create_tables([Hero]))
        ormgate.Resource(Hero, adapter, path="/heroes").install(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


def test_sqlmodel_resource(client: TestClient) -> None:
    code = str(uuid.uuid4())
    sent = {
        "name": "Deadpond",
        "secret_name": "Dive Wilson",
        "power": "12.50",
        "code": code,
        "seen_at": "2026-11-29T10:00:00+02:00",  # MySQL keeps whole seconds
        "met_at": "2026-11-29T10:00:00Z",
    }
    created = client.post("/heroes", json=sent)
    assert created.status_code == 201, created.text
    hero = created.json()
    assert hero["name"] == "Deadpond"
    assert hero["power"] == "12.50"
    assert hero["code"] == code
    assert dt.datetime.fromisoformat(hero["seen_at"]) == dt.datetime(2026, 11, 29, 8, tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(hero["met_at"]) == dt.datetime(2026, 11, 29, 10, tzinfo=dt.UTC)
    assert (
        client.post("/heroes", json={"name": "Rusty-Man", "secret_name": "Tommy Sharp", "age": 48}).status_code == 201
    )
    assert client.post("/heroes", json={"name": "Spider-Boy", "secret_name": "Pedro", "age": 16}).status_code == 201

    listed = client.get("/heroes?sort=name")
    assert [h["name"] for h in listed.json()["items"]] == ["Deadpond", "Rusty-Man", "Spider-Boy"]
    assert [h["name"] for h in client.get("/heroes?age__gte=18").json()["items"]] == ["Rusty-Man"]
    assert [h["name"] for h in client.get("/heroes?name__icontains=BOY").json()["items"]] == ["Spider-Boy"]
    # Equality compares exactly on every database (MariaDB's default collation ignores case).
    assert client.get("/heroes?name=deadpond").json()["items"] == []
    assert client.get("/heroes?name=Deadpond").json()["items"][0]["id"] == hero["id"]

    patched = client.patch(f"/heroes/{hero['id']}", json={"age": 30})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**hero, "age": 30}
    assert client.get(f"/heroes/{hero['id']}").json()["age"] == 30

    # Field(max_length=50): 51 characters are a 422 naming the field, before any SQL.
    too_long = client.post("/heroes", json={"name": "x" * 51, "secret_name": "s"})
    assert too_long.status_code == 422, too_long.text
    assert [e["field"] for e in too_long.json()["errors"]] == ["name"]
    assert client.patch(f"/heroes/{hero['id']}", json={"name": "y" * 60}).status_code == 422
    assert client.post("/heroes", json={"name": "x" * 50, "secret_name": "s"}).status_code == 201
    # An integer beyond the column's range, and a duplicate name.
    assert client.patch(f"/heroes/{hero['id']}", json={"age": 2**31}).status_code == 422
    assert client.post("/heroes", json={"name": "Deadpond", "secret_name": "again"}).status_code == 409
    assert client.get("/heroes?count=true").json()["total"] == 4
    # A naive value sent to an aware column is taken as UTC, as on every ORM's timestamptz.
    naive = client.post("/heroes", json={"name": "Naive", "secret_name": "?", "met_at": "2026-11-29T10:00:00"})
    assert naive.status_code == 201, naive.text
    assert naive.json()["met_at"] == "2026-11-29T10:00:00Z"


def test_the_openapi_document_carries_the_lengths(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["HeroCreate"]["properties"]["name"]["maxLength"] == 50
