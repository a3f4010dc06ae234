"""The adapter contract: what an ORM must provide for ormgate to serve its models.

An ``Adapter`` is bound to one database (an engine, a ``Database``, a Django
alias). For each model it describes the model and opens a ``Store``: the five
data operations, each one unit of work (one transaction, committed on success,
rolled back on any exception, its connection always released), working on
plain dicts and raising only ``ormgate.errors``. Adapters never import FastAPI.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ..model import ModelInfo
from ..query import Query

Row = dict[str, Any]
# Run inside a write's unit of work (ormgate.hooks): ``hook("before", unit, values)`` before the
# write (it may change ``values``), ``hook("after", unit, row)`` after it, ``unit`` being the ORM's
# handle on that transaction (SQLAlchemy's ``Connection``, Django's connection, Peewee's ``Database``).
Hook = Callable[[str, Any, Row], None]
# A scope's conditions (ormgate.scope): the row must have these values too, or it is not found.
Where = Mapping[str, Any] | None
Check = Callable[[Row], None]
OnWrite = Callable[[Row], Row]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[Row]
    total: int | None = None


class ShapeCache(Generic[T]):
    """What an adapter builds once per query shape (statements, row builders), built on first use.

    Shapes come from clients (the fields, filters and sort they ask for), so
    the cache is bounded: when it is full it starts over.
    """

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self.built: dict[Hashable, T] = {}

    def get(self, shape: Hashable, build: Callable[..., T], *args: Any) -> T:
        """What ``build(*args)`` made for ``shape``, made now if not yet. A function and its arguments,
        not a closure over them: asked on every request, a closure would be made on every request."""
        found = self.built.get(shape)
        if found is None:
            if len(self.built) >= self.size:
                self.built.clear()
            found = self.built[shape] = build(*args)
        return found


# Refused on every ORM: each of ormgate's connections (a pool, a thread each) would open
# a database of its own, so tables made by one are missing in the next ("no such table").
# A shared-cache one is refused too: SQLAlchemy keeps its connections to one thread.
IN_MEMORY_SQLITE = (
    "an in-memory SQLite database belongs to one connection, and ormgate uses several "
    "(a pool, worker threads): use a file, e.g. sqlite:///app.sqlite3 (a temporary file in tests)"
)


# Every adapter puts a SQLite file in WAL mode (it stays so: the mode is the file's): a reader
# then never waits for a writer, which the reads run on the event loop rely on (see
# _threaded.may_run_inline); in rollback-journal mode a committing writer's lock stops every
# reader, for up to the busy timeout, and another process's reads fail as "database is locked".
SQLITE_WAL = "PRAGMA journal_mode=WAL"


def memory_sqlite(name: str) -> bool:
    """Whether SQLite ``name`` (a path or URI filename, ``?options`` included) is an in-memory database."""
    path, _, options = name.partition("?")
    return path in ("", ":memory:") or path.startswith("file::memory:") or "mode=memory" in options


class Store(Protocol):
    """One model on one database, as the resource router sees it."""

    info: ModelInfo

    async def list(self, query: Query) -> Page:
        """Rows matching ``query`` (``limit + 1`` of them when there are more), ``total`` if asked."""

    async def get(self, pk: Any, where: Where = None) -> Row | None:
        """The row's readable fields, or None (also when it lacks a value of ``where``)."""

    async def create(self, values: Row, on_write: OnWrite | None = None, hook: Hook | None = None) -> Row:
        """Insert ``on_write(values)`` (``values`` without it) and return the row as stored, generated values included.

        ``on_write`` may be slow (it hashes passwords): it runs in a worker thread, never on the event loop.
        ``hook`` runs in the unit of work, before and after the write (off the loop for a sync ORM).
        """

    async def update(
        self,
        pk: Any,
        values: Row,
        check: Check | None = None,
        on_write: OnWrite | None = None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        """Lock the row, pass it to ``check`` (which may raise), write ``on_write(values)``, return it.

        Raises ``NotFound`` when there is no such row, or the locked row lacks a value of ``where``
        (decided by the lock itself, so a concurrent change of those values cannot slip between).
        ``on_write`` and ``hook`` run as in ``create`` (``hook`` after the lock and ``check``).
        """

    async def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        """Lock the row, pass it to ``check``, delete it; ``NotFound`` when it is absent (or out of ``where``).

        ``hook`` runs as in ``update``, given the key alone (``{pk name: pk}``) before and after.
        """


class SyncStore(Protocol):
    """A ``Store`` of a synchronous ORM; ``_threaded`` runs each call in one thread hop.

    A store sets ``in_process = True`` when its database runs in the process
    (SQLite): ``_threaded.may_run_inline`` then lets its GETs by key run on the
    event loop thread without a hop, by its ``get_on_loop(pk, where)`` (the row
    in a 1-tuple, or None when it would wait for a connection: then it hops),
    and its lists by ``list_on_loop`` (stopped after ``LOOP_BUDGET``).
    """

    info: ModelInfo

    def list(self, query: Query) -> Page: ...
    def get(self, pk: Any, where: Where = None) -> Row | None: ...
    def create(self, values: Row, hook: Hook | None = None) -> Row: ...
    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row: ...
    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None: ...


class Adapter(Protocol):
    def describe(self, model: Any) -> ModelInfo:
        """The ORM-neutral description of ``model``."""

    def store(self, model: Any, fields: Sequence[str]) -> Store:
        """A store for ``model`` whose reads return ``fields``."""

    async def create_tables(self, models: Sequence[Any]) -> None:
        """Create the models' tables where absent: for demos and tests; production uses migrations."""

    async def aclose(self) -> None:
        """Close the connections the adapter's database holds, off the event loop, once no request runs
        (an app's shutdown): the pool's, or each thread's. The next use opens new ones."""
