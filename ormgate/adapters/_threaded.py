"""Runs a synchronous store's operations, each a whole unit of work, in one thread hop."""

from __future__ import annotations

from typing import Any

from anyio.to_thread import run_sync as run_in_threadpool

from ..query import Query
from .base import Check, Page, Row, SyncStore


class ThreadedStore:
    def __init__(self, sync: SyncStore) -> None:
        self.sync = sync
        self.info = sync.info

    async def list(self, query: Query) -> Page:
        return await run_in_threadpool(self.sync.list, query)

    async def get(self, pk: Any) -> Row | None:
        return await run_in_threadpool(self.sync.get, pk)

    async def create(self, values: Row) -> Row:
        return await run_in_threadpool(self.sync.create, values)

    async def update(self, pk: Any, values: Row, check: Check | None = None) -> Row:
        return await run_in_threadpool(self.sync.update, pk, values, check)

    async def delete(self, pk: Any, check: Check | None = None) -> None:
        await run_in_threadpool(self.sync.delete, pk, check)
