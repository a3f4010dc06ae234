"""The users service on the Django ORM, standalone: no Django project needed."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models.functions import Now
from fastapi import FastAPI, Request, Response

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, id_parameter, new_app, route_docs

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


def create_app(database_url: str, *, create_tables: bool = True) -> FastAPI:
    db = DjangoAdapter(configure(database_url))
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    app = new_app("django", (lambda: db.create_tables([User])) if create_tables else None)

    def users() -> "models.QuerySet[User, dict[str, Any]]":
        return User._default_manager.using(db.alias).values(*schemas.read_fields)

    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)

    # The hand-written part, on the unit-of-work and schema layers. The endpoints are
    # plain functions: FastAPI runs each in one worker thread, where Django's connection lives.
    @app.get("/users/{id}", **get_doc)
    def get_user(user_id: UserId, request: Request) -> Response:
        with db.unit_of_work(atomic=False):
            row = users().filter(pk=user_id).first()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return ormgate.item_response(row, request)

    @app.post("/users", **post_doc)
    def create_user(body: Create, request: Request) -> Response:
        values = schemas.write_values(body)  # hashes the password before the transaction begins
        with db.unit_of_work(User):  # the unique constraints answer here, not a check-then-insert
            user = User._default_manager.using(db.alias).create(**values)
            row = users().get(pk=user.pk)  # created_at as the database set it
        return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})

    ormgate.Resource(User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS).install(app)
    return app
