"""SQLAlchemy 2.x declarative models, on a sync ``Engine`` or an ``AsyncEngine``.

Resource operations run on Core connections: they select labelled columns and
return dicts, never ORM objects. Each operation is written once against a sync
``Connection``; an async engine runs the same function through
``AsyncConnection.run_sync``, a sync engine in one worker thread.

The adapter's modules, by concept: ``_sa_describe`` (the ``ModelInfo`` from the
mapper), ``_sa_relations`` (its relations), ``_sa_dialects`` (what differs per
database), ``_sa_compile`` and ``_sa_across`` (a plan's conditions in Core),
``_sa_operations`` (the five operations, statements built once), ``_sa_links``
(many-to-many lists written), ``_sa_stores`` (the operations as units of work),
``_sa_errors`` (errors at the boundary), ``_sa_fast`` (one-statement reads on the
driver), ``_sa_engine``, ``_sa_times`` and ``_sa_tables`` (the engine, its
connections and the tables ormgate creates).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from ..model import ModelInfo
from ..waiting import DEFAULT_WAITING, Waiting
from ._drivers import dropped
from ._sa_describe import describe
from ._sa_dialects import _IN_PROCESS
from ._sa_engine import _sqlite_name, prepare_engine
from ._sa_errors import _translated
from ._sa_operations import _Operations
from ._sa_stores import _AsyncStore, _SyncStore
from ._sa_tables import _create_all, _create_all_on
from ._threaded import Gate, ThreadedStore, one_writer, pool_size, run_sync
from .base import IN_MEMORY_SQLITE, memory_sqlite

__all__ = ["SQLAlchemyAdapter", "describe"]


class SQLAlchemyAdapter:
    """ormgate on a SQLAlchemy ``Engine`` or ``AsyncEngine``.

    No more operations run at once than the pool keeps connections (``pool_size``);
    the others wait for one within the bounds of ``waiting``, or are answered 503.
    """

    def __init__(self, engine: sa.Engine | AsyncEngine, *, waiting: Waiting = DEFAULT_WAITING) -> None:
        self.engine = engine
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        if sync_engine.dialect.name == "sqlite" and memory_sqlite(_sqlite_name(sync_engine.url)):
            raise ValueError(IN_MEMORY_SQLITE)
        # Shared by this adapter's stores; the pool is looked up each time, as dispose() replaces it.
        self.waiting = waiting
        self.gate = Gate(lambda: pool_size(sync_engine.pool), waiting)
        self.writes = one_writer(waiting) if sync_engine.dialect.name in _IN_PROCESS else self.gate
        prepare_engine(sync_engine)

    def describe(self, model: type[Any]) -> ModelInfo:
        return describe(model, self.engine.dialect)

    def store(self, model: type[Any], fields: Sequence[str]) -> _AsyncStore | ThreadedStore:
        operations = _Operations(model, fields)
        if isinstance(self.engine, AsyncEngine):
            return _AsyncStore(self.engine, operations, self.gate, self.writes)
        return ThreadedStore(_SyncStore(self.engine, operations), self.gate, self.writes)

    async def create_tables(self, models: Sequence[type[Any]]) -> None:
        tables = [sa.inspect(model).local_table for model in models]
        if isinstance(self.engine, AsyncEngine):
            async with self.engine.begin() as conn:
                await conn.run_sync(_create_all, tables)
        else:
            await run_sync(_create_all_on, self.engine, tables)

    async def aclose(self) -> None:
        """``engine.dispose()``, awaited for an async engine, in a worker thread for a sync one."""
        if isinstance(self.engine, AsyncEngine):
            await self.engine.dispose()
        else:
            await run_sync(self.engine.dispose)

    def session(self) -> Iterator[Session]:
        """FastAPI dependency: a ``Session`` in a transaction, committed when the endpoint returns.

        Use it with ``Depends(db.session, scope="function")`` so that the commit,
        and any conflict it raises, happens before the response is sent. Its
        connection is opened before the endpoint runs, once more if the database
        was down; a database that is unavailable (down, dropped the connection,
        busy) is a 503 with ``Retry-After``, never a 500.
        """
        assert isinstance(self.engine, sa.Engine), "use async_session with an AsyncEngine"
        with _translated({}), Session(self.engine, expire_on_commit=False) as session:
            for attempt in range(2):
                try:
                    session.connection()  # begins the transaction, as session.begin() would
                    break
                except sa.exc.DBAPIError as exc:
                    session.rollback()
                    if attempt or not dropped(exc):
                        raise
            yield session
            session.commit()

    async def async_session(self) -> AsyncIterator[AsyncSession]:
        """The ``AsyncSession`` twin of ``session``."""
        assert isinstance(self.engine, AsyncEngine), "use session with a sync Engine"
        with _translated({}):
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                for attempt in range(2):
                    try:
                        await session.connection()
                        break
                    except (sa.exc.DBAPIError, OSError) as exc:
                        await session.rollback()
                        if attempt or not dropped(exc):
                            raise
                yield session
                await session.commit()
