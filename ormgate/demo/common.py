"""What the users service is, whichever ORM stores it: its schema options and its app."""

# No "from __future__ import annotations": FastAPI reads the endpoints' local annotations.

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import email_validator
import jwt
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from fastapi_offline import FastAPIOffline
from pwdlib import PasswordHash
from pydantic import AfterValidator, Field
from starlette.concurrency import run_in_threadpool

import ormgate
from ormgate.adapters.base import Adapter
from ormgate.query import signing_key
from ormgate.resource import RESPONSES, JSONRoute, key_parameter, problem_responses

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


def new_app(orm: str, on_startup: Callable[[], Awaitable[None]] | None = None, db: Adapter | None = None) -> FastAPI:
    """The app shell; ``on_startup`` (creating the table) runs before the first request, and the
    connections of ``db`` (the adapter the app made) are closed at shutdown (``Adapter.aclose``):
    left open, each app made in one process (tests, reloads) kept its pool's idle connections
    until the process ended."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        yield
        if db is not None:
            await db.aclose()

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


Row = dict[str, Any]


def session_routes(
    app: FastAPI,
    session: Callable[..., Any],
    schemas: ormgate.ModelSchemas,
    load_user: Callable[[int], Row],
    add_user: Callable[[Row], Row],
) -> None:
    """The hand-written GET /users/{id} and POST /users of a synchronous ORM (Django, Peewee), on its session.

    ``load_user(id)`` and ``add_user(values)`` are the ORM's database work, plain functions: the
    session (``session``, the adapter's dependency) runs each as one transaction in one worker
    thread, where the ORM keeps its connection (a dependency's set-up and tear-down may run in
    different threads; this hop does not).
    """
    Create: Any = schemas.create
    UserId: Any = id_parameter(schemas)
    get_doc, post_doc = route_docs(schemas)
    Session = Annotated[ormgate.UnitOfWork, Depends(session)]

    @app.get("/users/{id}", **get_doc)
    async def get_user(user_id: UserId, session: Session, request: Request) -> Response:
        return ormgate.item_response(await session.run(load_user, user_id, write=False), request)

    @app.post("/users", **post_doc)
    async def create_user(body: Create, session: Session, request: Request) -> Response:
        # Hashing the password takes a quarter of a second: not on the event loop, nor in the transaction.
        values = await run_in_threadpool(schemas.write_values, body)
        row = await session.run(add_user, values)
        return ormgate.item_response(row, request, 201, {"Location": f"/users/{row['id']}"})


# -- --auth: each user changes their own account only --------------------------------------------

TOKEN_LIFETIME = timedelta(hours=1)
_ALGORITHM = "HS256"
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_bearer = OAuth2PasswordBearer(tokenUrl="token", auto_error=False)
_dummy: list[str] = []  # a hash to verify against when no such user: a wrong name takes as long


def _verify(password: str, stored: str | None) -> bool:
    with hashing:
        if stored is None:
            if not _dummy:
                _dummy.append(hasher.hash("no such user"))
            hasher.verify(password, _dummy[0])
            return False
        return bool(hasher.verify(password, stored))


def install_auth(app: FastAPI, db: Any, model: Any) -> Callable[..., ormgate.Scope]:
    """``POST /token`` (OAuth2's password flow) on ``app``, and the write scope it grants: one's own account.

    The token is a JWT signed with a key drawn from ORMGATE_SECRET_KEY (or the process's random key).
    The account is read through the adapter's store: the same code on every ORM.
    """
    key = hmac.new(signing_key(), b"ormgate demo tokens", hashlib.sha256).digest()
    credentials = db.store(model, ["id", "password_hash"])

    @app.post("/token", tags=["auth"], responses=problem_responses(401, 422))
    async def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict[str, str]:
        """A bearer token for a username and password (form fields), valid for an hour."""
        match = (ormgate.Filter("username", "eq", form.username),)
        query = ormgate.Query(("id", "password_hash"), (ormgate.Sort("id"),), 1, match)
        rows = (await credentials.list(query)).rows
        # Argon2 takes a quarter of a second: not on the event loop.
        if not await run_in_threadpool(_verify, form.password, rows[0]["password_hash"] if rows else None):
            raise HTTPException(401, "wrong username or password", headers=_CHALLENGE)
        claims = {"sub": str(rows[0]["id"]), "exp": datetime.now(UTC) + TOKEN_LIFETIME}
        return {"access_token": jwt.encode(claims, key, algorithm=_ALGORITHM), "token_type": "bearer"}

    def own_account(token: Annotated[str | None, Depends(_bearer)]) -> ormgate.Scope:
        if token is None:
            raise HTTPException(401, "sign in first: POST /token, then send its bearer token", headers=_CHALLENGE)
        try:
            claims = jwt.decode(token, key, algorithms=[_ALGORITHM], options={"require": ["exp", "sub"]})
            user_id = int(claims["sub"])
        except (jwt.InvalidTokenError, ValueError):
            raise HTTPException(401, "the token is invalid or has expired", headers=_CHALLENGE) from None
        return ormgate.Scope({"id": user_id}, values={})

    return own_account


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
