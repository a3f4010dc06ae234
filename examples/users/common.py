"""What the users service is, whichever ORM stores it: its schema options and its app."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pwdlib import PasswordHash
from pydantic import EmailStr, Field

import ormgate
from ormgate.resource import RESPONSES, JSONRoute, key_parameter

hasher = PasswordHash.recommended()  # Argon2id

# Each hash takes 64 MiB and a quarter of a second of CPU: forty at once (one per worker thread)
# took a worker to 2.4 GB. The others wait for a place; more at once than there are CPUs would
# not hash any faster. ORMGATE_USERS_MAX_HASHES sets how many run at once in one process.
MAX_HASHES = int(os.environ.get("ORMGATE_USERS_MAX_HASHES") or min(4, os.cpu_count() or 1))
hashing = threading.BoundedSemaphore(MAX_HASHES)


def hash_password(values: dict[str, Any]) -> dict[str, Any]:
    """The schema's write-only ``password`` becomes the ``password_hash`` column."""
    if "password" in values:
        with hashing:
            values["password_hash"] = hasher.hash(values.pop("password"))
    return values


SCHEMA_OPTIONS: dict[str, Any] = {
    "exclude": ["password_hash"],
    # The database sets it; a server default alone would leave it writable.
    "read_only": ["created_at"],
    "write_only": ["password"],
    "fields": {
        "email": EmailStr,
        "password": Annotated[str, Field(min_length=8, max_length=128)],
    },
    "on_write": hash_password,
}

# The resource router serves these; GET /users/{id} and POST /users are hand-written.
GENERATED_ROUTES = ("list", "replace", "patch", "delete")


def new_app(orm: str, on_startup: Callable[[], Awaitable[None]] | None = None) -> FastAPI:
    """The app shell; ``on_startup`` (creating the table) runs before the first request."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        yield

    # FastAPIOffline serves the Swagger UI assets from its own package: /docs works offline.
    app = FastAPIOffline(title=f"ormgate users ({orm})", version=ormgate.__version__, lifespan=lifespan)
    # Hand-written routes refuse a body that is not sent as JSON with a 415, as generated ones do.
    app.router.route_class = JSONRoute
    # No route reads a body over 1 MiB: 413 (the hand-written ones included).
    app.add_middleware(ormgate.BodyLimit)
    ormgate.install_problem_handlers(app)
    return app


def id_parameter(schemas: ormgate.ModelSchemas) -> Any:
    """The hand-written routes' ``{id}``: named, typed and bounded (the column's range) as the generated ones'.

    One path item, /users/{id}; an id beyond the column's range is a 422, as on every route.
    """
    return key_parameter(schemas.info)


def route_docs(schemas: ormgate.ModelSchemas) -> tuple[dict[str, Any], dict[str, Any]]:
    """What FastAPI documents for the hand-written GET /users/{id} and POST /users: what a generated one would."""
    shared = {"response_model": schemas.read, "tags": ["User"]}
    get = {**shared, "responses": RESPONSES["get"]}
    post = {**shared, "status_code": 201, "responses": RESPONSES["create"]}
    return get, post
