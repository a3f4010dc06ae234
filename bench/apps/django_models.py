"""The benchmark tables as Django models. Import them after Django is set up.

Fields carry their types as ``Field[set, get]``: django-stubs infers them only with its mypy plugin.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models.functions import Now


class _UserFields(models.Model):
    """The users table's columns, declared once for both models of it below."""

    username: models.CharField[str, str] = models.CharField(max_length=150, unique=True)
    email: models.CharField[str, str] = models.CharField(max_length=254, unique=True)
    full_name: models.CharField[str, str] = models.CharField(max_length=200)
    age: models.IntegerField[int, int] = models.IntegerField()
    created_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField(db_default=Now(), db_index=True)

    class Meta:
        abstract = True


class User(_UserFields):
    class Meta:
        app_label = "bench"
        db_table = "users"


class TenantUser(_UserFields):
    """The same table with its ``tenant`` column, for the scoped workloads (bench/apps/scoped.py)."""

    tenant: models.IntegerField[int, int] = models.IntegerField(db_default=1)

    class Meta:
        app_label = "bench"
        db_table = "users"


class Post(models.Model):
    # DO_NOTHING: the database's key decides; "+": no reverse accessor on User, which stays as it was.
    author: models.ForeignKey[User, User] = models.ForeignKey(User, on_delete=models.DO_NOTHING, related_name="+")
    title: models.CharField[str, str] = models.CharField(max_length=200)
    body: models.TextField[str, str] = models.TextField()
    created_at: models.DateTimeField[dt.datetime, dt.datetime] = models.DateTimeField(db_default=Now())

    class Meta:
        app_label = "bench"
        db_table = "posts"
