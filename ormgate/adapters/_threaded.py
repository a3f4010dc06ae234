"""Runs a synchronous store's operations, each a whole unit of work, in one thread hop.

The hop uses the event loop's executor machinery with ormgate's own pool
rather than anyio's ``to_thread`` (no capacity limiter or cancel scope per
call: a third of the event loop's time per request went there). Stores of
in-process databases (SQLite) may declare ``inline_reads``: their reads run on
the event loop thread, as a hand-written ``async def`` route with sqlite3 does,
while writes, which may wait on a lock, still hop.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ..query import Query
from .base import Check, Page, Row, SyncStore

T = TypeVar("T")

# Sized like anyio's default limiter; ORMGATE_THREADS overrides it.
_pool = ThreadPoolExecutor(max_workers=int(os.environ.get("ORMGATE_THREADS", "40")), thread_name_prefix="ormgate")


async def run_sync(function: Callable[..., T], *args: Any) -> T:
    """``function(*args)`` in a worker thread; the caller awaits it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(_pool, functools.partial(function, *args))


class ThreadedStore:
    def __init__(self, sync: SyncStore) -> None:
        self.sync = sync
        self.info = sync.info
        self.inline_reads = getattr(sync, "inline_reads", False)

    async def list(self, query: Query) -> Page:
        if self.inline_reads:
            return self.sync.list(query)
        return await run_sync(self.sync.list, query)

    async def get(self, pk: Any) -> Row | None:
        if self.inline_reads:
            return self.sync.get(pk)
        return await run_sync(self.sync.get, pk)

    async def create(self, values: Row) -> Row:
        return await run_sync(self.sync.create, values)

    async def update(self, pk: Any, values: Row, check: Check | None = None) -> Row:
        return await run_sync(self.sync.update, pk, values, check)

    async def delete(self, pk: Any, check: Check | None = None) -> None:
        await run_sync(self.sync.delete, pk, check)
