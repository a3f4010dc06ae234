"""The relationships section's models on the Django ORM."""

from __future__ import annotations

import zlib
from typing import Any

from django.db import models
from django.db.backends.signals import connection_created
from fastapi import FastAPI

from ormgate.adapters.django import DjangoAdapter, configure, setup
from tests.conformance.relations import Statements, relations_app

setup()

STATEMENTS = Statements()


class Author(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    username: models.CharField[str, str] = models.CharField(max_length=50, unique=True)
    team: models.IntegerField[int, int] = models.IntegerField(default=0)
    email: models.CharField[str | None, str | None] = models.CharField(max_length=100, null=True)

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "rel_authors"


class Tag(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    name: models.CharField[str, str] = models.CharField(max_length=50, unique=True)
    team: models.IntegerField[int, int] = models.IntegerField(default=0)

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "rel_tags"


class Post(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    title: models.CharField[str, str] = models.CharField(max_length=100)
    author: models.ForeignKey[Author, Author] = models.ForeignKey(
        Author, on_delete=models.DO_NOTHING, related_name="posts"
    )
    tags: models.ManyToManyField[Tag, Any] = models.ManyToManyField(Tag, db_table="rel_post_tags", related_name="posts")

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "rel_posts"


class Comment(models.Model):
    id: models.AutoField[int, int] = models.AutoField(primary_key=True)
    body: models.CharField[str, str] = models.CharField(max_length=200)
    team: models.IntegerField[int, int] = models.IntegerField(default=0)
    post: models.ForeignKey[Post, Post] = models.ForeignKey(Post, on_delete=models.DO_NOTHING, related_name="comments")
    author: models.ForeignKey[Author | None, Author | None] = models.ForeignKey(
        Author, null=True, on_delete=models.DO_NOTHING, related_name="+"
    )

    class Meta:
        app_label = "ormgate_conformance"
        db_table = "rel_comments"


def _counted(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
    STATEMENTS.count()
    return execute(sql, params, many, context)


def _count_on(sender: Any, connection: Any, **kwargs: Any) -> None:
    # Every connection Django opens, in whichever thread: execute_wrapper() would hook one thread's.
    # A wrapper reconnecting (after a health check) sends the signal again: hooked once.
    if _counted not in connection.execute_wrappers:
        connection.execute_wrappers.append(_counted)


connection_created.connect(_count_on, weak=False)


def create_app(url: str) -> FastAPI:
    # An alias of its own: its connections are all opened after _count_on is connected (the other
    # modules' apps on this database may have opened theirs, in the worker threads, before).
    db = DjangoAdapter(configure(url, alias=f"ormgate_relations_{zlib.crc32(url.encode())}"))
    return relations_app("django", db, Author, Post, Comment, Tag, [Author, Tag, Post, Comment])
