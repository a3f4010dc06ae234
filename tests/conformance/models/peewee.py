"""The conformance models on Peewee: the same tables every ORM's module declares.

The models name no database: the adapter binds its own copy of each to the app's.
"""

import datetime as dt
from typing import Any

import peewee as pw
from fastapi import FastAPI
from playhouse.fields import EnumField
from playhouse.postgres_ext import ArrayField

from ormgate.adapters.peewee import PeeweeAdapter, connect
from tests.conformance.models import Status, contract_app, scoped_app


class DurationField(pw.Field):
    """A timedelta as microseconds: Peewee has an interval field for PostgreSQL only.

    Its ``field_type`` is what tells playhouse.pydantic_utils (and ormgate) the Python type.
    """

    field_type = "INTERVAL"

    def ddl_datatype(self, ctx: Any) -> Any:
        return pw.SQL("BIGINT")

    def db_value(self, value: dt.timedelta | None) -> int | None:
        return None if value is None else value // dt.timedelta(microseconds=1)

    def python_value(self, value: int | None) -> dt.timedelta | None:
        return None if value is None else dt.timedelta(microseconds=value)


class Category(pw.Model):
    name = pw.CharField(max_length=50, unique=True)

    class Meta:
        table_name = "categories"


class Item(pw.Model):
    name = pw.CharField(max_length=100)
    description = pw.TextField(null=True)
    quantity = pw.IntegerField(default=0)
    big = pw.BigIntegerField(null=True)
    price = pw.DecimalField(max_digits=10, decimal_places=2, null=True)
    weight = pw.DoubleField(null=True)
    active = pw.BooleanField(default=True)
    status = EnumField(Status, max_length=20, default=Status.draft)
    released = pw.DateField(null=True)
    starts_at = pw.TimeField(null=True)
    seen_at = pw.DateTimeField(null=True)
    code = pw.UUIDField(null=True, unique=True)
    category = pw.ForeignKeyField(Category, null=True)  # the category_id column
    created_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])
    enabled = pw.BooleanField(constraints=[pw.SQL("DEFAULT TRUE")])
    duration = DurationField(null=True)
    payload = pw.BlobField(null=True)
    document = pw.JSONField(null=True)

    class Meta:
        table_name = "items"


class Arrays(pw.Model):
    """PostgreSQL's array columns: created on PostgreSQL only."""

    tags = ArrayField(pw.TextField, null=True)
    scores = ArrayField(pw.IntegerField)

    class Meta:
        table_name = "arrays"


class Ghost(pw.Model):
    """Declared but never created: every request on it is an unexpected database error."""

    class Meta:
        table_name = "ghosts"


def create_app(url: str) -> FastAPI:
    arrays = Arrays if url.startswith("postgresql") else None
    return contract_app("peewee", PeeweeAdapter(connect(url)), Category, Item, Ghost, arrays)


def audit(unit: Any, name: str) -> None:
    unit.execute_sql(f"INSERT INTO categories (name) VALUES ({unit.param})", (name,))


def create_scoped_app(url: str) -> FastAPI:
    return scoped_app("peewee", PeeweeAdapter(connect(url)), Category, Item, audit)
