"""The relationships section's models on Peewee."""

import logging
from typing import Any

import peewee as pw
from fastapi import FastAPI

from ormgate.adapters.peewee import PeeweeAdapter, connect
from tests.conformance.relations import Statements, relations_app

STATEMENTS = Statements()


class Author(pw.Model):
    username = pw.CharField(max_length=50, unique=True)
    team = pw.IntegerField(default=0)
    email = pw.CharField(max_length=100, null=True)

    class Meta:
        table_name = "rel_authors"


class Tag(pw.Model):
    name = pw.CharField(max_length=50, unique=True)
    team = pw.IntegerField(default=0)

    class Meta:
        table_name = "rel_tags"


PostTagThrough = pw.DeferredThroughModel()


class Post(pw.Model):
    title = pw.CharField(max_length=100)
    author = pw.ForeignKeyField(Author, backref="posts")
    tags = pw.ManyToManyField(Tag, backref="posts", through_model=PostTagThrough)

    class Meta:
        table_name = "rel_posts"


class PostTag(pw.Model):
    post = pw.ForeignKeyField(Post, backref="+")
    tag = pw.ForeignKeyField(Tag, backref="+")

    class Meta:
        table_name = "rel_post_tags"
        indexes = ((("post", "tag"), True),)


PostTagThrough.set_model(PostTag)


class Comment(pw.Model):
    body = pw.CharField(max_length=200)
    team = pw.IntegerField(default=0)
    post = pw.ForeignKeyField(Post, backref="comments")
    author = pw.ForeignKeyField(Author, null=True, backref="+")

    class Meta:
        table_name = "rel_comments"


class _Counting(logging.Handler):
    # Peewee logs each statement it executes (Database.execute_sql) at DEBUG on its logger.
    def emit(self, record: Any) -> None:
        STATEMENTS.count()


_logger = logging.getLogger("peewee")
_logger.addHandler(_Counting(logging.DEBUG))
_logger.setLevel(logging.DEBUG)
_logger.propagate = False


def create_app(url: str) -> FastAPI:
    db = PeeweeAdapter(connect(url))
    return relations_app("peewee", db, Author, Post, Comment, Tag, [Author, Tag, Post, PostTag, Comment])
