"""Peewee connections: a ``Database`` from a URL, a pool that skips its test round trip when asked, each
DBAPI connection prepared once with the dialect's settings."""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from playhouse import db_url

from .base import IN_MEMORY_SQLITE, memory_sqlite

# SQLAlchemy-style URL scheme -> (playhouse.db_url scheme, default options; the URL's query wins).
# Peewee's pools test a connection when handing it out (a round trip on PostgreSQL, a ping
# on MySQL) and drop it if the server has closed it; the pools ``connect`` makes skip that
# round trip for the generated reads, which retry instead (see ``_unpinged_pool``).
# "psycopg3+pool" is playhouse.postgres_ext.PooledPsycopg3Database: psycopg 3 even where
# psycopg2 is installed (the plain "postgresql+pool" would prefer psycopg2).
_POOL = {"max_connections": 20, "timeout": 10, "stale_timeout": 300}  # wait up to 10 s for a free connection
_MYSQL = ("mysql+pool", {**_POOL, "charset": "utf8mb4", "sql_mode": "TRADITIONAL"})
_URLS: dict[str, tuple[str, dict[str, Any]]] = {
    "sqlite": (
        "sqlite+pool",
        {
            # Foreign keys are off unless each connection asks; WAL lets reads run beside a write.
            "pragmas": {"foreign_keys": 1, "journal_mode": "wal"},
            "returning_clause": sqlite3.sqlite_version_info >= (3, 35),
            # Pooled too, as opening one costs more than a query: a connection goes to one
            # thread at a time, and the count is bounded by the threads, not by the pool.
            "check_same_thread": False,
            "max_connections": None,
        },
    ),
    "postgresql": ("psycopg3+pool", _POOL),
    "postgresql+psycopg": ("psycopg3+pool", _POOL),
    "mysql": _MYSQL,
    "mysql+pymysql": _MYSQL,
}


# Set in a thread while a generated read takes its connection: the read retries once on a
# dropped connection, so the pool's round trip to test it can be skipped.
_unpinged = threading.local()


def _closed_locally(conn: Any) -> bool:
    """What the driver knows without asking the server: psycopg's ``closed``, PyMySQL's ``open``."""
    return bool(getattr(conn, "closed", False)) or getattr(conn, "open", True) is False


@functools.cache
def _unpinged_pool(cls: type[Any]) -> type[Any]:
    """``cls``, a Peewee pool, testing a connection it hands out by a round trip only when asked."""

    def _is_closed(self: Any, conn: Any) -> bool:
        return _closed_locally(conn) if getattr(_unpinged, "on", False) else cls._is_closed(self, conn)

    def _set_server_version(self: Any, conn: Any) -> None:
        cls._set_server_version(self, conn)
        # Peewee writes JSON values MariaDB's way only when told (mariadb=True): MySQL's
        # CAST(... AS JSON) is a syntax error there. MySQL has no 10.x or 11.x.
        if hasattr(self, "mariadb") and (self.server_version or (0,)) >= (10,):
            self.mariadb = True

    attributes = {"_is_closed": _is_closed, "_set_server_version": _set_server_version, "__module__": __name__}
    return type(cls.__name__, (cls,), attributes)


def connect(url: str) -> Any:
    """A Peewee ``Database`` for a SQLAlchemy-style URL: ``sqlite:///path``, ``postgresql+psycopg://…``, ``mysql+pymysql://…``.

    Options in the URL's query string (``?max_connections=50``) override the defaults.
    """
    scheme, _, rest = url.partition("://")
    if scheme not in _URLS:
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use one of {', '.join(_URLS)}")
    peewee_scheme, options = _URLS[scheme]
    # Parsed under Peewee's scheme, whose keyword names the drivers take without a deprecation warning.
    params = db_url.parse(f"{peewee_scheme}://{rest}", unquote_password=True, unquote_user=True)
    if scheme == "sqlite" and memory_sqlite(params["database"] or ""):
        raise ValueError(IN_MEMORY_SQLITE)
    return _unpinged_pool(db_url.schemes[peewee_scheme])(**{**options, **params})


class _Prepared:
    """Which DBAPI connections have had the dialect's ``prepare``: each is prepared before its first unit of work.

    Peewee applies its own pragmas and functions as it opens a connection, but a
    Database used before the adapter existed (tables created, a query run) has
    connections, pooled or held by a thread, that never saw ormgate's. SQLite's
    connections take neither attributes nor weak references: they are kept by
    ``id`` with the connection itself, so an ``id`` reused by a new connection
    never passes for it. Bounded: when full it starts over, which only prepares
    some connections again (harmless).
    """

    def __init__(self, prepare: Callable[[Any], None], size: int = 256) -> None:
        self.prepare = prepare
        self.size = size
        self.done: dict[int, Any] = {}

    def __call__(self, connection: Any) -> None:
        if self.done.get(id(connection)) is not connection:
            self.prepare(connection)
            if len(self.done) >= self.size:
                self.done.clear()
            self.done[id(connection)] = connection
