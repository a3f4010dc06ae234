"""What ``ormgate serve`` reads from the database: its tables and views, reflected, and their row estimates.

Reflection is SQLAlchemy's, ``CHUNK`` tables a round trip. Each column keeps the type name the
database gave it, even one SQLAlchemy does not know, so that a column left out says why.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

CHUNK = 50  # tables reflected per round trip batch (bulk reflection on PostgreSQL and MySQL)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Skipped:
    """Something not served: a table, or one column of a served table (``Table.column``)."""

    name: str
    reason: str


# -- reflection ----------------------------------------------------------------------------


def sync_url(url: str) -> str:
    """The URL with a sync driver, for reflection: the async drivers' sync twins."""
    parsed = sa.make_url(url)
    twins = {"aiosqlite": "pysqlite", "asyncpg": "psycopg", "aiomysql": "pymysql"}
    driver = twins.get(parsed.get_driver_name())
    if driver is None:
        return url
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}").render_as_string(hide_password=False)


def _names(
    inspector: sa.Inspector, schema: str | None, only: Sequence[str] | None, exclude: Sequence[str]
) -> tuple[list[str], set[str], list[Skipped]]:
    """The tables and views to reflect, the views among them, and any asked-for name not found."""
    tables = inspector.get_table_names(schema=schema)
    views = set(inspector.get_view_names(schema=schema))
    every = [*tables, *sorted(views - set(tables))]
    missing = []
    if only is not None:
        missing = [Skipped(name, "no such table or view") for name in only if name not in every]
        every = [name for name in every if name in set(only)]
    excluded = set(exclude)
    return [name for name in every if name not in excluded], views, missing


def reflect(
    engine: sa.Engine,
    *,
    schema: str | None = None,
    only: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> tuple[sa.MetaData, list[str], set[str], list[Skipped]]:
    """Reflect the tables and views, ``CHUNK`` at a time (``progress(done, total)`` after each)."""
    metadata = sa.MetaData(schema=schema)
    with engine.connect() as conn:
        names, views, skipped = _names(sa.inspect(conn), schema, only, exclude)
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # resolve_fks: the tables a foreign key refers to are reflected too (not served unless asked for),
                # so that a served table's key names its target whatever --tables says.
                metadata.reflect(conn, schema=schema, only=chunk, views=True, resolve_fks=True)
            for warning in caught:  # "Did not recognize type ...": the column is reported when served
                found = _UNKNOWN_TYPE.search(str(warning.message))
                if found is not None:
                    metadata.info.setdefault("unknown_types", {})[found.group(2)] = found.group(1)
                elif not issubclass(warning.category, sa.exc.SAWarning):
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            if progress is not None:
                progress(min(start + CHUNK, len(names)), len(names))
    return metadata, names, views, skipped


_UNKNOWN_TYPE = re.compile(r"Did not recognize type '(.+?)' of column '(.+?)'")


def _type_name(column: sa.Column[Any]) -> str:
    """The column's SQL type as the database names it, as far as reflection knows it."""
    if isinstance(column.type, sa.types.NullType):
        table = column.table
        unknown = table.metadata.info.get("unknown_types", {}) if isinstance(table, sa.Table) else {}
        return f"{unknown.get(column.name, 'unknown')} (not one SQLAlchemy knows)"
    return str(column.type)


def _rowid_alias(column: sa.Column[Any]) -> bool:
    # SQLite assigns an INTEGER PRIMARY KEY (the rowid's alias) itself; no other type name does.
    return isinstance(column.type, sa.Integer) and str(column.type).upper() == "INTEGER"


def _fix_autoincrement(table: sa.Table, dialect: str) -> None:
    """Whether the database fills the key in, as reflected: SQLAlchemy leaves "auto" where it cannot say."""
    keys = list(table.primary_key.columns)
    for column in table.columns:
        if column.autoincrement != "auto":
            continue
        if dialect == "sqlite" and len(keys) == 1 and column is keys[0]:
            column.autoincrement = _rowid_alias(column)
        else:  # MySQL says AUTO_INCREMENT when there is one; PostgreSQL says identity and serial
            column.autoincrement = False


# -- row counts for the summary --------------------------------------------------------------


def _estimate(conn: sa.Connection, table: sa.Table) -> int | None:
    dialect = conn.dialect.name
    try:
        if dialect == "postgresql":
            estimate = conn.execute(
                sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"),
                {"name": conn.dialect.identifier_preparer.format_table(table)},
            ).scalar()
            if estimate is not None and estimate >= 0:
                return int(estimate)
        elif dialect in ("mysql", "mariadb"):
            estimate = conn.execute(
                sa.text(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name "
                    "AND TABLE_TYPE = 'BASE TABLE'"
                ),
                {"schema": table.schema, "name": table.name},
            ).scalar()
            if estimate is not None:
                return int(estimate)
        # SQLite keeps no estimate; a table never analyzed on PostgreSQL has none either: counted.
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    except sa.exc.DBAPIError:
        conn.rollback()
        return None


def url_is_async(url: str) -> bool:
    return bool(sa.make_url(url).get_dialect().is_async)
