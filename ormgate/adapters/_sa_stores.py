"""The SQLAlchemy adapter's stores: the operations run as units of work on a sync ``Engine`` or an ``AsyncEngine``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from ..query import Query
from ._sa_dialects import _AUTOCOMMIT_READS, _IN_PROCESS
from ._sa_errors import _pool_timeout, _retry, _translated
from ._sa_fast import AsyncReads, SyncReads, compile_read, driver_refusal
from ._sa_operations import _Operations
from ._threaded import Gate, run_sync
from .base import Check, Hook, OnWrite, Page, Row, Where

T = TypeVar("T")

E = TypeVar("E", sa.Engine, AsyncEngine)


def _reader(engine: E) -> E:
    """The engine one-statement reads use: ``engine`` itself, or its autocommit twin."""
    if engine.dialect.name in _AUTOCOMMIT_READS:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class _SyncStore:
    def __init__(self, engine: sa.Engine, operations: _Operations) -> None:
        self.engine = engine
        self.ops = operations
        self.info = operations.info
        self.reader = _reader(engine)
        fast = driver_refusal(engine.dialect) is None
        self.fast = SyncReads(engine, operations.constraint_fields) if fast else None
        # See _threaded.may_run_inline. Not without a kept connection (a pool of one): a read on the
        # event loop would wait there for the pool's connection while a worker thread holds it.
        self.in_process = engine.dialect.name in _IN_PROCESS and self.fast is not None and self.fast.kept is not None
        self.fast_get = compile_read(operations.by_pk, engine.dialect) if fast else None

    def _run(self, operation: Callable[..., T], *args: Any, read: bool = False, deleting: bool = False) -> T:
        engine = self.reader if read else self.engine
        with _translated(self.ops.constraint_fields, deleting=deleting):
            for attempt in range(2):
                committing = False
                try:
                    with engine.begin() as conn:
                        result = operation(conn, *args)
                        committing = True
                    return result
                except sa.exc.DBAPIError as exc:
                    if not _retry(exc, attempt, committing):
                        raise
        raise AssertionError("unreachable")

    def list(self, query: Query) -> Page:
        # With a count, rows and total come from one transaction's snapshot.
        if self.fast is not None and not query.count:
            compiled = self.ops.fast_list(self.engine.dialect, query)
            try:
                rows = None if compiled is None else self.fast.rows(*compiled)
            except sa.exc.TimeoutError as exc:
                raise _pool_timeout(exc) from exc
            if rows is not None:
                return Page(rows, None)
        return self._run(self.ops.list, query, read=not query.count)

    def list_on_loop(self, query: Query) -> Page | None:
        """The page, read on the event loop within ``LOOP_BUDGET`` (SQLite's fast path, no count), or None."""
        if self.fast is None or query.count:
            return None
        compiled = self.ops.fast_list(self.engine.dialect, query)
        rows = None if compiled is None else self.fast.rows(*compiled, on_loop=True)
        return None if rows is None else Page(rows, None)

    def get(self, pk: Any, where: Where = None) -> Row | None:
        found = self.get_on_loop(pk, where)
        return found[0] if found is not None else self._run(self.ops.get, pk, where, read=True)

    def get_on_loop(self, pk: Any, where: Where = None) -> tuple[Row | None] | None:
        """The row by the fast read in a 1-tuple, or None. On the event loop only on the kept connection
        (SQLite), never waiting for the pool: None then sends the GET to a worker thread."""
        if self.fast is None or self.fast_get is None:
            return None
        scoped = self.ops.fast_get(self.engine.dialect, pk, where)
        compiled, params = (self.fast_get, {"pk": pk}) if scoped is None else scoped
        try:
            rows = None if compiled is None else self.fast.rows(compiled, params)
        except sa.exc.TimeoutError as exc:
            raise _pool_timeout(exc) from exc
        return None if rows is None else (rows[0] if rows else None,)

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        return self._run(self.ops.create, values, hook)

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        return self._run(self.ops.update, pk, values, check, where, hook)

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        self._run(self.ops.delete, pk, check, where, hook, deleting=True)


class _AsyncStore:
    def __init__(self, engine: AsyncEngine, operations: _Operations, gate: Gate, writes: Gate) -> None:
        self.engine = engine
        self.gate = gate
        self.writes = writes
        self.ops = operations
        self.info = operations.info
        self.reader = _reader(engine)
        dialect = engine.sync_engine.dialect
        fast = driver_refusal(dialect) is None
        self.fast = AsyncReads(engine, operations.constraint_fields) if fast else None
        self.fast_get = compile_read(operations.by_pk, dialect) if fast else None

    async def _run(self, operation: Callable[..., T], *args: Any, read: bool = False, deleting: bool = False) -> T:
        engine, gate = (self.reader, self.gate) if read else (self.engine, self.writes)
        with _translated(self.ops.constraint_fields, deleting=deleting):
            for attempt in range(2):
                committing = False
                try:
                    async with gate(), engine.begin() as conn:
                        result = await conn.run_sync(operation, *args)
                        committing = True
                    return result
                except sa.exc.DBAPIError as exc:
                    if not _retry(exc, attempt, committing):
                        raise
        raise AssertionError("unreachable")

    async def list(self, query: Query) -> Page:
        if self.fast is not None and not query.count:
            compiled = self.ops.fast_list(self.engine.sync_engine.dialect, query)
            rows = None
            if compiled is not None:
                async with self.gate():
                    try:
                        rows = await self.fast.rows(*compiled)
                    except sa.exc.TimeoutError as exc:
                        raise _pool_timeout(exc) from exc
            if rows is not None:
                return Page(rows, None)
        return await self._run(self.ops.list, query, read=not query.count)

    async def get(self, pk: Any, where: Where = None) -> Row | None:
        if self.fast is not None and self.fast_get is not None:
            scoped = self.ops.fast_get(self.engine.sync_engine.dialect, pk, where)
            compiled, params = (self.fast_get, {"pk": pk}) if scoped is None else scoped
            rows = None
            if compiled is not None:
                async with self.gate():
                    try:
                        rows = await self.fast.rows(compiled, params)
                    except sa.exc.TimeoutError as exc:
                        raise _pool_timeout(exc) from exc
            if rows is not None:
                return rows[0] if rows else None
        return await self._run(self.ops.get, pk, where, read=True)

    # on_write may be slow (a password hash): a worker thread makes the values, outside the gate.

    # A hook runs inside run_sync, as the operation does: SQLAlchemy's greenlet on the event loop,
    # whose database calls through the sync Connection wait without blocking it.

    async def create(self, values: Row, on_write: OnWrite | None = None, hook: Hook | None = None) -> Row:
        if on_write is not None:
            values = await run_sync(on_write, values)
        return await self._run(self.ops.create, values, hook)

    async def update(
        self,
        pk: Any,
        values: Row,
        check: Check | None = None,
        on_write: OnWrite | None = None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        if on_write is not None:
            values = await run_sync(on_write, values)
        return await self._run(self.ops.update, pk, values, check, where, hook)

    async def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        await self._run(self.ops.delete, pk, check, where, hook, deleting=True)
