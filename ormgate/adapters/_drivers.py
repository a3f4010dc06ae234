"""Driver exceptions -> ormgate errors, shared by every ORM (they use the same drivers).

Each database reports a constraint violation differently: SQLite by an error
name and message, PostgreSQL by SQLSTATE with a structured detail, MySQL and
MariaDB by an errno and message. Each ORM adapter unwraps its own exception
wrapper and hands the driver exception to ``classify``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ForeignKeyViolation, InvalidData, OrmgateError, Unavailable, UniqueViolation

# kind -> error class; "fk_parent" is a delete or key change blocked by rows that still refer to it.
_KINDS: dict[str, type[OrmgateError]] = {
    "unique": UniqueViolation,
    "fk": ForeignKeyViolation,
    "fk_parent": ForeignKeyViolation,
    "not_null": InvalidData,
    "check": InvalidData,
    "too_long": InvalidData,
    "out_of_range": InvalidData,
    "invalid": InvalidData,
}
_MESSAGES = {
    "unique": "a row with this value already exists",
    "fk": "the referenced row does not exist",
    "fk_parent": "the row is still referenced by other rows",
    "not_null": "a value is required",
    "check": "the value breaks a check constraint",
    "too_long": "the value is too long",
    "out_of_range": "the value is out of range",
    "invalid": "the database does not accept this value",
}

_SQLITE = {
    "SQLITE_CONSTRAINT_UNIQUE": "unique",
    "SQLITE_CONSTRAINT_PRIMARYKEY": "unique",
    "SQLITE_CONSTRAINT_FOREIGNKEY": "fk",
    "SQLITE_CONSTRAINT_NOTNULL": "not_null",
    "SQLITE_CONSTRAINT_CHECK": "check",
}
_POSTGRES = {
    "23505": "unique",
    "23503": "fk",
    "23502": "not_null",
    "23514": "check",
    "22001": "too_long",
    "22003": "out_of_range",
    "22P02": "invalid",
    "22007": "invalid",
    "22008": "out_of_range",
}
_MYSQL = {
    1062: "unique",
    1452: "fk",
    1451: "fk_parent",
    1048: "not_null",
    1364: "not_null",
    3819: "check",
    4025: "check",
    1406: "too_long",
    1264: "out_of_range",
    1292: "invalid",
    1366: "invalid",
}

# "The database is unavailable" (503), as data beside the constraint tables. Two kinds:
# "down": the server is unreachable, refused or dropped the connection, or is shutting down
# (nothing of a unit of work that failed before COMMIT was written: it may run once more);
# "busy": it is there but has no room now (too many connections, no pooled connection freed
# up in time, SQLite's write lock held by another connection past the busy timeout), which
# waiting again at once would not cure.
_PG_UNAVAILABLE_CLASSES = {"08": "down"}  # SQLSTATE class 08: connection exceptions
_PG_UNAVAILABLE = {
    "57P01": "down",  # admin_shutdown (also what pg_terminate_backend sends)
    "57P02": "down",  # crash_shutdown
    "57P03": "down",  # cannot_connect_now (starting up, shutting down)
    "53300": "busy",  # too_many_connections
    "55P03": "busy",  # lock_not_available: a lock_timeout passed waiting for another transaction
}
_MYSQL_UNAVAILABLE = {
    2002: "down",  # can't connect through the socket
    2003: "down",  # can't connect to the server
    2006: "down",  # server has gone away
    2013: "down",  # lost connection during query
    1053: "down",  # server shutdown in progress
    1927: "down",  # connection was killed (MariaDB)
    4031: "down",  # disconnected by the server for inactivity (MySQL 8)
    1040: "busy",  # too many connections
    1203: "busy",  # the user already has max_user_connections
    1226: "busy",  # the user exceeded a resource: max_user_connections
    1205: "busy",  # lock wait timeout exceeded: another transaction held the row past innodb_lock_wait_timeout
}
_SQLITE_UNAVAILABLE = {
    "SQLITE_BUSY": "busy",  # "database is locked": another connection held the write lock past the busy timeout
    "SQLITE_BUSY_SNAPSHOT": "busy",
    "SQLITE_BUSY_RECOVERY": "busy",
    "SQLITE_LOCKED": "busy",
}
_SQLITE_UNAVAILABLE_MESSAGES = {"database is locked": "busy", "database table is locked": "busy"}
# Errors that carry no code, by (top-level module, class name) anywhere in the exception's
# class hierarchy; psycopg's and PyMySQL's only when they carry no SQLSTATE / errno either
# (a psycopg OperationalError with a SQLSTATE is the server's, judged by the table above).
_UNAVAILABLE_TYPES = {
    ("builtins", "OSError"): "down",  # connection refused or reset, no route, a connect timeout (asyncpg)
    ("asyncpg", "ConnectionDoesNotExistError"): "down",  # "connection was closed in the middle of operation"
    ("sqlalchemy", "TimeoutError"): "busy",  # QueuePool: no connection within pool_timeout
    ("playhouse", "MaxConnectionsExceeded"): "busy",  # Peewee's pool: none within its timeout
    ("psycopg_pool", "PoolTimeout"): "busy",  # Django's psycopg pool: none within its timeout
}
_UNCODED_TYPES = {
    ("psycopg", "OperationalError"): "down",  # "the connection is closed", "connection failed: ..."
    ("psycopg", "InterfaceError"): "down",
    ("psycopg2", "OperationalError"): "down",
    ("psycopg2", "InterfaceError"): "down",
    ("pymysql", "InterfaceError"): "down",  # (0, ''): a statement on a closed connection
    ("aiomysql", "InterfaceError"): "down",
}
_UNAVAILABLE_MESSAGES = {
    "connection was closed in the middle of operation": "down",
    "connection is closed": "down",
    "server closed the connection unexpectedly": "down",
    "connection refused": "down",
}
_UNAVAILABLE_DETAIL = {
    "down": "the database is unavailable; try again shortly",
    "busy": "the database is busy; try again shortly",
}

_SQLITE_COLUMN = re.compile(r"constraint failed: \w+\.(\w+)")
_PG_KEY = re.compile(r"Key \((\w+)\)=")
_MYSQL_FIELD = [
    re.compile(r"for key '(?:\w+\.)?(\w+)'"),
    re.compile(r"FOREIGN KEY \(`(\w+)`\)"),
    re.compile(r"[Cc]olumn '(\w+)'"),
    re.compile(r"for column (?:`\w+`\.)*`(\w+)`"),
    re.compile(r"Field '(\w+)'"),
]


def _sqlite(exc: Any) -> tuple[str, str | None] | None:
    kind = _SQLITE.get(getattr(exc, "sqlite_errorname", ""))
    if kind is None:
        return None
    found = _SQLITE_COLUMN.search(str(exc))
    return kind, found.group(1) if found else None


def _postgres(exc: Any) -> tuple[str, str | None] | None:
    kind = _POSTGRES.get(getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None) or "")
    if kind is None:
        return None
    diag = getattr(exc, "diag", exc)  # psycopg keeps the fields on .diag, asyncpg on the error
    detail = getattr(diag, "message_detail", None) or getattr(diag, "detail", None) or ""
    if kind == "fk" and "still referenced" in detail:
        kind = "fk_parent"
    found = _PG_KEY.search(detail)
    column = found.group(1) if found else getattr(diag, "column_name", None)
    return kind, column or getattr(diag, "constraint_name", None)


def _mysql(exc: Any) -> tuple[str, str | None] | None:
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    kind = _MYSQL.get(args[0]) if args and isinstance(args[0], int) else None
    if kind is None:
        return None
    message = str(args[1]) if len(args) > 1 else ""
    for pattern in _MYSQL_FIELD:
        found = pattern.search(message)
        if found:
            return kind, found.group(1)
    return kind, None


# MySQL first: PyMySQL errors also carry a sqlstate ("22001" for too long), which the
# PostgreSQL probe would take, losing the column that only MySQL's message names.
_PROBES: tuple[Callable[[Any], tuple[str, str | None] | None], ...] = (_sqlite, _mysql, _postgres)


def _unavailable_kind(exc: Any) -> str | None:
    """ "down" or "busy" when ``exc`` (one link of the chain) says the database cannot serve now, else None."""
    if getattr(exc, "connection_invalidated", False):  # SQLAlchemy saw the connection die
        return "down"
    name = getattr(exc, "sqlite_errorname", None)
    if name is not None:
        return _SQLITE_UNAVAILABLE.get(name) or _SQLITE_UNAVAILABLE_MESSAGES.get(str(exc))
    args: tuple[Any, ...] = tuple(getattr(exc, "args", ()))
    if args and isinstance(args[0], int) and args[0] in _MYSQL_UNAVAILABLE:
        return _MYSQL_UNAVAILABLE[args[0]]
    sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    if isinstance(sqlstate, str):
        return _PG_UNAVAILABLE.get(sqlstate) or _PG_UNAVAILABLE_CLASSES.get(sqlstate[:2])
    for cls in type(exc).__mro__:
        key = (cls.__module__.partition(".")[0], cls.__name__)
        kind = _UNAVAILABLE_TYPES.get(key) or _UNCODED_TYPES.get(key)
        if kind is not None:
            return kind
    message = str(exc).lower()
    return next((kind for text, kind in _UNAVAILABLE_MESSAGES.items() if text in message), None)


def unavailable(exc: BaseException) -> str | None:
    """ "down" or "busy" when ``exc`` or an error it wraps says the database cannot serve the request now.

    Only ever asked on the error path.
    """
    for candidate in _causes(exc):
        kind = _unavailable_kind(candidate)
        if kind is not None:
            return kind
    return None


def dropped(exc: BaseException) -> bool:
    """Whether ``exc`` (an ``Unavailable`` from ``classify``, or a driver error) is the database being down:
    a unit of work that failed so before COMMIT wrote nothing, and may run once more on a new connection."""
    return unavailable(exc) == "down"


# The drivers whose own errors may escape an ORM's wrapping (by their top-level module).
_DRIVERS = frozenset({"asyncpg", "aiomysql", "pymysql", "psycopg", "psycopg2", "MySQLdb", "sqlite3", "aiosqlite"})


def unwrapped_unavailable(exc: BaseException) -> Unavailable | None:
    """The 503 for a driver's own error that its ORM let through unwrapped, when it says the database
    is unavailable; None for anything else (another driver error, an error not a driver's, ormgate's)."""
    if isinstance(exc, OrmgateError) or type(exc).__module__.partition(".")[0] not in _DRIVERS:
        return None
    error = classify(exc)
    return error if isinstance(error, Unavailable) else None


def _causes(exc: BaseException) -> list[Any]:
    # ORM wrappers keep the driver error on .orig or as the cause; asyncpg's is one level deeper.
    seen: list[Any] = []
    current: Any = exc
    while current is not None and len(seen) < 6 and not any(current is s for s in seen):
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return seen


def classify(
    exc: BaseException, constraint_fields: Mapping[str, str] | None = None, *, deleting: bool = False
) -> OrmgateError | None:
    """The ormgate error for a driver exception, or None when it is not a data error.

    ``constraint_fields`` maps constraint and index names to field names, for
    databases that name the constraint rather than the column. ``deleting``:
    the failed work deleted a row, which only rows still referring to it can
    block (SQLite says "FOREIGN KEY constraint failed" either way).
    """
    for candidate in _causes(exc):
        for probe in _PROBES:
            found = probe(candidate)
            if found is None:
                continue
            kind, name = found
            if deleting and kind == "fk":
                kind = "fk_parent"
            # A row still referenced names no field: the request sent none (a DELETE), and
            # PostgreSQL would name the key, MySQL the referring column, SQLite neither.
            field = (constraint_fields or {}).get(name, name) if name and kind != "fk_parent" else None
            message = _MESSAGES[kind]
            detail = f"{field}: {message}" if field else message
            errors = [{"field": field, "message": message}] if field else None
            return _KINDS[kind](detail, field=field, errors=errors)
    why = unavailable(exc)
    if why is not None:
        return Unavailable(_UNAVAILABLE_DETAIL[why])
    return None
