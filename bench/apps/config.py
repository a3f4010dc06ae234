"""What every contender reads from the environment: the database, its URL per driver, the pool size.

One pool size for everyone: SQLAlchemy ``pool_size`` (no overflow), asyncpg and
aiomysql pools, Peewee's ``max_connections``. Django keeps one persistent
connection per worker thread (``CONN_MAX_AGE``), as it has no pool of its own here.
"""

from __future__ import annotations

import os
from pathlib import Path

DATABASE = os.environ.get("BENCH_DATABASE", "sqlite")  # sqlite | postgresql | mysql
NAME = os.environ.get("BENCH_DB_NAME", "ormgate_bench")  # a database name, or the SQLite file
POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))
SQLITE_DIR = Path(__file__).resolve().parents[1] / ".data"

POSTGRESQL_HOST = "postgres@127.0.0.1:5432"
MYSQL_HOST = "root@127.0.0.1:3306"

COLUMNS = ("id", "username", "email", "full_name", "age", "created_at")
WRITABLE = ("username", "email", "full_name", "age")
POST_COLUMNS = ("id", "author_id", "title", "body", "created_at")


def sqlite_path() -> Path:
    return SQLITE_DIR / f"{NAME}.sqlite3"


def sqlalchemy_url(*, asynchronous: bool) -> str:
    """The SQLAlchemy URL: psycopg / pysqlite / pymysql when sync, asyncpg / aiosqlite / aiomysql when async."""
    if DATABASE == "sqlite":
        return f"sqlite+aiosqlite:///{sqlite_path()}" if asynchronous else f"sqlite:///{sqlite_path()}"
    if DATABASE == "postgresql":
        driver = "asyncpg" if asynchronous else "psycopg"
        return f"postgresql+{driver}://{POSTGRESQL_HOST}/{NAME}"
    if DATABASE == "mysql":
        driver = "aiomysql" if asynchronous else "pymysql"
        return f"mysql+{driver}://{MYSQL_HOST}/{NAME}?charset=utf8mb4"
    raise ValueError(f"unknown BENCH_DATABASE {DATABASE!r}")


def sync_url() -> str:
    """The sync URL ormgate's Django and Peewee adapters take (SQLAlchemy-style)."""
    return sqlalchemy_url(asynchronous=False).removesuffix("?charset=utf8mb4")


def sqlalchemy_engine_options() -> dict[str, object]:
    return {"pool_size": POOL_SIZE, "max_overflow": 0}
