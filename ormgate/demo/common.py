"""What the users service is, whichever ORM stores it: its schema options and its app."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

import email_validator
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from pwdlib import PasswordHash
from pydantic import AfterValidator, Field

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


def valid_email(value: str) -> str:
    """``value`` as an email address, normalized as pydantic's ``EmailStr`` normalizes it; a ValueError otherwise.

    The syntax of an address (what ``format: email`` documents), not whether mail to it can be
    delivered on the Internet: the ``.test`` names and ``example.com`` are accepted, as RFC 6761
    (section 6.2) asks of applications, because test and staging deployments register users
    under them. The names no mailbox can live under (``.invalid``, ``.localhost``, ``.local``,
    ``.onion``, ``.arpa``) are refused, as the document's description of the field says.
    """
    try:
        return email_validator.validate_email(value, check_deliverability=False, test_environment=True).normalized
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"value is not a valid email address: {exc}") from None


# At most 254 characters, as email-validator (RFC 5321) and the column allow.
Email = Annotated[
    str,
    Field(
        max_length=254,
        json_schema_extra={
            "format": "email",
            "description": "An email address; under .invalid, .localhost, .local, .onion or .arpa it is refused.",
        },
    ),
    AfterValidator(valid_email),
]

SCHEMA_OPTIONS: dict[str, Any] = {
    "exclude": ["password_hash"],
    # The database sets it; a server default alone would leave it writable.
    "read_only": ["created_at"],
    "write_only": ["password"],
    "fields": {
        "email": Email,
        "password": Annotated[str, Field(min_length=8, max_length=128)],
    },
    "on_write": hash_password,
}

# Every cap is stated in the OpenAPI document, on the parameter it bounds, so that no request the
# document calls valid is refused (tests/fuzz): sort keys, `in` values and lengths per parameter; the
# two that span parameters (the number of filters, the query string's length) are what the document
# admits (None). Each filter is given at most once and each value bounded: the longest query string
# the document admits is 59,567 bytes, under the 64 KiB request line uvicorn's httptools parser takes;
# 100 values or 300 characters in an `in` list keep it there.
LIMITS = ormgate.Limits(filters=None, query_length=None, in_values=100, in_length=300)

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


def blog_resources(app: FastAPI, db: Any, user_schemas: ormgate.ModelSchemas, post: Any, tag: Any) -> None:
    """/posts (each by a user, with tags) and /tags: the same resources on every ORM.

    A post embeds its author with the users' own schemas (``?include=author``): the password
    hash stays excluded there too. Its tags are set by id (``"tags": [1, 2]``) and embedded with
    ``?include=tags``; a tag embeds its posts.
    """
    # The users' limits: every bound in the document, none a request the document admits can exceed.
    limits = LIMITS
    ormgate.Resource(
        post,
        db,
        limits=limits,
        includes={"author": ormgate.Include(schemas=user_schemas), "tags": 20, "tags.posts": 20},
        links=["tags"],
    ).install(app)
    author = ormgate.Include(schemas=user_schemas)
    ormgate.Resource(tag, db, limits=limits, includes={"posts": 20, "posts.author": author}).install(app)
