"""The raw-driver data layer shared by the three hand-written raw contenders.

sqlite3 runs on the event loop itself (one connection, autocommit): a SQLite
read is a few microseconds, cheaper than any thread hop. PostgreSQL goes
through an asyncpg pool and MySQL/MariaDB through an aiomysql pool, both of
``POOL_SIZE`` connections. Only whitelisted column names are ever put into SQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiomysql
import asyncpg  # type: ignore[import-untyped]
import pymysql

from . import config

Row = dict[str, Any]
Rows = list[Row]  # an alias: inside the classes below, `list` is their method
SELECT = f"SELECT {', '.join(config.COLUMNS)} FROM users"
SORTABLE = frozenset(config.COLUMNS)
# A page of posts by id, each joined to its author: one statement, the posts' columns then the author's.
# A LEFT JOIN (the same rows: author_id is NOT NULL) because MariaDB plans the inner join from users:
# a scan, a temporary table and a filesort of every post, 0.75 s a page at 50,000 posts.
POSTS = (
    f"SELECT {', '.join(f'p.{c}' for c in config.POST_COLUMNS)}, {', '.join(f'u.{c}' for c in config.COLUMNS)}"
    " FROM posts p LEFT JOIN users u ON u.id = p.author_id ORDER BY p.id LIMIT {0} OFFSET {1}"
)
_SPLIT = len(config.POST_COLUMNS)


class Conflict(Exception):
    """A unique value is taken."""


def list_sql(placeholder: Any, age_gte: int | None, sort: str) -> tuple[str, int]:
    """The list statement: ``?age__gte=`` and ``?sort=[-]field`` with the id as tiebreaker."""
    column = sort.removeprefix("-")
    if column not in SORTABLE:
        raise ValueError(f"cannot sort by {column!r}")
    where, n = "", 1
    if age_gte is not None:
        where, n = f" WHERE age >= {placeholder(1)}", 2
    direction = "DESC" if sort.startswith("-") else "ASC"
    order = f" ORDER BY {column} {direction}" + (", id" if column != "id" else "")
    return f"{SELECT}{where}{order} LIMIT {placeholder(n)} OFFSET {placeholder(n + 1)}", n


def nest(rows: Any) -> list[Row]:
    """Joined rows as posts, each with its ``author`` object."""
    out = []
    for row in rows:
        post = dict(zip(config.POST_COLUMNS, row[:_SPLIT], strict=True))
        post["author"] = dict(zip(config.COLUMNS, row[_SPLIT:], strict=True))
        out.append(post)
    return out


def set_clause(placeholder: Any, values: Row, start: int) -> tuple[str, list[Any]]:
    names = [name for name in config.WRITABLE if name in values]
    return ", ".join(f"{name} = {placeholder(start + i)}" for i, name in enumerate(names)), [values[n] for n in names]


class SQLite:
    POSTS_SQL = POSTS.format("?", "?")

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None

    @staticmethod
    def _p(_: int) -> str:
        return "?"

    async def startup(self) -> None:
        self.conn = sqlite3.connect(config.sqlite_path(), isolation_level=None, check_same_thread=False)
        self.conn.row_factory = sqlite3.Row

    async def shutdown(self) -> None:
        assert self.conn is not None
        self.conn.close()

    async def get(self, pk: int) -> Row | None:
        assert self.conn is not None
        row = self.conn.execute(f"{SELECT} WHERE id = ?", (pk,)).fetchone()
        return dict(row) if row is not None else None

    async def list(self, limit: int, offset: int, age_gte: int | None, sort: str) -> list[Row]:
        assert self.conn is not None
        sql, _ = list_sql(self._p, age_gte, sort)
        args = (age_gte, limit, offset) if age_gte is not None else (limit, offset)
        return [dict(row) for row in self.conn.execute(sql, args)]

    async def posts(self, limit: int, offset: int) -> Rows:
        assert self.conn is not None
        return nest(self.conn.execute(self.POSTS_SQL, (limit, offset)))

    async def create(self, values: Row) -> Row:
        assert self.conn is not None
        names = [n for n in config.WRITABLE if n in values]
        sql = f"INSERT INTO users ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) RETURNING *"
        try:
            return dict(self.conn.execute(sql, [values[n] for n in names]).fetchone())
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def update(self, pk: int, values: Row) -> Row | None:
        assert self.conn is not None
        clause, args = set_clause(self._p, values, 1)
        if not clause:
            return await self.get(pk)
        try:
            row = self.conn.execute(f"UPDATE users SET {clause} WHERE id = ? RETURNING *", [*args, pk]).fetchone()
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from exc
        return dict(row) if row is not None else None


class PostgreSQL:
    POSTS_SQL = POSTS.format("$1", "$2")

    def __init__(self) -> None:
        self.pool: Any = None

    @staticmethod
    def _p(n: int) -> str:
        return f"${n}"

    async def startup(self) -> None:
        dsn = f"postgresql://{config.POSTGRESQL_HOST}/{config.NAME}"
        self.pool = await asyncpg.create_pool(dsn, min_size=config.POOL_SIZE, max_size=config.POOL_SIZE)

    async def shutdown(self) -> None:
        await self.pool.close()

    async def get(self, pk: int) -> Row | None:
        row = await self.pool.fetchrow(f"{SELECT} WHERE id = $1", pk)
        return dict(row) if row is not None else None

    async def list(self, limit: int, offset: int, age_gte: int | None, sort: str) -> list[Row]:
        sql, _ = list_sql(self._p, age_gte, sort)
        args = (age_gte, limit, offset) if age_gte is not None else (limit, offset)
        return [dict(row) for row in await self.pool.fetch(sql, *args)]

    async def posts(self, limit: int, offset: int) -> Rows:
        return nest(await self.pool.fetch(self.POSTS_SQL, limit, offset))

    async def create(self, values: Row) -> Row:
        names = [n for n in config.WRITABLE if n in values]
        marks = ", ".join(f"${i + 1}" for i in range(len(names)))
        sql = f"INSERT INTO users ({', '.join(names)}) VALUES ({marks}) RETURNING {', '.join(config.COLUMNS)}"
        try:
            return dict(await self.pool.fetchrow(sql, *[values[n] for n in names]))
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(str(exc)) from exc

    async def update(self, pk: int, values: Row) -> Row | None:
        clause, args = set_clause(self._p, values, 2)
        if not clause:
            return await self.get(pk)
        sql = f"UPDATE users SET {clause} WHERE id = $1 RETURNING {', '.join(config.COLUMNS)}"
        try:
            row = await self.pool.fetchrow(sql, pk, *args)
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(str(exc)) from exc
        return dict(row) if row is not None else None


class MySQL:
    POSTS_SQL = POSTS.format("%s", "%s")

    def __init__(self) -> None:
        self.pool: Any = None

    @staticmethod
    def _p(_: int) -> str:
        return "%s"

    async def startup(self) -> None:
        user, _, hostport = config.MYSQL_HOST.partition("@")
        host, _, port = hostport.partition(":")
        self.pool = await aiomysql.create_pool(
            host=host,
            port=int(port),
            user=user,
            db=config.NAME,
            charset="utf8mb4",
            autocommit=True,
            minsize=config.POOL_SIZE,
            maxsize=config.POOL_SIZE,
        )

    async def shutdown(self) -> None:
        self.pool.close()
        await self.pool.wait_closed()

    async def _fetch(self, sql: str, args: Any) -> list[Row]:
        async with self.pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cursor:
            await cursor.execute(sql, args)
            return list(await cursor.fetchall())

    async def get(self, pk: int) -> Row | None:
        rows = await self._fetch(f"{SELECT} WHERE id = %s", (pk,))
        return rows[0] if rows else None

    async def list(self, limit: int, offset: int, age_gte: int | None, sort: str) -> list[Row]:
        sql, _ = list_sql(self._p, age_gte, sort)
        return await self._fetch(sql, (age_gte, limit, offset) if age_gte is not None else (limit, offset))

    async def posts(self, limit: int, offset: int) -> Rows:
        async with self.pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(self.POSTS_SQL, (limit, offset))
            return nest(await cursor.fetchall())

    async def create(self, values: Row) -> Row:
        names = [n for n in config.WRITABLE if n in values]
        sql = f"INSERT INTO users ({', '.join(names)}) VALUES ({', '.join(['%s'] * len(names))}) RETURNING "
        try:
            return (await self._fetch(sql + ", ".join(config.COLUMNS), [values[n] for n in names]))[0]
        except pymysql.IntegrityError as exc:
            raise Conflict(str(exc)) from exc

    async def update(self, pk: int, values: Row) -> Row | None:
        clause, args = set_clause(self._p, values, 1)
        # MariaDB has no UPDATE ... RETURNING: the write and the read share one connection.
        async with self.pool.acquire() as conn, conn.cursor(aiomysql.DictCursor) as cursor:
            try:
                if clause:
                    await cursor.execute(f"UPDATE users SET {clause} WHERE id = %s", [*args, pk])
            except pymysql.IntegrityError as exc:
                raise Conflict(str(exc)) from exc
            await cursor.execute(f"{SELECT} WHERE id = %s", (pk,))
            row: Row | None = await cursor.fetchone()
            return row


def database() -> SQLite | PostgreSQL | MySQL:
    if config.DATABASE == "postgresql":
        return PostgreSQL()
    if config.DATABASE == "mysql":
        return MySQL()
    return SQLite()
