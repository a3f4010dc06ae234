"""The conformance models on Peewee: the same tables every ORM's module declares.

The models name no database: the adapter binds its own copy of each to the app's.
"""

import peewee as pw
from fastapi import FastAPI
from playhouse.fields import EnumField

from ormgate.adapters.peewee import PeeweeAdapter, connect
from tests.conformance.models import Status, contract_app


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

    class Meta:
        table_name = "items"


class Ghost(pw.Model):
    """Declared but never created: every request on it is an unexpected database error."""

    class Meta:
        table_name = "ghosts"


def create_app(url: str) -> FastAPI:
    return contract_app("peewee", PeeweeAdapter(connect(url)), Category, Item, Ghost)
