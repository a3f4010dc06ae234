"""The users service on Peewee: a plain model, bound by the adapter to each app's database."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

from typing import Annotated, Any

import peewee as pw
from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, blog_resources, id_parameter, new_app, route_docs


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


def create_app(database_url: str, *, create_tables: bool = True) -> FastAPI:
    db = PeeweeAdapter(connect(database_url))
    users = db.bound(User)  # User on this app's database; User itself stays unbound
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    readable = [getattr(users, name) for name in schemas.read_fields]
    app = new_app("peewee", (lambda: db.create_tables([User, Tag, Post, PostTag])) if create_tables else None)

    # The hand-written part, on the session and schema layers. Each endpoint hands its
    # database work, a plain function, to the session: one transaction in one worker
    # thread, where Peewee keeps its connection (a dependency's set-up and tear-down may
    # run in different threads; this hop does not).
    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)

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

    Session = Annotated[ormgate.UnitOfWork, Depends(db.session)]

    @app.get("/users/{id}", **get_doc)
    async def get_user(user_id: UserId, session: Session, request: Request) -> Response:
        return ormgate.item_response(await session.run(load_user, user_id, write=False), request)

    @app.post("/users", **post_doc)
    async def create_user(body: Create, session: Session, request: Request) -> Response:
        # Hashing the password takes a quarter of a second: not on the event loop, nor in the transaction.
        values = await run_in_threadpool(schemas.write_values, body)
        row = await session.run(add_user, values)
        return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})

    ormgate.Resource(User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS).install(app)
    blog_resources(app, db, schemas, Post, Tag)
    return app
