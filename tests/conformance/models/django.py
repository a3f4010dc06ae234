"""The conformance models on the Django ORM: the same tables every ORM's module declares.

Fields carry their types as ``Field[set, get]``: django-stubs infers them only with its
mypy plugin, which needs a settings module at type-check time (standalone models have none).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models.functions import Now
from fastapi import FastAPI

from ormgate.adapters.django import DjangoAdapter, configure, setup
from tests.conformance.models import Status, contract_app, scoped_app

setup()  # the app registry must be ready before models are declared


class Category(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    name: models.CharField[str, str] = models.CharField(max_length=50, unique=True)

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "categories"


class Item(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    name: models.CharField[str, str] = models.CharField(max_length=100)
    description: models.TextField[str | None, str | None] = models.TextField(null=True)
    quantity: models.IntegerField[int, int] = models.IntegerField(default=0)
    big: models.BigIntegerField[int | None, int | None] = models.BigIntegerField(null=True)
    price: models.DecimalField[Decimal | None, Decimal | None] = models.DecimalField(
        max_digits=10, decimal_places=2, null=True
    )
    weight: models.FloatField[float | None, float | None] = models.FloatField(null=True)
    active: models.BooleanField[bool, bool] = models.BooleanField(default=True)
    status: models.CharField[str, str] = models.CharField(
        max_length=20, choices=[(s.value, s.name) for s in Status], default=Status.draft
    )
    released: models.DateField[dt.date | None, dt.date | None] = models.DateField(null=True)
    starts_at: models.TimeField[dt.time | None, dt.time | None] = models.TimeField(null=True)
    seen_at: models.DateTimeField[dt.datetime | None, dt.datetime | None] = models.DateTimeField(null=True)
    code: models.UUIDField[uuid.UUID | None, uuid.UUID | None] = models.UUIDField(null=True, unique=True)
    # DO_NOTHING: the database's foreign key decides, as on every other ORM (409 when still referenced).
    category: models.ForeignKey[Category | None, Category | None] = models.ForeignKey(
        Category, null=True, on_delete=models.DO_NOTHING
    )
    created_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField(db_default=Now())
    enabled: models.BooleanField[bool, bool] = models.BooleanField(db_default=True)
    duration: models.DurationField[dt.timedelta | None, dt.timedelta | None] = models.DurationField(null=True)
    payload: models.BinaryField[bytes | None, bytes | None] = models.BinaryField(null=True)
    document: models.JSONField[Any, Any] = models.JSONField(null=True)

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "items"


class Arrays(models.Model):
    """PostgreSQL's array columns: created on PostgreSQL only."""

    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    tags: ArrayField[list[str] | None, list[str] | None] = ArrayField(models.TextField(), null=True)
    scores: ArrayField[list[int], list[int]] = ArrayField(models.IntegerField())

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "arrays"


class Ghost(models.Model):
    """Declared but never created: every request on it is an unexpected database error."""

    id: models.AutoField[int, int] = models.AutoField(primary_key=True)

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "ghosts"


def create_app(url: str) -> FastAPI:
    arrays = Arrays if url.startswith("postgresql") else None
    return contract_app("django", DjangoAdapter(configure(url)), Category, Item, Ghost, arrays)


def audit(unit: Any, name: str) -> None:
    Category.objects.using(unit.alias).create(name=name)


def create_scoped_app(url: str) -> FastAPI:
    return scoped_app("django", DjangoAdapter(configure(url)), Category, Item, audit)
