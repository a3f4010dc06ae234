"""The relationships section's models, declared once per ORM with the same tables and relation names.

Tables rel_authors, rel_posts, rel_comments, rel_tags and rel_post_tags (prefixed: the users service,
served on the same databases, has tables posts and tags of its own):
authors(id, username unique); posts(id, title, author_id -> authors); comments(id, body,
post_id -> posts, author_id -> authors, nullable); tags(id, name unique); post_tags(post_id,
tag_id): posts and tags, many to many. Authors, comments and tags belong to a team (a number,
0 by default), and an author may have an email. Each module's ``STATEMENTS`` counts the statements
its app sends to the database, with the ORM's own hook.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header

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
    app = new_app(orm, lambda: db.create_tables(tables), db)
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
    # The posts again, with after hooks that count the post's pairs through their unit (/hooked_posts).
    record = functools.partial(_record_pairs, orm)
    hooks = ormgate.Hooks(after_create=record, after_update=record)
    ormgate.Resource(post, db, path="/hooked_posts", limits=limits, links=["tags"], hooks=hooks).install(app)
    team_app(app, db, author, post, comment, tag)
    return app


# What the after hooks of /hooked_posts saw: (operation, post id, its pairs in rel_post_tags).
PAIRS_SEEN: list[tuple[str, Any, int]] = []


def _record_pairs(orm: str, event: ormgate.Event) -> None:
    """Counts the post's rows of rel_post_tags in the write's own transaction, as the hook's ``unit`` reads."""
    sql = "SELECT COUNT(*) FROM rel_post_tags WHERE post_id = {}"
    unit = event.unit
    if orm == "sqlalchemy":
        count = unit.execute(sa.text(sql.format(":pk")), {"pk": event.pk}).scalar_one()
    elif orm == "django":
        with unit.cursor() as cursor:
            cursor.execute(sql.format("%s"), [event.pk])
            count = cursor.fetchone()[0]
    else:
        count = unit.execute_sql(sql.format(unit.param), (event.pk,)).fetchone()[0]
    PAIRS_SEEN.append((event.operation, event.pk, count))


# -- includes that name a resource: the rows embedded obey its scope ----------------------------------


async def author_scope(
    x_team: Annotated[int | None, Header()] = None, x_role: Annotated[str | None, Header()] = None
) -> ormgate.Scope | None:
    """The authors of the request's team (``X-Team``); ``X-Role: guest`` may not see their email.

    No header: an administrator's request, every author.
    """
    where = {} if x_team is None else {"team": x_team}
    hidden = {"email"} if x_role == "guest" else set()
    return ormgate.Scope(where, hidden=hidden) if where or hidden else None


async def team_scope(x_team: Annotated[int | None, Header()] = None) -> ormgate.Scope | None:
    """The comments, or tags, of the request's team (``X-Team``); none: every row."""
    return None if x_team is None else ormgate.Scope({"team": x_team})


def nothing() -> None:
    """A router's dependency: it gives the routes FastAPI's own handler in place of the lean one."""


def team_app(app: FastAPI, db: Adapter, author: Any, post: Any, comment: Any, tag: Any) -> None:
    """/team_authors, /team_comments and /team_tags, scoped by team; /team_posts, unscoped, includes them.

    /fastapi_team_posts is /team_posts again, served by FastAPI's own handler (a router's dependency).
    """
    limits = (20, 100)
    authors = ormgate.Resource(
        author, db, path="/team_authors", limits=limits, scope=author_scope, restricted=["email"]
    )
    comments = ormgate.Resource(comment, db, path="/team_comments", limits=limits, scope=team_scope)
    tags = ormgate.Resource(tag, db, path="/team_tags", limits=limits, scope=team_scope)
    for resource in (authors, comments, tags):
        resource.install(app)
    for path in ("/team_posts", "/fastapi_team_posts"):
        posts = ormgate.Resource(
            post,
            db,
            path=path,
            limits=limits,
            includes={
                "author": authors,
                "comments": ormgate.Include(resource=comments, max_items=MAX_COMMENTS),
                "comments.author": authors,
                "tags": tags,
            },
            filters_across=[
                "author__username",
                "author__email",
                "comments__body",
                "comments__author__username",
                "tags__name",
            ],
        )
        if path == "/team_posts":
            posts.install(app)
        else:
            app.include_router(posts.router, dependencies=[Depends(nothing)])
