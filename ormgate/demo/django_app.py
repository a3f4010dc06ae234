"""The users service on the Django ORM, standalone: no Django project needed."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

from datetime import datetime
from typing import Annotated, Any

from django.db import models
from django.db.models.functions import Now
from fastapi import Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, blog_resources, id_parameter, new_app, route_docs

setup()  # the app registry must be ready before models are declared


class User(models.Model):
    # Field[set, get] for mypy: django-stubs infers these only with its plugin, which needs a project.
    id: "models.AutoField[int, int]" = models.AutoField(primary_key=True)
    username: "models.CharField[str, str]" = models.CharField(max_length=150, unique=True)
    email: "models.EmailField[str, str]" = models.EmailField(max_length=254, unique=True)
    password_hash: "models.CharField[str, str]" = models.CharField(max_length=255)
    # Set by the database on insert, as the other ORMs' server default.
    created_at: "models.DateTimeField[datetime, datetime]" = models.DateTimeField(db_default=Now())

    class Meta:
        app_label = "ormgate_users"
        db_table = "users"


class Tag(models.Model):
    id: "models.AutoField[int, int]" = models.AutoField(primary_key=True)
    name: "models.CharField[str, str]" = models.CharField(max_length=50, unique=True)

    class Meta:
        app_label = "ormgate_users"
        db_table = "tags"


class Post(models.Model):
    id: "models.AutoField[int, int]" = models.AutoField(primary_key=True)
    title: "models.CharField[str, str]" = models.CharField(max_length=200)
    # DO_NOTHING: the database's foreign key decides (a user with posts is a 409 to delete).
    author: "models.ForeignKey[User, User]" = models.ForeignKey(User, on_delete=models.DO_NOTHING, related_name="posts")
    tags: "models.ManyToManyField[Tag, Any]" = models.ManyToManyField(Tag, db_table="post_tags", related_name="posts")

    class Meta:
        app_label = "ormgate_users"
        db_table = "posts"


def create_app(database_url: str, *, create_tables: bool = True) -> FastAPI:
    db = DjangoAdapter(configure(database_url))
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    app = new_app("django", (lambda: db.create_tables([User, Tag, Post])) if create_tables else None)

    def users() -> "models.QuerySet[User, dict[str, Any]]":
        return User._default_manager.using(db.alias).values(*schemas.read_fields)

    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)

    # The hand-written part, on the session and schema layers. Each endpoint hands its
    # database work, a plain function, to the session: one transaction in one worker
    # thread, where Django's connection lives (a dependency's set-up and tear-down may
    # run in different threads; this hop does not).
    def load_user(user_id: int) -> dict[str, Any]:
        row = users().filter(pk=user_id).first()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return row

    def add_user(values: dict[str, Any]) -> dict[str, Any]:
        user = User._default_manager.using(db.alias).create(**values)  # the unique constraints answer here
        return users().get(pk=user.pk)  # created_at as the database set it

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
