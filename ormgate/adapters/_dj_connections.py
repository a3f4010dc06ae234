"""Django's connections as ormgate uses them: one per worker thread and alias, each prepared once.

Django keeps a connection per thread and alias. Each alias has a pool of worker threads
of its own, whose size bounds its connections, and a gate in front of them shared by its
adapters. A connection an ended thread left behind is closed by the next one to open, and
all at exit. On SQLite a connection gets ormgate's functions when Django opens it.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

from ..waiting import Waiting
from ._sqlite import prepare as prepare_sqlite
from ._threaded import Gate


def _prepare_sqlite(connection: BaseDatabaseWrapper) -> None:
    # Case-insensitive matching folds with Python's rules, under a name of its own: Django's
    # own lower() stays SQLite's. (Case-sensitive matching uses GLOB.)
    prepare_sqlite(connection.connection, lower="ormgate_lower")
    connection.ormgate_prepared = connection.connection  # type: ignore[attr-defined]


def _prepare(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        _prepare_sqlite(connection)


# Under the name it had in django.py, which code that disconnects it may use (the SQLite settings test does).
connection_created.connect(_prepare, dispatch_uid="ormgate.adapters.django")


# The default bound on an alias's connections, as Peewee's pool has.
MAX_CONNECTIONS = 20
# alias -> (its bound, the threads its operations run on: as many as it may have connections).
_threads: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _alias_threads(alias: str, max_connections: int) -> ThreadPoolExecutor:
    """The threads of ``alias``: Django opens a connection per thread, so their number bounds the connections.

    Requests beyond it wait in the pool's queue, in order, holding no thread.
    """
    with _opened_lock:
        bound, threads = _threads.get(alias, (max_connections, None))
        if bound != max_connections:
            raise ValueError(f"database alias {alias!r} already has max_connections={bound}")
        if threads is None:
            threads = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix=f"ormgate-{alias}")
            _threads[alias] = (max_connections, threads)
        return threads


_gates: dict[str, Gate] = {}


def _alias_gate(alias: str, max_connections: int, waiting: Waiting) -> Gate:
    """The gate in front of ``alias``'s threads, shared by its adapters (the first one's ``waiting`` holds)."""
    with _opened_lock:
        if alias not in _gates:
            _gates[alias] = Gate(lambda: max_connections, waiting)
        return _gates[alias]


_opened: dict[tuple[str, threading.Thread], BaseDatabaseWrapper] = {}
_opened_lock = threading.Lock()


def _close(which: Callable[[str, threading.Thread], bool]) -> None:
    with _opened_lock:
        for key in [k for k in _opened if which(*k)]:
            connection = _opened.pop(key)
            connection.inc_thread_sharing()  # it belongs to another thread
            connection.close()
            connection.dec_thread_sharing()


def _thread_connection(alias: str) -> BaseDatabaseWrapper:
    connection = connections[alias]
    if _opened.get((alias, threading.current_thread())) is not connection:
        # A connection an ended worker thread left behind is closed here, not garbage-collected
        # open (psycopg warns about that, and the server keeps it until it times out).
        _close(lambda _, thread: not thread.is_alive())
        with _opened_lock:
            _opened[alias, threading.current_thread()] = connection
    return connection


atexit.register(_close, lambda alias, thread: True)


# Backends whose transaction_mode option (see _SQLITE) says how BEGIN locks.
_BEGIN_MODES = frozenset({"sqlite"})


@contextlib.contextmanager
def _reading(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Transactions begun in this block begin DEFERRED, on a backend with a ``transaction_mode``.

    IMMEDIATE takes SQLite's write lock at BEGIN: a transaction that only reads
    would wait for every writer, and answer 500 after the busy timeout behind a
    long one. Begun DEFERRED it takes no lock until it reads, and in WAL mode a
    reader never waits.
    """
    if connection.vendor not in _BEGIN_MODES:
        yield
        return
    # Connecting sets transaction_mode from the settings: connect first, then change it.
    connection.ensure_connection()
    mode = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.transaction_mode = mode  # type: ignore[attr-defined]
