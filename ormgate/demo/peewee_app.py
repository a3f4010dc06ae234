"""The users service on Peewee: a plain model, bound by the adapter to each app's database."""

from typing import Any

import peewee as pw
from fastapi import FastAPI

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, blog_resources, install_auth, new_app, session_routes


class User(pw.Model):
    username = pw.CharField(max_length=150, unique=True)
    email = pw.CharField(max_length=254, unique=True)
    password_hash = pw.CharField(max_length=255)
    created_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])

    class Meta:
        table_name = "users"


class Tag(pw.Model):
    name = pw.CharField(max_length=50, unique=True)

    class Meta:
        table_name = "tags"


PostTags = pw.DeferredThroughModel()


class Post(pw.Model):
    title = pw.CharField(max_length=200)
    author = pw.ForeignKeyField(User, backref="posts")  # the author_id column
    tags = pw.ManyToManyField(Tag, backref="posts", through_model=PostTags)

    class Meta:
        table_name = "posts"


class PostTag(pw.Model):
    post = pw.ForeignKeyField(Post, backref="+")
    tag = pw.ForeignKeyField(Tag, backref="+")

    class Meta:
        table_name = "post_tags"
        indexes = ((("post", "tag"), True),)


PostTags.set_model(PostTag)


def create_app(database_url: str, *, create_tables: bool = True, auth: bool = False) -> FastAPI:
    db = PeeweeAdapter(connect(database_url))
    users = db.bound(User)  # User on this app's database; User itself stays unbound
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    readable = [getattr(users, name) for name in schemas.read_fields]
    app = new_app("peewee", (lambda: db.create_tables([User, Tag, Post, PostTag])) if create_tables else None, db)

    # The hand-written part, on the session and schema layers: the database work of each route.
    def load_user(user_id: int) -> dict[str, Any]:
        row: dict[str, Any] | None = users.select(*readable).where(users.id == user_id).dicts().get_or_none()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return row

    def add_user(values: dict[str, Any]) -> dict[str, Any]:
        # The unique indexes answer here, not a check-then-insert; created_at is the database's.
        user = users.create(**values)
        row: dict[str, Any] = users.select(*readable).where(users.id == user.id).dicts().get()
        return row

    session_routes(app, db.session, schemas, load_user, add_user)

    # With --auth, a PUT, PATCH or DELETE changes the account of the token's user only.
    own_account = install_auth(app, db, User) if auth else None
    ormgate.Resource(
        User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS, write_scope=own_account
    ).install(app)
    blog_resources(app, db, schemas, Post, Tag)
    return app
