"""How each ORM's column types are described, and which the schemas refuse: no database involved."""

from __future__ import annotations

import datetime as dt
import enum
import json
import uuid
from decimal import Decimal
from typing import Any

import peewee as pw
import pydantic
import pytest
import sqlalchemy as sa
from django.db import models
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import ormgate
from ormgate import FieldInfo, ModelInfo
from ormgate.adapters import django as django_adapter
from ormgate.adapters import peewee as peewee_adapter
from ormgate.adapters import sqlalchemy as sqlalchemy_adapter
from ormgate.model import JSON
from ormgate.resource import dumps

django_adapter.setup()


class Base(DeclarativeBase):
    pass


class Opaque(sa.types.TypeDecorator[Any]):
    """A type whose values ormgate cannot know: it converts them and names no python_type."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> Any:
        return value


class Numbered(Base):
    __tablename__ = "numbered"
    id: Mapped[int] = mapped_column(sa.Sequence("numbered_id"), primary_key=True)
    ticket: Mapped[int] = mapped_column(sa.Sequence("numbered_ticket"))
    active: Mapped[bool] = mapped_column(server_default=sa.true())
    doubled: Mapped[int] = mapped_column(sa.Computed("ticket * 2"))
    serial: Mapped[int] = mapped_column(sa.Identity())


class Odd(Base):
    __tablename__ = "odd"
    id: Mapped[int] = mapped_column(primary_key=True)
    blob: Mapped[Any] = mapped_column(Opaque)
    pickled: Mapped[Any] = mapped_column(sa.PickleType)


class Point(pw.Field):
    field_type = "POINT"  # no Python type that playhouse.pydantic_utils knows


class PeeweeOdd(pw.Model):
    where = Point()
    stamp = pw.DateTimeField(default=pw.fn.now())
    flag = pw.BooleanField(constraints=[pw.SQL("DEFAULT TRUE")])
    total = pw.IntegerField(constraints=[pw.SQL("GENERATED ALWAYS AS (1) STORED")])


class Money(models.Field):  # type: ignore[type-arg]
    def get_internal_type(self) -> str:
        return "MoneyField"


class DjangoOdd(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    amount: Money = Money()
    flag: models.BooleanField[bool, bool] = models.BooleanField(db_default=True)

    class Meta:
        app_label = "ormgate_unit"


def by_name(info: ModelInfo) -> dict[str, FieldInfo]:
    return dict(info.by_name)


def test_sqlalchemy_sequences_and_server_defaults_are_optional_and_writable() -> None:
    fields = by_name(sqlalchemy_adapter.describe(Numbered))
    assert fields["id"].generated
    for name in ("ticket", "active"):
        assert (fields[name].generated, fields[name].server_default, fields[name].required) == (False, True, False)
    assert fields["doubled"].generated
    assert fields["serial"].generated
    schemas = ormgate.derive(sqlalchemy_adapter.describe(Numbered))
    assert set(schemas.create.model_fields) - {"id", "doubled", "serial"} == {"ticket", "active"}
    assert schemas.writable == ("ticket", "active")


def test_peewee_and_django_server_defaults_are_optional_and_writable() -> None:
    pw_fields = by_name(peewee_adapter.describe(PeeweeOdd))
    assert (pw_fields["stamp"].server_default, pw_fields["stamp"].generated) == (True, False)
    assert (pw_fields["flag"].server_default, pw_fields["flag"].generated) == (True, False)
    assert pw_fields["total"].generated
    dj_fields = by_name(django_adapter.describe(DjangoOdd))
    assert (dj_fields["flag"].server_default, dj_fields["flag"].generated, dj_fields["flag"].required) == (
        True,
        False,
        False,
    )


@pytest.mark.parametrize(
    ("info", "column"),
    [
        (lambda: sqlalchemy_adapter.describe(Odd), "Odd.blob (object), Odd.pickled (object)"),
        (lambda: peewee_adapter.describe(PeeweeOdd), "PeeweeOdd.where (object)"),
        (lambda: django_adapter.describe(DjangoOdd), "DjangoOdd.amount (object)"),
    ],
    ids=["sqlalchemy", "peewee", "django"],
)
def test_a_column_type_that_cannot_be_served_is_refused_naming_it(info: Any, column: str) -> None:
    with pytest.raises(ValueError, match=f"cannot serve {column.replace('(', '[(]').replace(')', '[)]')} as JSON"):
        ormgate.derive(info())


def test_an_unservable_column_can_be_excluded_or_annotated() -> None:
    info = sqlalchemy_adapter.describe(Odd)
    schemas = ormgate.derive(info, exclude=["blob"], fields={"pickled": dict[str, int]})
    assert schemas.read_fields == ("id", "pickled")


def test_resource_refuses_the_model_when_it_is_built(tmp_path: Any) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'odd.sqlite3'}")
    with pytest.raises(ValueError, match=r"Odd\.blob"):
        ormgate.Resource(Odd, sqlalchemy_adapter.SQLAlchemyAdapter(engine))
    engine.dispose()


INFO = ModelInfo(
    "Typed",
    "typed",
    (
        FieldInfo("id", int, primary_key=True, generated=True),
        FieldInfo("data", bytes),
        FieldInfo("doc", JSON),
        FieldInfo("maybe", JSON, nullable=True),
        FieldInfo("span", dt.timedelta),
        FieldInfo("tags", list, item_type=str),
    ),
)


def test_bytes_are_base64_in_python_mode_too() -> None:
    # FastAPI's own handler (a route with dependencies) validates the parsed body in Python mode.
    create = ormgate.derive(INFO).create
    body = {"data": "AP8=", "doc": {"a": 1}, "span": "PT1S", "tags": ["x"]}
    assert create.model_validate(body).model_dump()["data"] == b"\x00\xff"
    assert create.model_validate_json(pydantic.TypeAdapter(dict[str, Any]).dump_json(body)).data == b"\x00\xff"  # type: ignore[attr-defined]


def test_json_null_only_where_the_column_is_nullable() -> None:
    create = ormgate.derive(INFO).create
    valid = {"data": "", "doc": [1], "span": "PT1S", "tags": []}
    assert create.model_validate({**valid, "maybe": None}).model_dump()["maybe"] is None
    with pytest.raises(pydantic.ValidationError) as caught:
        create.model_validate({**valid, "doc": None})
    assert [(e["loc"], e["type"]) for e in caught.value.errors()] == [(("doc",), "json_null")]
    with pytest.raises(pydantic.ValidationError):
        create.model_validate({**valid, "tags": ["a\x00b"]})


class Colour(enum.Enum):
    red = "red"


EVERY_TYPE = ModelInfo(
    "Every",
    "every",
    (
        FieldInfo("id", int, primary_key=True, generated=True),
        FieldInfo("text", str),
        FieldInfo("number", float),
        FieldInfo("big", int),
        FieldInfo("flag", bool),
        FieldInfo("price", Decimal),
        FieldInfo("day", dt.date),
        FieldInfo("moment", dt.datetime),
        FieldInfo("aware", dt.datetime, timezone=True),
        FieldInfo("shifted", dt.datetime, timezone=True),
        FieldInfo("clock", dt.time),
        FieldInfo("span", dt.timedelta),
        FieldInfo("negative", dt.timedelta),
        FieldInfo("code", uuid.UUID),
        FieldInfo("colour", Colour, choices=tuple(Colour)),
        FieldInfo("data", bytes),
        FieldInfo("doc", JSON),
        FieldInfo("tags", list, item_type=Decimal),
        FieldInfo("nothing", str, nullable=True),
    ),
)
ROW: dict[str, Any] = {
    "id": 1,
    "text": "Ärger \U0001f600",
    "number": 1e16,
    "big": -(2**63),
    "flag": True,
    "price": Decimal("12.50"),
    "day": dt.date(2024, 2, 29),
    "moment": dt.datetime(2024, 3, 1, 12, 34, 56, 789),
    "aware": dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.UTC),
    "shifted": dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    "clock": dt.time(9, 30, 0, 5),
    "span": dt.timedelta(days=1, hours=2, seconds=3, microseconds=4),
    "negative": -dt.timedelta(hours=1),
    "code": uuid.UUID(int=7),
    "colour": Colour.red,
    "data": bytes(range(256)),
    "doc": {"a": [1, 2.5, None, "x"], "b": 2**70},
    "tags": [Decimal("1.10")],
    "nothing": None,
}


def test_responses_write_every_served_type_as_pydantic_does_and_read_it_back() -> None:
    schemas = ormgate.derive(EVERY_TYPE)
    written = json.loads(dumps(ROW))
    assert written == json.loads(schemas.read.model_validate(ROW).model_dump_json())
    # ... and a client sending it back gets the same values.
    sent = {k: v for k, v in written.items() if k != "id"}
    assert schemas.create.model_validate_json(json.dumps(sent)).model_dump(exclude_unset=True) == {
        k: v for k, v in ROW.items() if k != "id"
    }


def test_django_apps_cannot_be_added_after_setup() -> None:
    # setup() ran at import: a later call asking for an app it lacks says so, rather than nothing.
    django_adapter.setup(installed_apps=[])
    with pytest.raises(ValueError, match=r"without django\.contrib\.flatpages: name every app in the first setup"):
        django_adapter.setup(installed_apps=["django.contrib.flatpages"])
