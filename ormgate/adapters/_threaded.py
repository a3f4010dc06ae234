"""Runs a synchronous store's operations, each a whole unit of work, in one thread hop.

The hop uses the event loop's executor machinery with ormgate's own pool
rather than anyio's ``to_thread`` (no capacity limiter or cancel scope per
call: a third of the event loop's time per request went there). What may skip
the hop and run on the event loop thread is decided by ``may_run_inline``
alone. A store with a connection pool passes a ``Gate`` of its size: no more
operations than that are handed to threads at once, the others wait on the
loop. A database that takes one writer at a time (SQLite) passes a gate of one
for writes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from ..errors import Unavailable
from ..query import Query
from ..waiting import DEFAULT_WAITING, Waiting
from .base import Check, Hook, OnWrite, Page, Row, SyncStore, Where

T = TypeVar("T")

# Sized like anyio's default limiter; ORMGATE_THREADS overrides it.
_pool = ThreadPoolExecutor(max_workers=int(os.environ.get("ORMGATE_THREADS", "40")), thread_name_prefix="ormgate")


async def run_sync(function: Callable[..., T], *args: Any, threads: Executor = _pool) -> T:
    """``function(*args)`` in a worker thread; the caller awaits it without blocking the loop."""
    return await asyncio.get_running_loop().run_in_executor(threads, functools.partial(_stopless, function, *args))


def _stopless(function: Callable[..., T], *args: Any) -> T:
    # An asyncio future refuses StopIteration (it would end the coroutine awaiting it), so the loop's
    # copy of the thread's result was never set and the request waited forever. A hook or an
    # on_write calling next() on an empty iterator raised it: it is now the error it is, a 500.
    try:
        return function(*args)
    except StopIteration as exc:
        raise RuntimeError(f"{getattr(function, '__qualname__', function)!r} raised StopIteration") from exc


Operation = Literal["list", "get", "create", "update", "delete"]


# Why an operation must not run on the event loop thread, however fast it usually is: while it
# runs, no other request moves (a GET by key that takes 1-5 ms alone waited 0.26-0.45 s behind
# one list over 300k rows on SQLite).
# - Its database is out of process: it waits on the network, and on the server's locks.
# - It may scan: a list, its count, a pattern filter cost what the table holds, not what the
#   page holds. Unless the store can stop it (``interruptible``: SQLite's progress handler,
#   see ``loop_budget``) once it has held the loop for LOOP_BUDGET; it then runs again in a
#   worker thread. The hop costs a third of an indexed 100-row page's CPU on SQLite.
# - It writes: it may wait for another writer, and runs the resource's on_write (a password hash).
# What is left is a lookup by primary key in an in-process database (SQLite): one index seek
# that, in WAL mode, never waits for a writer. It is a GET's whole cost, and the hop would double it.
def may_run_inline(operation: Operation, in_process: bool, *, interruptible: bool = False) -> bool:
    """Whether ``operation`` of a store whose database is (or is not) ``in_process`` may run on the event loop.

    A list only as an attempt that the store interrupts after ``LOOP_BUDGET``, raising ``Overran``.
    """
    return in_process and (operation == "get" or (operation == "list" and interruptible))


LOOP_BUDGET = 0.002  # CPU seconds a statement may hold the event loop before it is stopped and sent to a thread
_STEPS = 20_000  # SQLite VM instructions between two looks at the clock (0.1-0.4 ms; each look is a
# system call: every 1,000 instructions it cost a sorted 100-row page on 10k rows a quarter of its CPU)


class Overran(Exception):
    """A statement tried on the event loop ran past ``LOOP_BUDGET`` and was stopped: run it in a thread."""


@contextlib.contextmanager
def loop_budget(connection: Any) -> Iterator[None]:
    """Stop what ``connection`` (a sqlite3 connection) executes in the block once it has run ``LOOP_BUDGET``."""
    deadline = time.thread_time() + LOOP_BUDGET
    overran = False

    def tick() -> bool:
        nonlocal overran
        overran = time.thread_time() > deadline
        return overran  # true: SQLite interrupts the statement

    connection.set_progress_handler(tick, _STEPS)
    try:
        yield
    except Exception as exc:
        if overran:  # the driver's (or the ORM's) "interrupted": nothing went wrong with the connection
            raise Overran from exc
        raise
    finally:
        connection.set_progress_handler(None, _STEPS)


class Slots:
    """``limit`` places, taken in order, with bounded waiting (``Waiting``); one per event loop.

    A free place is taken without suspending: O(1), no await. A request that
    finds none waits at most ``waiting.timeout`` seconds; when
    ``waiting.max_waiting`` requests already wait, it is refused at once.
    Either way it is ``Unavailable`` (a 503), never queued without end.
    """

    __slots__ = ("free", "max_waiting", "queue", "timeout", "waiting")

    def __init__(self, limit: int, waiting: Waiting) -> None:
        self.free = limit
        self.timeout = waiting.timeout
        self.max_waiting = waiting.max_waiting
        self.queue: collections.deque[asyncio.Future[None]] = collections.deque()
        self.waiting = 0  # the queue's futures still waiting (expired ones are removed)

    async def __aenter__(self) -> None:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        await self._wait()

    async def __aexit__(self, *exc: object) -> None:
        self.release()

    def release(self) -> None:
        while self.queue:
            waiter = self.queue.popleft()
            if not waiter.done():  # handed over: the waiter owns the place now
                self.waiting -= 1
                waiter.set_result(None)
                return
            # done: it timed out or was cancelled, and counts itself out (_forget)
        self.free += 1

    async def _wait(self) -> None:
        if self.waiting >= self.max_waiting:
            raise Unavailable(f"too many requests wait for the database (at most {self.max_waiting})")
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self.queue.append(waiter)
        self.waiting += 1
        timer = loop.call_later(self.timeout, _expire, waiter)
        try:
            await waiter
        except _TimedOut:
            self._forget(waiter)
            raise Unavailable(f"no database connection freed up within {self.timeout:g} s") from None
        except BaseException:  # cancelled while waiting, or just as the place was handed over
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release()  # it was handed over: pass it on
            else:
                self._forget(waiter)
            raise
        finally:
            timer.cancel()

    def _forget(self, waiter: asyncio.Future[None]) -> None:
        """A waiter that never got a place leaves: the error path only, O(waiting)."""
        self.waiting -= 1
        with contextlib.suppress(ValueError):  # release() may have skipped it off the queue already
            self.queue.remove(waiter)


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(_TimedOut())


class _TimedOut(Exception):
    pass


class Gate:
    """At most ``limit()`` operations at once on a connection pool; the others wait here, in order, boundedly.

    Waiting in a pool is costly under load: threads blocked on the pool's lock
    fight for the GIL, and an asyncio pool's woken waiter often finds the
    returned connection taken by a newcomer and goes back to the end of the
    line. With 32 clients on 10 connections an async SQLAlchemy GET cost 45%
    more CPU and tripled its p99 until this gate stood in front of the pool.
    A gate is shared by the stores of one adapter; it keeps its ``Slots`` per
    running event loop. ``limit()`` returning None means no limit. Waiting is
    bounded by ``waiting`` (see ``Slots``).
    """

    def __init__(self, limit: Callable[[], int | None], waiting: Waiting = DEFAULT_WAITING) -> None:
        self.limit = limit
        self.waiting = waiting
        self.key: tuple[asyncio.AbstractEventLoop, int | None] | None = None
        self.slots: contextlib.AbstractAsyncContextManager[Any] = contextlib.nullcontext()

    def __call__(self) -> contextlib.AbstractAsyncContextManager[Any]:
        key = (asyncio.get_running_loop(), self.limit())
        if key != self.key:
            self.slots = contextlib.nullcontext() if key[1] is None else Slots(key[1], self.waiting)
            self.key = key
        return self.slots


def pool_size(pool: Any) -> int | None:
    """The number of connections a SQLAlchemy-style pool keeps, or None when it has no such limit."""
    size = getattr(pool, "size", None)
    return size() if callable(size) else None


def one_writer(waiting: Waiting = DEFAULT_WAITING) -> Gate:
    """The gate of a database that takes one writer at a time (SQLite).

    Its writers queue here, in order, rather than in SQLite's busy handler,
    which sleeps and retries: with 32 clients writing, every thread-pool
    contender saw a p99 of 1-2 s.
    """
    return Gate(lambda: 1, waiting)


_UNLIMITED = Gate(lambda: None)


class ThreadedStore:
    """A ``SyncStore`` as a ``Store``: each operation in one hop to ``threads`` (ormgate's pool by default)."""

    def __init__(
        self, sync: SyncStore, gate: Gate = _UNLIMITED, writes: Gate | None = None, threads: Executor = _pool
    ) -> None:
        self.sync = sync
        self.info = sync.info
        in_process = getattr(sync, "in_process", False)
        # A store that can stop a statement after LOOP_BUDGET offers list_on_loop (see may_run_inline).
        self.list_on_loop: Callable[[Query], Page | None] | None = getattr(sync, "list_on_loop", None)
        self.inline_list = may_run_inline("list", in_process, interruptible=self.list_on_loop is not None)
        # And a store whose GET may run there offers get_on_loop: the row in a 1-tuple, or None when
        # it would have to wait (for a pool): then the GET hops, as any other operation.
        self.get_on_loop: Callable[[Any, Where], tuple[Row | None] | None] | None = (
            getattr(sync, "get_on_loop", None) if may_run_inline("get", in_process) else None
        )
        self.gate = gate
        self.writes = writes or gate
        self.threads = threads

    async def _hop(self, gate: Gate, function: Callable[..., T], *args: Any) -> T:
        async with gate():
            return await run_sync(function, *args, threads=self.threads)

    async def list(self, query: Query) -> Page:
        if self.inline_list and self.list_on_loop is not None:
            try:
                page = self.list_on_loop(query)
            except Overran:
                page = None
            if page is not None:
                return page
        return await self._hop(self.gate, self.sync.list, query)

    async def get(self, pk: Any, where: Where = None) -> Row | None:
        if self.get_on_loop is not None:
            found = self.get_on_loop(pk, where)
            if found is not None:
                return found[0]
        return await self._hop(self.gate, self.sync.get, pk, where)

    # on_write (a password hash: ~0.3 s of CPU) runs in a hop of its own, outside the gate:
    # in the write's hop it held a place at the gate meanwhile, so five hashes on a pool of
    # five stalled every read, and one on SQLite every write. Writes without a hook hop once.

    async def create(self, values: Row, on_write: OnWrite | None = None, hook: Hook | None = None) -> Row:
        if on_write is not None:
            values = await run_sync(on_write, values, threads=self.threads)
        return await self._hop(self.writes, self.sync.create, values, hook)

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
            values = await run_sync(on_write, values, threads=self.threads)
        return await self._hop(self.writes, self.sync.update, pk, values, check, where, hook)

    async def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        await self._hop(self.writes, self.sync.delete, pk, check, where, hook)
