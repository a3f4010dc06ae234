"""(b) The best plain FastAPI route: endpoints take the ``Request`` and return bytes, raw driver, orjson.

FastAPI's parameter machinery has nothing to resolve, and no response model
re-validates the rows: this is the fastest a FastAPI route gets by hand.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import orjson
from fastapi import FastAPI, Request, Response

from .raw import Conflict, database

db = database()
JSON = "application/json"


def _json(value: object, status: int = 200) -> Response:
    return Response(orjson.dumps(value), status, media_type=JSON)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await db.startup()
    yield
    await db.shutdown()


app = FastAPI(lifespan=lifespan)


@app.get("/users/{user_id}")
async def get_user(request: Request) -> Response:
    row = await db.get(int(request.path_params["user_id"]))
    return _json(row) if row is not None else _json({"detail": "not found"}, 404)


@app.get("/users")
async def list_users(request: Request) -> Response:
    q = request.query_params
    age = q.get("age__gte")
    rows = await db.list(
        int(q.get("limit", 20)), int(q.get("offset", 0)), int(age) if age else None, q.get("sort", "id")
    )
    return _json({"items": rows})


@app.get("/posts")
async def list_posts(request: Request) -> Response:
    """A page of posts by id, each with its author: one join written by hand."""
    q = request.query_params
    return _json({"items": await db.posts(int(q.get("limit", 20)), int(q.get("offset", 0)))})


@app.post("/users")
async def create_user(request: Request) -> Response:
    try:
        return _json(await db.create(orjson.loads(await request.body())), 201)
    except Conflict:
        return _json({"detail": "conflict"}, 409)


@app.patch("/users/{user_id}")
async def patch_user(request: Request) -> Response:
    try:
        row = await db.update(int(request.path_params["user_id"]), orjson.loads(await request.body()))
    except Conflict:
        return _json({"detail": "conflict"}, 409)
    return _json(row) if row is not None else _json({"detail": "not found"}, 404)
