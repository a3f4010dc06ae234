"""A resource on a single-table-inheritance subclass serves only its rows; joined-table inheritance is refused.

The subclass's discriminator is a fixed filter of every statement (list, count,
get, update, delete) and its fixed value on create, read-only in the schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.common import new_app
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair

pytestmark = pytest.mark.sqlalchemy


class Base(DeclarativeBase):
    pass


class Animal(Base):
    __tablename__ = "animals"
    __mapper_args__ = {"polymorphic_on": "kind", "polymorphic_identity": "animal"}  # noqa: RUF012
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    name: Mapped[str] = mapped_column(sa.String(50))


class Cat(Animal):
    __mapper_args__ = {"polymorphic_identity": "cat"}  # noqa: RUF012
    lives: Mapped[int | None]


class Kitten(Cat):
    __mapper_args__ = {"polymorphic_identity": "kitten"}  # noqa: RUF012


class Dog(Animal):
    __mapper_args__ = {"polymorphic_identity": "dog"}  # noqa: RUF012


class Pet(Animal):
    """An abstract intermediate class: no identity of its own to write on create."""

    __mapper_args__ = {"polymorphic_abstract": True}  # noqa: RUF012


class Vehicle(Base):
    __tablename__ = "vehicles"
    __mapper_args__ = {"polymorphic_on": "type", "polymorphic_identity": "vehicle"}  # noqa: RUF012
    id: Mapped[int] = mapped_column(primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(20))


class Car(Vehicle):
    __tablename__ = "cars"
    __mapper_args__ = {"polymorphic_identity": "car"}  # noqa: RUF012
    id: Mapped[int] = mapped_column(sa.ForeignKey("vehicles.id"), primary_key=True)
    doors: Mapped[int]


@pytest.fixture(params=pair_params())
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    pair: Pair = request.param
    with fresh_database(pair, tmp_path, "sqlalchemy_inherit") as db:
        adapter = SQLAlchemyAdapter(create_engine(db.url(pair.scheme)))
        app = new_app("sqlalchemy", lambda: adapter.create_tables([Animal]))
        for model, path in ((Animal, "/animals"), (Cat, "/cats"), (Kitten, "/kittens"), (Dog, "/dogs")):
            ormgate.Resource(model, adapter, path=path).install(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


def _names(client: TestClient, path: str) -> list[str]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return [row["name"] for row in response.json()["items"]]


def test_a_single_table_subclass_serves_only_its_rows(client: TestClient) -> None:
    tom = client.post("/cats", json={"name": "tom", "lives": 9})
    assert tom.status_code == 201, tom.text
    assert tom.json()["kind"] == "cat"
    assert client.post("/kittens", json={"name": "kit"}).json()["kind"] == "kitten"
    rex = client.post("/dogs", json={"name": "rex"}).json()
    assert rex["kind"] == "dog"
    assert client.post("/animals", json={"name": "gen", "kind": "animal"}).status_code == 201
    # The discriminator is the subclass's to set.
    sent = client.post("/cats", json={"name": "fake", "kind": "dog"})
    assert sent.status_code == 422, sent.text

    assert _names(client, "/cats?sort=name") == ["kit", "tom"]  # a kitten is a cat, as select(Cat) reads it
    assert _names(client, "/kittens") == ["kit"]
    assert _names(client, "/dogs") == ["rex"]
    assert _names(client, "/animals?sort=name") == ["gen", "kit", "rex", "tom"]
    assert client.get("/cats?count=true").json()["total"] == 2
    assert client.get("/dogs?name__contains=o&count=true").json()["total"] == 0
    cursor = client.get("/cats?sort=name&limit=1").json()["next_cursor"]
    assert _names(client, f"/cats?sort=name&limit=5&cursor={cursor}") == ["tom"]

    # Another subclass's row is not there for this resource.
    dog = f"/cats/{rex['id']}"
    assert client.get(dog).status_code == 404
    assert client.patch(dog, json={"name": "cat now"}).status_code == 404
    assert client.put(dog, json={"name": "cat now"}).status_code == 404
    assert client.delete(dog).status_code == 404
    assert client.get(f"/dogs/{rex['id']}").json() == rex

    cat = f"/cats/{tom.json()['id']}"
    assert client.get(cat).json() == tom.json()
    patched = client.patch(cat, json={"lives": 8})
    assert patched.status_code == 200, patched.text
    assert patched.json()["kind"] == "cat"
    assert client.delete(cat).status_code == 204
    assert _names(client, "/animals?sort=name") == ["gen", "kit", "rex"]


def test_joined_table_inheritance_is_refused_with_a_clear_error() -> None:
    adapter = SQLAlchemyAdapter(sa.create_engine("sqlite:///unused.sqlite3"))
    with pytest.raises(ValueError, match=r"Car uses joined-table inheritance \(its columns span cars, vehicles\)"):
        ormgate.Resource(Car, adapter)
    assert ormgate.Resource(Vehicle, adapter).info.by_name["type"].generated is False
    with pytest.raises(ValueError, match=r"Pet: .* a polymorphic_identity of its own"):
        ormgate.Resource(Pet, adapter)
