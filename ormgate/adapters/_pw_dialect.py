"""What differs per database beyond Peewee's own toggles, as data; the text and time columns of the tables
ormgate creates on MySQL/MariaDB."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import peewee as pw

from ..plan import GLOB, LIKE, PatternSyntax
from ._collation import exact_collation, states_charset
from ._sqlite import prepare as prepare_sqlite


def _utf8_bytes(column: Any) -> Any:
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    return pw.Cast(pw.Cast(column, "CHAR CHARACTER SET utf8mb4"), "BINARY")


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What differs beyond Peewee's own toggles (``for_update``, ``nulls_ordering``, ``returning_clause``)."""

    # Text matched code point by code point: MariaDB's default collations ignore case and accents.
    exact: Callable[[Any], Any] = lambda column: column
    # The case-sensitive pattern match, on exact(column). SQLite's LIKE ignores ASCII case
    # (its case_sensitive_like pragma is deprecated); GLOB does not.
    match: PatternSyntax = LIKE
    # Text compared for equality code point by code point, without padding (see _collation).
    identical: Callable[[Any], Any] = lambda column: column
    # Tables ormgate creates compare text exactly (see _collation): MySQL/MariaDB need it said.
    exact_tables: bool = False
    # atomic() arguments of a unit of work that writes. SQLite takes the write lock at
    # BEGIN IMMEDIATE, which stands in for the row lock it does not have: a check and
    # the write after it cannot interleave with another writer.
    write_begin: Mapping[str, Any] = field(default_factory=dict)
    # Settings each DBAPI connection needs, whoever opened it and whenever (see _pw_connect._Prepared).
    prepare: Callable[[Any], None] | None = None
    in_process: bool = False  # a GET by key may skip the thread hop (_threaded.may_run_inline)
    text_times: bool = False  # timestamps are text, compared as the instants they name (see _sqlite)


_DIALECTS: dict[Any, _Dialect] = {
    pw.SqliteDatabase: _Dialect(
        match=GLOB, write_begin={"lock_type": "IMMEDIATE"}, prepare=prepare_sqlite, in_process=True, text_times=True
    ),
    pw.PostgresqlDatabase: _Dialect(),
    pw.MySQLDatabase: _Dialect(
        exact=lambda column: column.collate("utf8mb4_bin"), identical=_utf8_bytes, exact_tables=True
    ),
}


def _exact_text(bound: Any, mariadb: bool) -> None:
    """Give the tables ormgate creates the exact collation, unless the model's ``table_settings`` choose one."""
    settings = bound._meta.table_settings or []
    settings = [settings] if isinstance(settings, str) else list(settings)
    if not states_charset(settings):
        # On the bound copy, which is ormgate's: the user's model keeps its settings.
        bound._meta.table_settings = [*settings, "DEFAULT CHARSET=utf8mb4", f"COLLATE={exact_collation(mariadb)}"]
    _fractional_seconds(bound)


_FRACTIONAL = {pw.DateTimeField: "DATETIME(6)", pw.TimeField: "TIME(6)"}


def _fractional_seconds(bound: Any) -> None:
    """MySQL/MariaDB columns of timestamps and times with microseconds, as Django makes them.

    Peewee's ``DATETIME`` keeps whole seconds: a timestamp written with microseconds
    would come back without them. On the bound copy's fields, which are ormgate's.
    """
    for f in bound._meta.sorted_fields:
        column_type = _FRACTIONAL.get(type(f))
        if column_type is not None:
            f.ddl_datatype = functools.partial(_column_type, column_type)


def _column_type(column_type: str, ctx: Any) -> Any:
    return pw.SQL(column_type)
