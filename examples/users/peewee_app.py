"""The users service on Peewee: a plain model, bound by the adapter to each app's database."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

from typing import Any

import peewee as pw
from fastapi import FastAPI, Request, Response

import ormgate
from ormgate.adapters.peewee import PeeweeAdapter, connect

from .common import GENERATED_ROUTES, LIMITS, SCHEMA_OPTIONS, id_parameter, new_app, route_docs


class User(pw.Model):
    username = pw.CharField(max_length=150, unique=True)
    email = pw.CharField(max_length=254, unique=True)
    password_hash = pw.CharField(max_length=255)
    created_at = pw.DateTimeField(constraints=[pw.SQL("DEFAULT CURRENT_TIMESTAMP")])

    class Meta:
        table_name = "users"


def create_app(database_url: str, *, create_tables: bool = True) -> FastAPI:
    db = PeeweeAdapter(connect(database_url))
    users = db.bound(User)  # User on this app's database; User itself stays unbound
    schemas = ormgate.derive(db.describe(User), **SCHEMA_OPTIONS)
    readable = [getattr(users, name) for name in schemas.read_fields]
    app = new_app("peewee", (lambda: db.create_tables([User])) if create_tables else None)

    # The hand-written part, on the unit of work and the schema layer. Plain "def"
    # endpoints: FastAPI runs each in one worker thread, where Peewee keeps its connection.
    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)

    @app.get("/users/{id}", **get_doc)
    def get_user(user_id: UserId, request: Request) -> Response:
        with db.connection():
            row = users.select(*readable).where(users.id == user_id).dicts().get_or_none()
        if row is None:
            raise ormgate.NotFound(f"no User with id={user_id}")
        return ormgate.item_response(row, request)

    @app.post("/users", **post_doc)
    def create_user(body: Create, request: Request) -> Response:
        values = schemas.write_values(body)  # hashes the password: before the transaction, not in it
        with db.atomic():
            # The unique indexes answer here, not a check-then-insert; created_at is the database's.
            user = users.create(**values)
            row = users.select(*readable).where(users.id == user.id).dicts().get()
        return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})

    ormgate.Resource(User, db, schemas=schemas, path="/users", routes=GENERATED_ROUTES, limits=LIMITS).install(app)
    return app
