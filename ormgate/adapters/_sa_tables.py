"""The tables ormgate creates with SQLAlchemy: ``create_all``, with text and timestamps as on every database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from ._collation import exact_collation, states_charset
from ._sa_dialects import _TEXT_TABLE_OPTIONS


def _create_all_on(engine: sa.Engine, tables: list[sa.Table]) -> None:
    with engine.begin() as conn:
        _create_all(conn, tables)


def _create_all(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """``create_all`` for ``tables``, whose text compares as on SQLite and PostgreSQL (see _collation).

    The options are the dialect's table keywords (``mysql_collate``), lent to the
    tables that choose no character set or collation of their own for the time of
    the DDL: the user's ``Table`` is left as it was.
    """
    lent: list[tuple[sa.Table, str]] = []
    if conn.dialect.name in _TEXT_TABLE_OPTIONS:
        prefix = conn.dialect.name
        collation = exact_collation(getattr(conn.dialect, "is_mariadb", False))
        options = {f"{prefix}_charset": "utf8mb4", f"{prefix}_collate": collation}
        for table in tables:
            if not states_charset(key for key in table.dialect_kwargs if key.startswith(f"{prefix}_")):
                for key, value in options.items():
                    table.dialect_kwargs[key] = value
                    lent.append((table, key))
    types = _fractional_seconds(conn.dialect, tables)
    try:
        tables[0].metadata.create_all(conn, tables)
    finally:
        for table, key in lent:
            del table.dialect_kwargs[key]
        for column, type_ in types:
            column.type = type_


def _fractional_seconds(dialect: sa.Dialect, tables: list[sa.Table]) -> list[tuple[sa.Column[Any], Any]]:
    """On MySQL/MariaDB, the generic ``DateTime`` and ``Time`` columns made with microseconds, as Django makes them.

    The dialect's ``DATETIME`` keeps whole seconds unless given ``fsp``: a timestamp
    written with microseconds would come back without them. The types are lent for
    the time of the DDL; a column typed ``mysql.DATETIME(fsp=...)`` keeps its own.
    Returns the columns and their own types, to be put back.
    """
    if dialect.name not in _TEXT_TABLE_OPTIONS:
        return []
    lent: list[tuple[sa.Column[Any], Any]] = []
    for table in tables:
        for column in table.columns:
            own = column.type
            if type(own) in (sa.DateTime, sa.DATETIME):
                assert isinstance(own, sa.DateTime)
                lent.append((column, own))
                column.type = mysql.DATETIME(timezone=own.timezone, fsp=6)
            elif type(own) in (sa.Time, sa.TIME):
                assert isinstance(own, sa.Time)
                lent.append((column, own))
                column.type = mysql.TIME(timezone=own.timezone, fsp=6)
    return lent
