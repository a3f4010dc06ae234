"""The relationships section's models, declared once per ORM with the same tables and relation names.

Tables rel_authors, rel_posts, rel_comments, rel_tags and rel_post_tags (prefixed: the users service,
served on the same databases, has tables posts and tags of its own):
authors(id, username unique); posts(id, title, author_id -> authors); comments(id, body,
post_id -> posts, author_id -> authors, nullable); tags(id, name unique); post_tags(post_id,
tag_id): posts and tags, many to many. Each module's ``STATEMENTS`` counts the statements its
app sends to the database, with the ORM's own hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

import ormgate
from ormgate.adapters.base import Adapter
from ormgate.demo.common import new_app

MAX_COMMENTS = 3
MAX_TAGS = 4


class Statements:
    """How many statements the app has sent; each ORM's module hooks its ``count``."""

    def __init__(self) -> None:
        self.sent = 0

    def count(self, *args: Any, **kwargs: Any) -> None:
        self.sent += 1


def relations_app(
    orm: str, db: Adapter, author: Any, post: Any, comment: Any, tag: Any, tables: Sequence[Any]
) -> FastAPI:
    """The app: authors, posts, comments and tags, with what each may include."""
    app = new_app(orm, lambda: db.create_tables(tables))
    limits = (20, 100)
    ormgate.Resource(
        author,
        db,
        path="/authors",
        limits=limits,
        includes={"posts": None, "posts.comments": MAX_COMMENTS},
        filters_across=["posts__comments__body"],
    ).install(app)
    ormgate.Resource(
        post,
        db,
        path="/posts",
        limits=limits,
        includes={"author": None, "comments": MAX_COMMENTS, "comments.author": None, "tags": MAX_TAGS},
        links=["tags"],
        filters_across={
            "author__id": None,
            "author__username": None,
            "comments__body": ["eq", "icontains"],
            "comments__author__username": None,
            "comments__author_id": ["isnull"],
            "tags__name": None,
        },
    ).install(app)
    ormgate.Resource(comment, db, path="/comments", limits=limits, includes=["post", "post.author", "author"]).install(
        app
    )
    ormgate.Resource(tag, db, path="/tags", limits=limits, includes=["posts"]).install(app)
    ormgate.Resource(tag, db, limits=limits, path="/bare_tags", routes=["list"]).install(app)
    return app
