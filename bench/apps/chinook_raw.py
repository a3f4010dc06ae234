"""The hand-written counterpart of ``ormgate serve`` on Chinook: FastAPI routes taking ``Request``, raw driver, orjson.

``GET /Track/{id}`` and ``GET /Track?limit=`` (first page, key order) only, the same JSON as
``serve`` (decimals as strings, ``items``/``next_cursor``); sqlite3 on the event loop
(one connection), asyncpg on PostgreSQL, aiomysql on MariaDB, pools of ``POOL_SIZE``.
PostgreSQL's Chinook spells its names in snake case (``/track``, ``track_id``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiomysql
import asyncpg  # type: ignore[import-untyped]
import orjson
from fastapi import FastAPI, Request, Response

from . import config

DATABASE = config.DATABASE
NAME = os.environ.get("BENCH_CHINOOK", "ormgate_bench_chinook")
SNAKE = DATABASE == "postgresql"
TABLE = "track" if SNAKE else "Track"
KEY = "track_id" if SNAKE else "TrackId"
COLUMNS = (
    ("track_id", "name", "album_id", "media_type_id", "genre_id", "composer", "milliseconds", "bytes", "unit_price")
    if SNAKE
    else ("TrackId", "Name", "AlbumId", "MediaTypeId", "GenreId", "Composer", "Milliseconds", "Bytes", "UnitPrice")
)
SELECT = f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
JSON = "application/json"


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _json(value: object, status: int = 200) -> Response:
    return Response(orjson.dumps(value, default=_default), status, media_type=JSON)


class Store:
    conn: Any = None

    async def startup(self) -> None:
        if DATABASE == "sqlite":
            self.conn = sqlite3.connect(config.SQLITE_DIR / f"{NAME}.sqlite3", check_same_thread=False)
        elif DATABASE == "postgresql":
            dsn = f"postgresql://{config.POSTGRESQL_HOST}/{NAME}"
            self.conn = await asyncpg.create_pool(dsn, min_size=config.POOL_SIZE, max_size=config.POOL_SIZE)
        else:
            self.conn = await aiomysql.create_pool(
                host="127.0.0.1", user="root", db=NAME, minsize=config.POOL_SIZE, maxsize=config.POOL_SIZE
            )

    async def shutdown(self) -> None:
        if DATABASE == "mysql":
            self.conn.close()
            await self.conn.wait_closed()
        else:
            await self.conn.close() if DATABASE == "postgresql" else self.conn.close()

    async def rows(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        if DATABASE == "sqlite":
            return [dict(zip(COLUMNS, row, strict=True)) for row in self.conn.execute(sql.replace("%s", "?"), args)]
        if DATABASE == "postgresql":
            sql = sql.replace("%s", "$1", 1).replace("%s", "$2", 1)
            return [dict(row) for row in await self.conn.fetch(sql, *args)]
        async with self.conn.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cursor:
            await cursor.execute(sql, args)
            return list(await cursor.fetchall())


store = Store()


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    await store.startup()
    yield
    await store.shutdown()


app = FastAPI(lifespan=lifespan)


async def get_track(request: Request) -> Response:
    rows = await store.rows(f"{SELECT} WHERE {KEY} = %s", int(request.path_params["track_id"]))
    return _json(rows[0]) if rows else _json({"detail": "not found"}, 404)


async def list_tracks(request: Request) -> Response:
    limit = min(int(request.query_params.get("limit", 50)), 500)
    rows = await store.rows(f"{SELECT} ORDER BY {KEY} LIMIT %s", limit)
    return _json({"items": rows, "next_cursor": None, "total": None})


app.add_api_route(f"/{TABLE}/{{track_id}}", get_track, methods=["GET"])
app.add_api_route(f"/{TABLE}", list_tracks, methods=["GET"])
