"""What differs between databases for the SQLAlchemy adapter, as data read by shared code."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql


def _binary(column: Any) -> Any:
    return column


def _utf8_bytes(column: Any) -> Any:
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    return sa.cast(sa.cast(column, mysql.CHAR(charset="utf8mb4")), sa.LargeBinary)


# Per-dialect differences, as data. MySQL/MariaDB compare strings with a
# case-insensitive collation by default (see _collation): case-sensitive patterns
# match under a binary one (LIKE does not pad), equality compares the bytes too
# (beside the plain comparison, so that an index still helps).
_BINARY: dict[str, Any] = {
    "mysql": lambda column: column.collate("utf8mb4_bin"),
    "mariadb": lambda column: column.collate("utf8mb4_bin"),
}
_IDENTICAL: dict[str, Any] = {"mysql": _utf8_bytes, "mariadb": _utf8_bytes}
# Databases in the process itself: a read costs microseconds and never waits on the network.
_IN_PROCESS = frozenset({"sqlite"})
# PostgreSQL sorts NULL as the largest value; ormgate's order has it smallest everywhere.
_NULLS_LARGEST = frozenset({"postgresql"})
# Where switching a connection to autocommit is a client-side flag, a one-statement
# read runs without BEGIN and COMMIT: two round trips fewer. (PyMySQL would spend
# a round trip on the switch itself.)
_AUTOCOMMIT_READS = frozenset({"postgresql"})
# How a unit of work that writes begins, where the driver's own BEGIN would not lock enough.
# pysqlite and aiosqlite begin no transaction before a SELECT, and SQLite has no row locks
# (FOR UPDATE is dropped): without the write lock taken first, a write from another
# process could land between an If-Match check and the UPDATE, and be overwritten.
_BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE"}
# Where a timestamp is text, compared as the instant it names (see _sqlite).
_TEXT_TIMES = frozenset({"sqlite"})
# Where tables ormgate creates are given the exact collation (see _collation).
_TEXT_TABLE_OPTIONS = frozenset({"mysql", "mariadb"})
