"""One-statement reads for the SQLAlchemy adapter, straight on the driver's connection.

SQLAlchemy's ``Connection`` (execution context, transaction and result
bookkeeping) was a quarter to a third of a read's server CPU. A read of one
statement needs none of it where the driver can run it outside a transaction
at no cost:

- pysqlite: the dialect's sqlite3 connection starts no transaction for a SELECT;
- psycopg (3): ``autocommit`` is a client-side switch, flipped for the read;
- asyncpg: a statement outside a transaction commits by itself;
- aiosqlite: as pysqlite, in one round trip to its thread rather than about six.

The connection still comes from the engine's pool (pre-ping, recycling and
events apply; SQLite's GETs on the event loop keep one, see ``SyncReads``),
the SQL is SQLAlchemy's own, compiled once per statement, and
values go through the column types' bind and result processors for the
dialect, so rows are exactly those of the ``Connection`` path. A statement
with expanding parameters (``in``) keeps the ``Connection`` path, and so do the
other drivers, and every read for which ``_fast.refusal`` says the ``Connection``
would do something the fast path does not (see the reasons there). A driver error
that is not a data error (a dead connection, a timeout) makes the read give
up: the connection is discarded (unless it is SQLite's) and the caller runs
the read again on the ``Connection`` path, which recycles the pool, retries
and reports errors as for any other operation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import greenlet_spawn

from ..errors import Unavailable
from ._drivers import classify
from ._fast import HOOKS, Facts, refusal
from ._rows import RowsToDicts, rows_to_dicts
from ._threaded import Overran, loop_budget, pool_size
from .base import Row

# Drivers whose connections run a read in a transaction unless told otherwise.
_AUTOCOMMIT_FLAG = frozenset({"psycopg"})


class Compiled:
    """A read statement compiled for one dialect: its SQL, its parameters in driver form, its rows as dicts."""

    def __init__(self, statement: sa.Select[Any], compiled: sa.engine.Compiled, dialect: sa.Dialect) -> None:
        assert isinstance(compiled, sa.sql.compiler.SQLCompiler)
        self.dialect = dialect
        self.sql = compiled.string
        self.positional = compiled.positiontup is not None
        names = compiled.positiontup if compiled.positiontup is not None else list(compiled.binds)
        # (name, processor, value of a bind the caller does not supply)
        self.binds = [
            (name, bind.type.dialect_impl(dialect).bind_processor(dialect), bind.effective_value)
            for name, bind in ((name, compiled.binds[name]) for name in names)
        ]
        self.bind_names = [name for name, _, _ in self.binds]
        self.types = [(str(column.key), column.type) for column in statement.selected_columns]
        self.names = [name for name, _ in self.types]
        # Rows into dicts with the columns' result processors; None until the first result is seen.
        self.to_dicts: RowsToDicts | None = None

    def parameters(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        processed = []  # a list is a sequence every driver takes: no tuple made from it
        for name, process, default in self.binds:
            value = values.get(name, default)
            processed.append(value if process is None or value is None else process(value))
        if self.positional:
            return processed
        return dict(zip(self.bind_names, processed, strict=True))

    def describe(self, type_codes: Sequence[Any]) -> None:
        """Learns the result processors from the driver's type codes of the first result."""
        processors = [
            type_.dialect_impl(self.dialect).result_processor(self.dialect, code)
            for (_, type_), code in zip(self.types, type_codes, strict=True)
        ]
        self.to_dicts = rows_to_dicts(self.names, {i: p for i, p in enumerate(processors) if p is not None})

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[Row]:
        assert self.to_dicts is not None, "describe() first"
        return self.to_dicts(rows)


def facts(engine: sa.Engine) -> Facts:
    """What ``_fast.refusal`` judges a read on ``engine`` by, now: listeners come and go.

    The driver is not among them: a store asks about it once (``driver_refusal``).

    A few attribute reads while nothing listens. ``_has_events`` is SQLAlchemy's own flag for
    "has listeners" (an engine copy's includes its parent's); the public way to the same answer,
    each event's listener collection, costs 5 µs a read (docs/adapters.md, private APIs).
    """
    dialect = engine.dialect
    hooks: tuple[str, ...] = ()
    if engine._has_events or dialect._has_events:
        hooks = tuple(
            name
            for name in HOOKS["sqlalchemy"]
            if getattr(engine.dispatch, name, None) or getattr(dialect.dispatch, name, None)
        )
    return Facts(
        orm(dialect),
        hooks=hooks,
        options=engine.get_execution_options(),
        logged=engine.logger.isEnabledFor(logging.INFO),
    )


def eligible(engine: sa.Engine) -> bool:
    """Whether nothing set on ``engine`` (an ``AsyncEngine``'s ``sync_engine``) now keeps a
    one-statement read on its ``Connection`` (see ``_fast``), the driver aside."""
    return refusal(facts(engine)) is None


def driver_refusal(dialect: sa.Dialect) -> str | None:
    """Why reads on ``dialect``'s driver never skip the ``Connection``, or None (see ``_fast``)."""
    return refusal(Facts(orm(dialect), driver=dialect.driver))


def orm(dialect: sa.Dialect) -> str:
    """The name ``_fast`` knows SQLAlchemy by on ``dialect``: an async one runs other code."""
    return "sqlalchemy async" if dialect.is_async else "sqlalchemy"


def _give_up(exc: Exception, raw: Any, constraint_fields: dict[str, str], *, discard: bool) -> None:
    """After a driver error on a fast read: a data error is raised as ormgate's; any other
    makes the caller fall back to the ``Connection`` path, the connection discarded first
    (a dropped connection too: that path runs the read once more on a new one)."""
    error = classify(exc, constraint_fields)
    if error is not None and not isinstance(error, Unavailable):
        raise error from exc
    if discard:  # not SQLite's: an in-memory database lives in its one connection
        raw.invalidate(exc)


def compile_read(statement: sa.Select[Any], dialect: sa.Dialect) -> Compiled | None:
    """The statement compiled for ``dialect``, or None when it must take the ``Connection`` path."""
    compiled = statement.compile(dialect=dialect)
    if any(bind.expanding for bind in compiled.binds.values()):
        return None
    return Compiled(statement, compiled, dialect)


class _Kept:
    """The one pooled connection that an engine's SQLite reads on the event loop keep checked out.

    Kept with the pool it came from: ``engine.dispose()`` replaces the engine's pool and leaves
    checked-out connections alone, and this one stays checked out. Once the engine has another
    pool, the kept connection is closed and the next read keeps a new one: it would have
    outlived a reset (a database file deleted and made anew).
    """

    def __init__(self) -> None:
        self.held: Any = None
        self.pool: sa.Pool | None = None
        self.lock = threading.Lock()
        self._finalizer: weakref.finalize[Any, Any] | None = None

    def keep(self, raw: Any, pool: sa.Pool) -> None:
        self.held, self.pool = raw, pool
        # Given back to the pool when this object goes (with its engine), never garbage-collected checked out.
        self._finalizer = weakref.finalize(self, raw.close)

    def drop(self) -> None:
        """Closes the connection kept (the caller holds ``lock``)."""
        held, self.held, self.pool = self.held, None, None
        if self._finalizer is not None:
            self._finalizer.detach()
        if held is not None:
            held.invalidate()


# One per engine, shared by all its stores: each store keeping its own used up a pool smaller than
# the resources read (an include reads another model's store), and the next read waited for the
# pool's timeout, a 503. The value holds no reference to its engine, which it would keep alive.
_KEPT: weakref.WeakKeyDictionary[sa.Engine, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _on_a_loop() -> bool:
    """Whether this thread runs an event loop: the kept connection is the loop's, a worker thread's
    read takes one from the pool (and so never holds the kept one while the loop waits for the pool)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _kept(engine: sa.Engine) -> _Kept | None:
    """The engine's kept connection, or None where its pool cannot spare one for good.

    A pool of one connection (``pool_size=1``) would have none left for the worker threads'
    lists and writes; a ``StaticPool`` (no bound) has one to spare. A ``NullPool`` keeps no
    connection open between uses, which its user chose (a file deleted and made anew between
    tests must not be read through a connection to the old one): none kept either.
    """
    size = pool_size(engine.pool)
    if (size is not None and size < 2) or isinstance(engine.pool, sa.NullPool):
        return None
    with _KEPT_LOCK:
        kept = _KEPT.get(engine)
        if kept is None:
            kept = _KEPT[engine] = _Kept()
        return kept


class SyncReads:
    """Reads on a sync engine's pooled DBAPI connections.

    SQLite GETs by key run on the event loop, one at a time: they keep one pooled
    connection checked out rather than taking one from the pool and giving it
    back for each read (a tenth of a GET's CPU), one per engine for all its
    stores (``_kept``), and only where the pool has more than one. The loop never
    checks one out (the pool may make it wait): a worker thread's read keeps the
    connection it took when none is kept yet. A read on the loop that finds the
    kept one in use or missing does not read (the operation hops); a read in a
    worker thread takes one from the pool as usual.
    """

    def __init__(self, engine: sa.Engine, constraint_fields: dict[str, str]) -> None:
        self.engine = engine
        self.constraint_fields = constraint_fields
        self.autocommit = engine.dialect.driver in _AUTOCOMMIT_FLAG
        self.sqlite = engine.dialect.name == "sqlite"
        self.errors: type[Exception] = engine.dialect.loaded_dbapi.Error
        self.kept = _kept(engine) if self.sqlite else None

    def rows(self, compiled: Compiled, values: Mapping[str, Any], *, on_loop: bool = False) -> list[Row] | None:
        """The rows, or None when the read must take the ``Connection`` path (or, on the event loop,
        a worker thread: the kept connection is missing or in use).

        ``on_loop``: SQLite only; the statement is stopped after ``LOOP_BUDGET`` (``Overran``).
        """
        if not eligible(self.engine):
            return None
        kept = self.kept
        if kept is not None and _on_a_loop():
            # The kept connection if it is there and free; never a checkout here: it may wait for the pool.
            if kept.held is not None and kept.lock.acquire(blocking=False):
                try:
                    if kept.held is not None and kept.pool is self.engine.pool:
                        return self._rows(kept.held, compiled, values, kept=True, on_loop=on_loop)
                finally:
                    kept.lock.release()
            return None
        try:
            raw = self.engine.raw_connection()
        except (self.errors, OSError):  # no connection: the Connection path tries again, or says why
            return None
        pool = self.engine.pool
        if kept is not None and kept.pool is not pool and kept.lock.acquire(blocking=False):
            # None kept yet (the last one failed, or the engine was disposed since): this one,
            # checked out off the loop, becomes it.
            try:
                if kept.pool is not pool:
                    kept.drop()
                    kept.keep(raw, pool)
                    return self._rows(raw, compiled, values, kept=True, on_loop=on_loop)
            finally:
                kept.lock.release()
        return self._rows(raw, compiled, values, kept=False, on_loop=on_loop)

    def _rows(
        self, raw: Any, compiled: Compiled, values: Mapping[str, Any], *, kept: bool, on_loop: bool
    ) -> list[Row] | None:
        failed = True
        try:
            driver = raw.driver_connection
            if self.autocommit:
                driver.autocommit = True
            try:
                cursor = raw.cursor()
                with loop_budget(driver) if on_loop else contextlib.nullcontext():
                    cursor.execute(compiled.sql, compiled.parameters(values))
                    fetched = cursor.fetchall()
                if compiled.to_dicts is None:
                    compiled.describe([column[1] for column in cursor.description])
                cursor.close()
            finally:
                if self.autocommit and not driver.closed:
                    # Back as the pool and SQLAlchemy expect it.
                    driver.autocommit = False
            failed = False
        except Overran:
            failed = False  # stopped on purpose: the connection is as good as before
            raise
        except self.errors as exc:
            _give_up(exc, raw, self.constraint_fields, discard=not self.sqlite)
            return None
        finally:
            if kept and failed and self.kept is not None:  # a fresh one next time
                self.kept.held = self.kept.pool = None
            if not kept or failed:
                raw.close()
        return compiled.rows(fetched)


async def _asyncpg(driver: Any, compiled: Compiled, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
    if compiled.to_dicts is None:  # the first time: the result's type codes, from the prepared statement
        prepared = await driver.prepare(compiled.sql)
        compiled.describe([attribute.type.oid for attribute in prepared.get_attributes()])
        return list(await prepared.fetch(*arguments))
    return list(await driver.fetch(compiled.sql, *arguments))


async def _aiosqlite(driver: Any, compiled: Compiled, arguments: Sequence[Any]) -> Sequence[Sequence[Any]]:
    if compiled.to_dicts is None:
        compiled.describe([None] * len(compiled.types))  # SQLite's processors need no type codes
    return list(await driver.execute_fetchall(compiled.sql, arguments))


def _asyncpg_errors() -> tuple[type[Exception], ...]:
    import asyncpg  # type: ignore[import-untyped]

    # InternalClientError: what a connection the server dropped while idle may raise first.
    return (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError)


def _sqlite_errors() -> tuple[type[Exception], ...]:
    return (sqlite3.Error,)


# driver -> (how to fetch on its connection, the errors it raises)
_ASYNC: dict[str, tuple[Callable[..., Any], Callable[[], tuple[type[Exception], ...]]]] = {
    "asyncpg": (_asyncpg, _asyncpg_errors),
    "aiosqlite": (_aiosqlite, _sqlite_errors),
}


class AsyncReads:
    """Reads on an async engine's pooled connections, on the event loop (one aiosqlite thread round trip)."""

    def __init__(self, engine: AsyncEngine, constraint_fields: dict[str, str]) -> None:
        fetch, errors = _ASYNC[engine.dialect.driver]
        self.engine = engine
        self.constraint_fields = constraint_fields
        self.fetch = fetch
        # The driver's own errors from its connection, and the dialect's adapted ones from the
        # pool's connect (asyncpg's "too many connections", "the database system is starting up").
        self.errors: tuple[type[Exception], ...] = (*errors(), engine.dialect.loaded_dbapi.Error)
        self.discard = engine.dialect.name != "sqlite"
        # aiosqlite's connection resets itself by awaiting in SQLAlchemy's greenlet; asyncpg's
        # has nothing to reset, as the read started no transaction.
        self.greenlet_close = engine.dialect.driver == "aiosqlite"

    async def rows(self, compiled: Compiled, values: Mapping[str, Any]) -> list[Row] | None:
        if not eligible(self.engine.sync_engine):
            return None
        try:
            raw = await self.engine.raw_connection()
        except self.errors:  # no connection: the Connection path tries again, or says why
            return None
        try:
            fetched = await self.fetch(raw.driver_connection, compiled, compiled.parameters(values))
        except self.errors as exc:
            _give_up(exc, raw, self.constraint_fields, discard=self.discard)
            return None
        finally:
            if self.greenlet_close:
                await greenlet_spawn(raw.close)
            else:
                raw.close()
        return compiled.rows(fetched)
