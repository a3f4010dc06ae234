"""The users service on the Django ORM, standalone: no Django project needed."""

from datetime import datetime
from typing import Any

from django.db import models
from django.db.models.functions import Now
from fastapi import FastAPI

import ormgate
from ormgate.adapters.django import DjangoAdapter, configure, setup

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, blog_resources, install_auth, new_app, session_routes

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


def create_app(database_url: str, *, create_tables: bool = True, auth: bool = False) -> FastAPI:
    db = DjangoAdapter(configure(database_url))
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    app = new_app("django", (lambda: db.create_tables([User, Tag, Post])) if create_tables else None, db)

    def users() -> "models.QuerySet[User, dict[str, Any]]":
        return User._default_manager.using(db.alias).values(*schemas.read_fields)

    # The hand-written part, on the session and schema layers: the database work of each route.
    def load_user(user_id: int) -> dict[str, Any]:
        row = users().filter(pk=user_id).first()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return row

    def add_user(values: dict[str, Any]) -> dict[str, Any]:
        user = User._default_manager.using(db.alias).create(**values)  # the unique constraints answer here
        return users().get(pk=user.pk)  # created_at as the database set it

    session_routes(app, db.session, schemas, load_user, add_user)

    # With --auth, a PUT, PATCH or DELETE changes the account of the token's user only.
    own_account = install_auth(app, db, User) if auth else None
    ormgate.Resource(
        User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS, write_scope=own_account
    ).install(app)
    blog_resources(app, db, schemas, Post, Tag)
    return app
