"""SQLAlchemy's SQLite timestamps, written as every other writer of a SQLite file writes them.

SQLAlchemy's SQLite ``DATETIME`` and ``TIME`` write six digits of fraction always
(``2024-01-02 12:34:56.000000``); Python's ``str()`` (Django, Peewee) and
``CURRENT_TIMESTAMP`` write a whole second without one (``2024-01-02 12:34:56``). As
text these differ: the rows a server default fills were not found by equality with the
same instant, nor walked by a cursor on the column. The adapter gives a SQLite engine's
dialect these two types for the generic ``DateTime`` and ``Time`` (``colspecs``, which
``DefaultDialect.type_descriptor`` documents as read from the dialect instance too): a
whole second is written as Python writes it, any other value as before. A column whose
type sets its own ``storage_format`` keeps it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite


class _WholeSeconds(sa.types.TypeEngine[Any]):
    """A whole second without the ``.000000`` the default storage format writes; a format of one's own kept."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.own_format = "storage_format" in kwargs

    def bind_processor(self, dialect: sa.Dialect) -> Any:
        process = super().bind_processor(dialect)
        if process is None or self.own_format:
            return process

        def bind(value: Any) -> Any:
            text = process(value)
            return text[:-7] if isinstance(text, str) and text.endswith(".000000") else text

        return bind


class DATETIME(_WholeSeconds, sqlite.DATETIME):
    cache_ok = True


class TIME(_WholeSeconds, sqlite.TIME):
    cache_ok = True


def whole_seconds(dialect: sa.Dialect) -> None:
    """Make ``dialect`` (a SQLite engine's) write whole seconds as Python does; once per dialect."""
    if dialect.colspecs.get(sa.DateTime) is not DATETIME:
        # The generic types, and SQLite's own (a reflected table's columns have those).
        kinds: dict[type[Any], type[Any]] = {
            sa.DateTime: DATETIME,
            sqlite.DATETIME: DATETIME,
            sa.Time: TIME,
            sqlite.TIME: TIME,
        }
        dialect.colspecs = {**dialect.colspecs, **kinds}
