"""Peewee 4 models, on one ``Database`` per adapter.

Peewee binds a model class to one database for the whole process, and a
process may serve the same models from several databases (the tests run
SQLite, PostgreSQL and MySQL apps side by side). ``Model.bind`` and
``bind_ctx`` rebind the class itself, for every thread at once, so they are
not safe while other threads run units of work. Each adapter therefore works
on its own subclass of every model, bound to its database (``bound``); the
user's classes are never rebound or changed.

Each store operation is one unit of work in one worker thread: a pooled
connection (``connection_context``), a transaction for writes (``atomic``),
selected columns read from the cursor into dicts, never model instances, and
driver errors translated at one boundary.

The parts, by concept: ``_pw_connect`` (a ``Database`` from a URL, its pool,
each connection's settings), ``_pw_describe`` (a model as ``ModelInfo``),
``_pw_dialect`` (what differs per database), ``_pw_store`` (the five operations)
and ``_pw_compiled`` (statements built once per shape from a plan).
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import peewee as pw
from playhouse.pool import MaxConnectionsExceeded

from ..model import ModelInfo
from ..waiting import DEFAULT_WAITING, Waiting
from ._drivers import classify
from ._pw_connect import _Prepared, connect
from ._pw_describe import _constraint_fields, describe
from ._pw_dialect import _DIALECTS, _exact_text
from ._pw_links import LinkedStore
from ._pw_store import _SyncStore
from ._session import UnitOfWork
from ._threaded import Gate, ThreadedStore, _pool, one_writer, run_sync
from .base import IN_MEMORY_SQLITE, memory_sqlite

__all__ = ["PeeweeAdapter", "connect", "describe"]


# What may reach the boundary from the database: Peewee's wrapper of the driver's errors
# (PeeweeException: InterfaceError is no DatabaseError), and its pool's "no connection in time".
_DATABASE_ERRORS = (pw.PeeweeException, MaxConnectionsExceeded)


@contextlib.contextmanager
def _translated(constraint_fields: Mapping[str, str], *, deleting: bool = False) -> Iterator[None]:
    try:
        yield
    except _DATABASE_ERRORS as exc:  # Peewee's wrapper keeps the driver error on .orig
        error = classify(exc, constraint_fields, deleting=deleting)
        if error is None:
            raise
        raise error from exc


class PeeweeAdapter:
    """ormgate on one Peewee ``Database`` (see ``connect`` to open one from a URL).

    On a pooled database no more operations run at once than it has connections
    (``max_connections``); the others wait within the bounds of ``waiting``, or are answered 503.
    """

    def __init__(self, database: Any, *, waiting: Waiting = DEFAULT_WAITING) -> None:
        self.database = database
        dialect = next((d for cls, d in _DIALECTS.items() if isinstance(database, cls)), None)
        if dialect is None:
            raise TypeError(f"ormgate's Peewee adapter does not know {type(database).__name__}")
        if dialect.in_process and memory_sqlite(database.database or ""):
            raise ValueError(IN_MEMORY_SQLITE)
        self.dialect = dialect
        self._prepare = None if dialect.prepare is None else _Prepared(dialect.prepare)
        self._bound: dict[Any, Any] = {}
        self._constraint_fields: dict[str, str] = {}
        self._lock = threading.RLock()
        # A pooled database hands out at most max_connections (None: unlimited).
        self.waiting = waiting
        self.gate = Gate(lambda: getattr(database, "_max_connections", None), waiting)
        self.writes = one_writer(waiting) if dialect.in_process else self.gate

    def bound(self, model: Any) -> Any:
        """``model`` on this adapter's database: a subclass made once, for queries in hand-written endpoints."""
        with self._lock:
            return self._bind(model)

    def _bind(self, model: Any) -> Any:
        if model in self._bound:
            return self._bound[model]
        fields = model._meta.fields
        # Foreign keys are added after the class exists, pointing at the bound copy of their
        # target: left to ModelBase, the parent's key would be copied with its target and
        # register a back-reference on the user's model. None keeps their names from being
        # inherited meanwhile.
        attrs = {name: None if isinstance(f, pw.ForeignKeyField) else copy.deepcopy(f) for name, f in fields.items()}
        # Nor many-to-many fields: their join model refers to the user's model, not this copy
        # (ormgate writes the pairs through a bound copy of the join model; see _pw_links).
        attrs.update(dict.fromkeys(model._meta.manytomany))
        meta = type("Meta", (), {"database": self.database, "table_name": model._meta.table_name})
        bound: Any = type(model.__name__, (model,), {"__module__": model.__module__, "Meta": meta, **attrs})
        self._bound[model] = bound  # before its keys, so a key to itself or a cycle finds it
        for name, f in fields.items():
            if isinstance(f, pw.ForeignKeyField):
                key = copy.deepcopy(f)
                key.declared_backref = "+"
                key.rel_model = self._bind(f.rel_model)
                key.rel_field = f.rel_field.name
                bound._meta.add_field(name, key)
        self._constraint_fields.update(_constraint_fields(bound))
        return bound

    def describe(self, model: Any) -> ModelInfo:
        return describe(model)

    def store(self, model: Any, fields: Sequence[str]) -> ThreadedStore:
        store = _SyncStore(self, model, fields)
        if any(r.kind == "many_to_many" for r in store.info.relations):
            store = LinkedStore(self, model, fields)
        return ThreadedStore(store, self.gate, self.writes)

    async def create_tables(self, models: Sequence[Any]) -> None:
        bound = [self.bound(model) for model in models]

        def create() -> None:
            with self.database.connection_context():
                if self.dialect.exact_tables:
                    mariadb = "mariadb" in self.database.execute_sql("SELECT VERSION()").fetchone()[0].lower()
                    for model in bound:
                        _exact_text(model, mariadb)
                self.database.create_tables(bound, safe=True)

        await run_sync(create)

    async def aclose(self) -> None:
        """The pool's connections closed (``close_all``), or the calling worker thread's (``close``)."""
        await run_sync(getattr(self.database, "close_all", self.database.close))

    @contextlib.contextmanager
    def _unit_of_work(
        self,
        constraint_fields: Mapping[str, str],
        *,
        write: bool = True,
        transaction: bool = True,
        deleting: bool = False,
    ) -> Iterator[None]:
        """A pooled connection for this thread, a transaction if asked, driver errors as ormgate errors."""
        with _translated(constraint_fields, deleting=deleting), self.database.connection_context():
            if self._prepare is not None:
                self._prepare(self.database.connection())
            if not transaction:
                yield
                return
            with self.database.atomic(**(self.dialect.write_begin if write else {})):
                yield

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """A unit of work for a hand-written endpoint: a pooled connection, a transaction, errors translated.

        Use it in a sync ``def`` endpoint: Peewee keeps its connection per thread,
        and FastAPI runs such an endpoint in one worker thread, so the unit of work
        is one thread hop (a yielding dependency's set-up and tear-down may run in
        other threads). Constraint violations on any model bound here become 409s
        and 422s, as in the generated routes.
        """
        return self._unit_of_work(self._constraint_fields)

    async def session(self) -> AsyncIterator[UnitOfWork]:
        """FastAPI dependency: a unit of work per request, ``await session.run(function, *args)``.

        Use it with ``Depends(db.session)``. ``run`` executes ``function`` in one
        worker thread, where Peewee keeps its connection, inside a transaction:
        committed when it returns, rolled back when it raises, the pooled
        connection released after. A duplicate is a 409, a missing reference a
        422, a database that is unavailable (down, dropped the connection,
        busy) a 503 with ``Retry-After``, never a 500. Query the models of
        ``bound``. See ``UnitOfWork``.
        """
        session = UnitOfWork(self._session_unit, self.gate, self.writes, _pool)
        try:
            yield session
        finally:
            session.open = False

    def _session_unit(self, write: bool) -> contextlib.AbstractContextManager[None]:
        return self._unit_of_work(self._constraint_fields, write=write)

    def connection(self) -> contextlib.AbstractContextManager[None]:
        """``atomic`` without the transaction, for hand-written reads."""
        return self._unit_of_work(self._constraint_fields, transaction=False)
