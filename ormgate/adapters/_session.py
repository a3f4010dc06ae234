"""The session dependency of the adapters whose connections live per thread (Django, Peewee).

Django keeps a connection per thread and alias, Peewee its connection state per
thread. A sync FastAPI dependency with ``yield`` may run its set-up and its
tear-down in different worker threads, so a transaction opened in one would be
committed (or left open) in another. ``session`` therefore yields a handle,
``UnitOfWork``, opened on the event loop and holding no connection; the
endpoint hands it a plain function, and ``run`` executes that function in one
hop to a worker thread, inside one unit of work: the connection is taken,
a transaction begun, the function run, the transaction committed when it
returns or rolled back when it raises, the connection released, and database
errors translated to ormgate's (a 409, a 422, a 503 with Retry-After), all in
that thread. The hop waits at the adapter's gate as the generated routes do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

from ._threaded import Gate, run_sync

T = TypeVar("T")

# write -> the unit of work of the adapter, in the calling thread: a connection, a transaction, errors translated.
Enter = Callable[[bool], contextlib.AbstractContextManager[Any]]


class UnitOfWork:
    """What ``db.session`` yields on Django and Peewee: ``await session.run(function, *args)``.

    Each ``run`` is one transaction in one worker thread: committed when
    ``function`` returns, rolled back when it raises (its exception then
    propagates, a database error as ormgate's). Put a request's database work
    in one function; two ``run`` calls are two transactions. ``write=False``
    for a function that only reads: on SQLite it then waits for no writer.
    """

    __slots__ = ("_enter", "_gate", "_threads", "_writes", "open")

    def __init__(self, enter: Enter, gate: Gate, writes: Gate, threads: Executor) -> None:
        self._enter = enter
        self._gate = gate
        self._writes = writes
        self._threads = threads
        self.open = True

    async def run(self, function: Callable[..., T], *args: Any, write: bool = True) -> T:
        """``function(*args)`` in one unit of work, in a worker thread; its result."""
        if not self.open:
            raise RuntimeError("this session's request has ended")

        def work() -> T:
            with self._enter(write):
                return function(*args)

        async with (self._writes if write else self._gate)():
            return await run_sync(work, threads=self._threads)
