"""What the SQLAlchemy adapter does to the user's engine: each pooled connection prepared before its first use."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._sa_dialects import _TEXT_TIMES
from ._sa_times import whole_seconds
from ._sqlite import prepare as prepare_sqlite


def _prepare_sqlite(dbapi_connection: Any) -> None:
    # SQLite's LIKE ignores ASCII case unless asked otherwise (see _sqlite.prepare for the rest).
    prepare_sqlite(dbapi_connection, pragmas=("PRAGMA case_sensitive_like=ON",))


def _prepare_read_only_sqlite(dbapi_connection: Any) -> None:
    # A file opened read-only (``mode=ro`` in a URI filename) keeps its journal mode: no WAL switch.
    prepare_sqlite(dbapi_connection, pragmas=("PRAGMA case_sensitive_like=ON",), wal=False)


def _read_only_sqlite(url: sa.URL) -> bool:
    """Whether the URL opens its SQLite file read-only (``sqlite:///file:path?mode=ro&uri=true``)."""
    return url.query.get("mode") == "ro" and str(url.query.get("uri", "")).lower() in ("true", "1")


# What each DBAPI connection needs before its first use, by dialect.
_PREPARE = {"sqlite": _prepare_sqlite}
_PREPARED = "ormgate_prepared"  # the mark in a pool record's info, which the pool clears on reconnecting


def _on_checkout(prepare: Callable[[Any], None]) -> Callable[[Any, Any, Any], None]:
    # At checkout rather than connect: an engine used before the adapter existed (tables
    # created, a query run) has pooled connections that were opened without it.
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if _PREPARED not in record.info:
            prepare(dbapi_connection)
            record.info[_PREPARED] = True

    return checkout


def _sqlite_name(url: sa.URL) -> str:
    options = "&".join(f"{key}={value}" for key, value in url.query.items())
    return f"{url.database or ''}?{options}"


# One listener per kind of preparation, so that a second adapter on the engine does not add another.
_CHECKOUT = {prepare: _on_checkout(prepare) for prepare in (*_PREPARE.values(), _prepare_read_only_sqlite)}
# The pools listened to, by the pool itself: sa.event.contains names a pool by id(), and a disposed
# pool's entries outlive it (its replacement inherits the listeners), so a new pool at the freed
# address looked listened to already. A pool that dispose() made may get the listener twice: the
# mark in each record makes the second a no-op.
_LISTENED: weakref.WeakSet[sa.Pool] = weakref.WeakSet()


def prepare_engine(sync_engine: sa.Engine) -> None:
    """Ready ``sync_engine`` (an ``AsyncEngine``'s own) for ormgate: its timestamps, each connection's settings."""
    if sync_engine.dialect.name in _TEXT_TIMES:
        whole_seconds(sync_engine.dialect)
    prepare = _PREPARE.get(sync_engine.dialect.name)
    if prepare is not None and sync_engine.dialect.name == "sqlite" and _read_only_sqlite(sync_engine.url):
        prepare = _prepare_read_only_sqlite
    if prepare is not None and sync_engine.pool not in _LISTENED:
        sa.event.listen(sync_engine.pool, "checkout", _CHECKOUT[prepare])
        _LISTENED.add(sync_engine.pool)
