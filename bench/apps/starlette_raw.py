"""(a) The floor: bare Starlette, the raw driver, orjson. No validation beyond int() and a column whitelist."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .raw import Conflict, database

db = database()
JSON = "application/json"


def _json(value: object, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type=JSON)


async def get_user(request: Request) -> Response:
    row = await db.get(int(request.path_params["id"]))
    return _json(row) if row is not None else _json({"detail": "not found"}, 404)


async def list_users(request: Request) -> Response:
    q = request.query_params
    age = q.get("age__gte")
    rows = await db.list(
        int(q.get("limit", 20)), int(q.get("offset", 0)), int(age) if age else None, q.get("sort", "id")
    )
    return _json({"items": rows})


async def create_user(request: Request) -> Response:
    try:
        return _json(await db.create(orjson.loads(await request.body())), 201)
    except Conflict:
        return _json({"detail": "conflict"}, 409)


async def patch_user(request: Request) -> Response:
    try:
        row = await db.update(int(request.path_params["id"]), orjson.loads(await request.body()))
    except Conflict:
        return _json({"detail": "conflict"}, 409)
    return _json(row) if row is not None else _json({"detail": "not found"}, 404)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await db.startup()
    yield
    await db.shutdown()


app = Starlette(
    routes=[
        Route("/users", list_users, methods=["GET"]),
        Route("/users", create_user, methods=["POST"]),
        Route("/users/{id:int}", get_user, methods=["GET"]),
        Route("/users/{id:int}", patch_user, methods=["PATCH"]),
    ],
    lifespan=lifespan,
)
