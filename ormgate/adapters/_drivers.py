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

from ..errors import ForeignKeyViolation, InvalidData, OrmgateError, UniqueViolation

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
    return None
