"""The Django ORM, standalone or inside a Django project, on one database alias.

Django keeps a connection per thread and alias. Each store operation is one unit
of work in one worker thread (``ThreadedStore``) of the alias's own pool, whose
size bounds the alias's connections: it reuses that thread's connection,
health-checked first as Django does per request, writes inside
``transaction.atomic(using=alias)`` and reads rows with ``.values()``, never
building model instances. ``configure`` turns a database URL into an alias, so
that apps on several databases run side by side in one process.

The adapter's parts, by concept: ``_dj_settings`` (URL -> ``DATABASES``, ``setup``,
``configure``), ``_dj_connections`` (per-thread connections, the alias's threads and
gate), ``_dj_describe`` (``ModelInfo``), ``_dj_compile`` (a plan as ``Q``/``F``),
``_dj_store`` (the store), ``_dj_links`` (many-to-many lists), ``_dj_compiled`` (the fast
GET), ``_dj_relations`` and ``_dj_across`` (relations).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, Error, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models import UniqueConstraint as Unique
from django.db.models.deletion import ProtectedError, RestrictedError

from ..errors import ForeignKeyViolation
from ..model import ModelInfo
from ..waiting import DEFAULT_WAITING, Waiting
from ._collation import exact_collation
from ._dj_connections import (
    MAX_CONNECTIONS,
    _alias_gate,
    _alias_threads,
    _close,
    _prepare_sqlite,
    _reading,
    _thread_connection,
)
from ._dj_describe import describe
from ._dj_links import LinkedStore
from ._dj_settings import configure, database_settings, setup
from ._dj_store import _SyncStore
from ._drivers import classify
from ._session import UnitOfWork
from ._threaded import ThreadedStore, one_writer, run_sync
from .base import IN_MEMORY_SQLITE, memory_sqlite

__all__ = ["MAX_CONNECTIONS", "DjangoAdapter", "configure", "database_settings", "describe", "setup"]

# What follows CREATE TABLE (...) for tables ormgate creates, by vendor: text that compares exactly.
_TABLE_OPTIONS: dict[str, Callable[[Any], str]] = {
    "mysql": lambda connection: f"DEFAULT CHARSET=utf8mb4 COLLATE={exact_collation(connection.mysql_is_mariadb)}"
}


def _constraint_fields(models: Sequence[type[Model]], connection: BaseDatabaseWrapper) -> dict[str, str]:
    """Column, constraint and index names that a database error may quote -> field names."""
    # MySQL quotes index names. A unique index a migration adds later (AlterField) is named
    # by the schema editor; Django has no public function for that name.
    index_name: Any = connection.schema_editor()._create_index_name  # type: ignore[attr-defined]
    names: dict[str, str] = {}
    for meta in (model._meta for model in models):
        for f in meta.concrete_fields:
            names[f.column or f.attname] = f.attname
            if f.unique and not f.primary_key:
                names[index_name(meta.db_table, [f.column], suffix="_uniq")] = f.attname
        for c in meta.constraints:
            if isinstance(c, Unique) and len(c.fields) == 1 and c.name:
                names[c.name] = meta.get_field(c.fields[0]).attname  # type: ignore[union-attr]
    return names


class DjangoAdapter:
    """ormgate on one Django database alias: ``DjangoAdapter(configure(url))`` or ``DjangoAdapter("default")``.

    The generated routes hold at most ``max_connections`` connections to the alias
    (adapters on one alias share them); requests beyond wait their turn, within
    the bounds of ``waiting``, or are answered 503.
    """

    def __init__(
        self,
        alias: str = DEFAULT_DB_ALIAS,
        *,
        max_connections: int = MAX_CONNECTIONS,
        waiting: Waiting = DEFAULT_WAITING,
    ) -> None:
        if alias not in connections.settings:
            raise ValueError(f"no Django database alias {alias!r}; configure(url) adds one")
        if connections[alias].vendor == "sqlite" and memory_sqlite(str(connections.settings[alias]["NAME"])):
            raise ValueError(IN_MEMORY_SQLITE)
        self.alias = alias
        self.sqlite = connections[alias].vendor == "sqlite"
        self.waiting = waiting
        self.threads = _alias_threads(alias, max_connections)
        # No more operations at once than the alias has threads (connections): the rest wait at
        # the gate, boundedly, never in the threads' queue without end.
        self.gate = _alias_gate(alias, max_connections, waiting)
        self.writes = one_writer(waiting) if self.sqlite else self.gate
        self._models: dict[type[Model], None] = {}  # described here: session names their constraints' fields

    def describe(self, model: type[Model]) -> ModelInfo:
        self._models[model] = None
        return describe(model)

    def store(self, model: type[Model], fields: Sequence[str]) -> ThreadedStore:
        # Never in_process, even on SQLite: Django refuses queries on the event loop's thread.
        store = _SyncStore(self, model, fields)
        if any(r.kind == "many_to_many" for r in store.info.relations):
            store = LinkedStore(self, model, fields)
        return ThreadedStore(store, self.gate, self.writes, threads=self.threads)

    async def create_tables(self, models: Sequence[type[Model]]) -> None:
        await run_sync(self._create_tables, models, threads=self.threads)

    def _create_tables(self, models: Sequence[type[Model]]) -> None:
        with self.unit_of_work(atomic=False) as connection, connection.schema_editor() as editor:
            options = _TABLE_OPTIONS.get(connection.vendor)
            if options is not None:  # this editor's tables only; a field's own db_collation still wins
                editor.sql_create_table = f"{editor.sql_create_table} {options(connection)}"
            existing = set(connection.introspection.table_names())
            for model in models:
                if model._meta.db_table not in existing:
                    editor.create_model(model)

    @contextlib.contextmanager
    def unit_of_work(
        self,
        *models: type[Model],
        atomic: bool = True,
        write: bool = True,
        health_check: bool = True,
        deleting: bool = False,
    ) -> Iterator[BaseDatabaseWrapper]:
        """This thread's connection to the alias, in ``transaction.atomic`` unless ``atomic=False``.

        For hand-written endpoints too: database errors leave as ormgate errors (a duplicate
        is a ``UniqueViolation`` naming the field of one of ``models``). The whole block must
        run in one thread: use it inside a sync (``def``) endpoint, not across a FastAPI
        dependency's setup and teardown, which may run in different threads. A transaction
        that only reads (``write=False``) waits for no writer on SQLite. ``deleting``: the
        block deletes rows, so a foreign key failure means they are still referenced.
        """
        connection = _thread_connection(self.alias)
        # What Django's close_old_connections does as each request starts and ends, for this
        # alias only: drop a connection that broke or outlived CONN_MAX_AGE, and have the next
        # query health-check it. Not inside another unit's transaction, which it would end.
        outermost = not connection.in_atomic_block
        if outermost:
            connection.close_if_unusable_or_obsolete()
            if not health_check:  # the caller repeats the work if the connection turns out dead
                connection.health_check_done = True  # type: ignore[attr-defined]
            if self.sqlite:
                # A connection opened before this module was imported never saw connection_created.
                connection.ensure_connection()
                if getattr(connection, "ormgate_prepared", None) is not connection.connection:
                    _prepare_sqlite(connection)
        try:
            with (
                _reading(connection) if not write else contextlib.nullcontext(),
                transaction.atomic(using=self.alias) if atomic else contextlib.nullcontext(),
            ):
                yield connection
        # Django's on_delete checks raise these IntegrityErrors itself, with no driver error inside.
        except (ProtectedError, RestrictedError) as exc:
            raise ForeignKeyViolation("the row is still referenced by other rows") from exc
        except Error as exc:
            error = classify(exc, _constraint_fields(models, connection), deleting=deleting)
            if error is None:
                raise
            raise error from exc
        finally:
            if outermost:
                connection.close_if_unusable_or_obsolete()

    async def session(self) -> AsyncIterator[UnitOfWork]:
        """FastAPI dependency: a unit of work per request, ``await session.run(function, *args)``.

        Use it with ``Depends(db.session)``. ``run`` executes ``function`` in one
        worker thread of the alias, where Django's connection lives, inside
        ``transaction.atomic``: committed when it returns, rolled back when it
        raises, the connection health-checked before and released after (as
        Django's request signals do). A duplicate is a 409, a missing reference
        a 422, a database that is unavailable (down, dropped the connection,
        busy) a 503 with ``Retry-After``, never a 500. See ``UnitOfWork``.
        """
        session = UnitOfWork(self._session_unit, self.gate, self.writes, self.threads)
        try:
            yield session
        finally:
            session.open = False

    def _session_unit(self, write: bool) -> contextlib.AbstractContextManager[BaseDatabaseWrapper]:
        return self.unit_of_work(*self._models, write=write)

    def close(self) -> None:
        """Close this alias's connections in every thread, e.g. at shutdown; none may be in use."""
        _close(lambda alias, _: alias == self.alias)

    async def aclose(self) -> None:
        """``close`` from a worker thread: Django refuses to close a connection from the event loop."""
        await run_sync(self.close, threads=self.threads)
