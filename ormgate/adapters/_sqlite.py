"""What every adapter does to a SQLite connection, and how it compares timestamps, which SQLite keeps as text.

SQLite has no date or time type: a timestamp is the text its writer chose, and compares as text.
Python's ``str(datetime)`` (Django, Peewee, and SQLAlchemy once ormgate has its engine, see
docs/sqlalchemy.md) and ``CURRENT_TIMESTAMP`` write a whole second without a fraction
(``2024-01-02 12:34:56``), a fraction with six digits; Django's ``Now()`` writes three
(``…:56.120``), SQLAlchemy wrote six zeros before ormgate (``…:56.000000``). One instant's texts
are then a run of neighbours in text order, from the shortest (trailing zeros dropped) to the
six-digit one, whatever was stored: ``=`` is a range between the two, ``>`` compares with the
longest, ``<`` with the shortest. An index on the column still serves each (the bounds are
constants), and the value bound may be in any of those forms (each ORM binds its own).
"""

from __future__ import annotations

import re
from typing import Any

from ..plan import fold
from .base import SQLITE_WAL

LOWEST = "ormgate_time_lowest"  # the shortest text of the instant a text names
HIGHEST = "ormgate_time_highest"  # its six-digit text

# ``column <op> value`` on a timestamp kept as text: (operator, bound of the value) pairs that
# must all hold. ``ne`` is the negation of ``eq`` (a NULL matching neither).
TEXT_TIME: dict[str, tuple[tuple[str, str], ...]] = {
    "eq": (("gte", LOWEST), ("lte", HIGHEST)),
    "gt": (("gt", HIGHEST),),
    "gte": (("gte", LOWEST),),
    "lt": (("lt", LOWEST),),
    "lte": (("lte", HIGHEST),),
}


# A time of day at its end, and the fraction of its second if any: "2024-01-02 12:34:56.5".
_SECOND = re.compile(r"(.*:\d\d)(?:\.(\d*))?")


def _highest(text: Any) -> Any:
    found = _SECOND.fullmatch(text) if isinstance(text, str) else None
    return text if found is None else f"{found[1]}.{(found[2] or '').ljust(6, '0')}"


def _lowest(text: Any) -> Any:
    found = _SECOND.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        return text
    fraction = (found[2] or "").rstrip("0")
    return f"{found[1]}.{fraction}" if fraction else found[1]


def prepare(connection: Any, *, lower: str = "lower", pragmas: tuple[str, ...] = (), wal: bool = True) -> None:
    """Give a DBAPI SQLite connection ormgate's settings, before its first use.

    Foreign keys enforced (each connection must ask; a no-op inside a transaction), WAL (see
    base.SQLITE_WAL; not when ``wal`` is false: a connection opened read-only, ``mode=ro``, must
    leave the file as it is), ``lower`` (or the name given) folding case with Python's Unicode rules
    (SQLite's own knows ASCII only: icontains would differ from PostgreSQL and MariaDB on "Ä"),
    the timestamp bounds above, then ``pragmas``.
    """
    connection.create_function(lower, 1, fold, deterministic=True)
    connection.create_function(LOWEST, 1, _lowest, deterministic=True)
    connection.create_function(HIGHEST, 1, _highest, deterministic=True)
    cursor = connection.cursor()
    for pragma in ("PRAGMA foreign_keys=ON", *pragmas, *((SQLITE_WAL,) if wal else ())):
        cursor.execute(pragma)
    cursor.close()
