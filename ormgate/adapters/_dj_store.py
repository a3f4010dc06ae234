"""Django's store: one model's operations on one alias, each a unit of work (``DjangoAdapter.unit_of_work``).

Rows are read with ``.values()``, never building model instances, and written through the
model's default manager. A GET by key runs a statement compiled once per scope shape, a
plain list one compiled once per query shape (``_dj_compiled``), when ``ormgate.adapters._fast``
allows it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import DateTimeField, Model, QuerySet, TimeField
from django.utils import timezone

from ..errors import ForeignKeyViolation, NotFound, Unavailable
from ..links import Links, split_links
from ..plan import Plan, Planner, shape
from ..query import Query
from ..scope import condition as scope_condition
from ..scope import shape as scope_shape
from ._dj_compile import _order, _plain, _q
from ._dj_compiled import Compiled, Layout, Refused, compile_rows, distinct, layout, prepare
from ._dj_describe import describe
from ._dj_groups import grouped
from ._drivers import dropped
from ._fast import Facts, refusal
from .base import Check, Hook, Page, Row, ShapeCache, Where

if TYPE_CHECKING:
    from .django import DjangoAdapter

# Django's MySQL backend refuses 0 for an AutoField with a ValueError, before any SQL (MySQL would
# take 0 as "the next value"). Written to a foreign key or a many-to-many list, 0 names no row.
ZERO_KEY = "does not accept 0 as a value for AutoField"


@contextlib.contextmanager
def zero_key_is_missing(error: ForeignKeyViolation | None = None) -> Iterator[None]:
    """A key of 0 refused by Django's MySQL backend: the referenced row does not exist (a 409)."""
    try:
        yield
    except ValueError as exc:
        if ZERO_KEY not in str(exc):
            raise
        raise (error or ForeignKeyViolation("the referenced row does not exist")) from exc


T = TypeVar("T")

_NOW: dict[str, Callable[[], Any]] = {
    "DateTimeField": timezone.now,
    "DateField": date.today,
    "TimeField": lambda: datetime.now().time(),
}


def _hooks(model: type[Model]) -> tuple[str, ...]:
    """Those of ``_fast.HOOKS["django"]`` that ``model`` has: a default manager's own ``get_queryset``."""
    manager = type(model._default_manager)
    owner = next(cls for cls in manager.__mro__ if "get_queryset" in vars(cls))
    return () if owner.__module__.startswith("django.") else ("Manager.get_queryset",)


class _PageShape:
    """A list shape's statements: ``layout`` its inputs (None: never compiled), ``statements`` by their booleans."""

    __slots__ = ("layout", "statements")

    def __init__(self, plan: Plan, model: type[Model]) -> None:
        self.layout: Layout | None = layout(plan, model)
        self.statements: dict[tuple[bool, ...], Compiled] = {}


class _SyncStore:
    def __init__(self, adapter: DjangoAdapter, model: type[Model], fields: Sequence[str]) -> None:
        self.adapter, self.model, self.fields, self.info = adapter, model, tuple(fields), describe(model)
        self.planner = Planner(self.info)
        self.text = {f.name for f in self.info.fields if issubclass(f.python_type, str)}
        self.times = {f.name: f for f in model._meta.concrete_fields if isinstance(f, (DateTimeField, TimeField))}
        # QuerySet.update() skips Field.pre_save, which is what sets auto_now fields.
        auto_now = [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
        self.auto_now = {f.attname: _NOW[f.get_internal_type()] for f in auto_now}
        # The GET's statement per scope shape, a list's per query shape (ormgate.adapters._dj_compiled).
        self.gets: dict[tuple[tuple[str, ...], tuple[bool, ...]], Compiled | Refused] = {}
        self.pages: ShapeCache[_PageShape] = ShapeCache()
        self.scope_fields = {field.name: field for field in model._meta.concrete_fields}
        # Whether a read runs its statement compiled once, or the QuerySet made per call (see _fast).
        self.compiled_reads = refusal(Facts("django", hooks=_hooks(model))) is None

    def _all(self) -> QuerySet[Model]:
        return self.model._default_manager.using(self.adapter.alias)

    def _in_scope(self, pk: Any, where: Where) -> QuerySet[Model]:
        """The row ``pk``, if it has ``where``'s values (ormgate.scope), as a ``QuerySet``."""
        rows = self._all().filter(pk=pk)
        if not where:
            return rows
        condition, values = scope_condition(where)
        vendor = connections[self.adapter.alias].vendor
        return rows.filter(_q(condition, {name: _plain(v) for name, v in values.items()}, vendor, self.text))

    def _locked_row(self, pk: Any, where: Where = None) -> Row | None:
        found = list(self._in_scope(pk, where).values(*self.fields).select_for_update())
        return found[0] if found else None

    def _found(self, pk: Any, row: Row | None) -> Row:
        if row is None:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        return row

    def _lock(self, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is not None or where:
            row = self._found(pk, self._locked_row(pk, where))
            if check is not None:
                check(row)

    def _page(self, connection: BaseDatabaseWrapper, query: Query) -> Page:
        key = shape(query)
        plan = self.planner.plan(query, key)
        if self.compiled_reads and not query.count:
            rows = self._compiled_page(connection, query, plan, key)
            if rows is not None:
                return Page(rows)
        values = {name: _plain(value) for name, value in Planner.values(query).items()}
        matching, page = self._rows(connection, plan, values)
        rows = list(page.values(*query.fields)[query.offset : query.offset + query.limit + 1])
        return Page(rows, matching.count() if query.count else None)

    def _rows(
        self, connection: BaseDatabaseWrapper, plan: Plan, values: dict[str, Any]
    ) -> tuple[QuerySet[Model], QuerySet[Model]]:
        """The rows matching ``plan``'s conditions (what a count counts), and its page's rows in order, unsliced."""
        vendor = connection.vendor
        matching = self._all().filter(_q(plan.where, values, vendor, self.text, self.times, self.model))
        after = plan.after
        page = matching if after is None else matching.filter(_q(after, values, vendor, self.text, self.times))
        if plan.group is not None:  # the first rows of each group (ormgate.adapters._dj_groups)
            page = grouped(page, plan.group, values, _order)
        return matching, page.order_by(*map(_order, plan.order))

    def _compiled_page(self, connection: BaseDatabaseWrapper, query: Query, plan: Plan, key: Any) -> list[Row] | None:
        """The page from its statement compiled once per shape (``_dj_compiled``), or None: ``values()`` then."""
        found = self.pages.get(key, _PageShape, plan, self.model)
        if found.layout is None:
            return None
        values = Planner.values(query)
        prepared = prepare(((field, values[param]) for param, field in found.layout), connection)
        if prepared is None:
            return None
        inputs, flagged = prepared  # one statement per value of the booleans (see _dj_compiled)
        statement = found.statements.get(flagged)
        if statement is None:
            if not distinct(inputs):  # which parameter is which would be a guess: a later request compiles it
                return None
            _, page = self._rows(connection, plan, {name: _plain(value) for name, value in values.items()})
            made = compile_rows(page, query.fields, self.adapter.alias, connection, [*inputs, 0, 0], paged=True)
            if isinstance(made, Refused):
                found.layout = None
                return None
            statement = found.statements[flagged] = made
        inputs += (query.limit + 1, query.offset)
        return statement.all(connection, inputs, query.fields)

    def list(self, query: Query) -> Page:
        # In a transaction when counting, so that the COUNT sees the rows the page saw.
        return self._run(lambda connection: self._page(connection, query), atomic=query.count, write=False)

    def _run(
        self,
        function: Callable[[BaseDatabaseWrapper], T],
        *,
        atomic: bool = True,
        write: bool = True,
        deleting: bool = False,
    ) -> T:
        """One unit of work, without the health check's round trip first.

        A connection the server has dropped fails the work before COMMIT, so
        nothing was written: it is closed and the work runs once more, health
        check included. A failure during COMMIT is not repeated (the write may
        have landed).
        """
        done = False
        try:
            with self.adapter.unit_of_work(
                self.model, atomic=atomic, write=write, health_check=False, deleting=deleting
            ) as connection:
                result = function(connection)
                done = True
            return result
        except (OperationalError, InterfaceError, Unavailable) as exc:
            # Once more only when the database dropped the connection or was down, not when busy.
            if done or (isinstance(exc, Unavailable) and not dropped(exc)):
                raise
        with self.adapter.unit_of_work(self.model, atomic=atomic, write=write, deleting=deleting) as connection:
            return function(connection)

    def _compiled(
        self, connection: BaseDatabaseWrapper, pk: Any, where: Where
    ) -> tuple[Compiled, Sequence[Any]] | None:
        """The GET's statement for ``where``'s shape (ormgate.adapters._dj_compiled) and its inputs, or None:
        ``values()`` then. A None in ``where`` is ``IS NULL``, a statement of its own: ``values()``."""
        if not self.compiled_reads:
            return None
        meta: Any = self.model._meta
        if not where:
            key: tuple[str, ...] = ()
            scoped = []
        elif len(where) == 1:  # the usual scope, on every scoped GET: its shape without a call
            ((name, value),) = where.items()
            key, scoped = (name,), [(self.scope_fields.get(name) or meta.get_field(name), value)]
        else:
            key = scope_shape(where)
            scoped = [(self.scope_fields.get(name) or meta.get_field(name), where[name]) for name in key]
        prepared = prepare([(meta.pk, pk), *scoped], connection)
        if prepared is None:
            return None
        inputs, flagged = prepared  # the booleans too: Django writes some into the SQL (see _dj_compiled)
        compiled = (key, flagged)
        found = self.gets.get(compiled)
        if found is None:
            if not distinct(inputs):  # which parameter is which would be a guess: a later request compiles it
                return None
            found = self.gets[compiled] = compile_rows(
                self._in_scope(pk, where), self.fields, self.adapter.alias, connection, inputs
            )
        return None if isinstance(found, Refused) else (found, inputs)

    def _get(self, connection: BaseDatabaseWrapper, pk: Any, where: Where = None) -> Row | None:
        compiled = self._compiled(connection, pk, where)
        if compiled is None:
            return next(iter(self._in_scope(pk, where).values(*self.fields)), None)
        statement, inputs = compiled
        return statement.one(connection, inputs, self.fields)

    def get(self, pk: Any, where: Where = None) -> Row | None:
        return self._run(lambda connection: self._get(connection, pk, where), atomic=False)

    def _links(self, pk: Any, links: Links) -> None:
        """Write the row's many-to-many lists, after the row: a model with none has none (see ``_dj_links``)."""

    def _create(self, connection: BaseDatabaseWrapper, values: Row, hook: Hook | None = None) -> Row:
        values, links = split_links(self.info, values)
        if hook is not None:
            values = dict(values)  # the hook's to change; a repeated unit of work starts from the request's
            hook("before", connection, values)
        # Through save(): defaults, auto_now_add and signals apply as in any Django code.
        with zero_key_is_missing():
            created = self._all().create(**{name: _plain(value) for name, value in values.items()})
        row = self._found(created.pk, self._get(connection, created.pk))  # as stored: defaults, rounding
        self._links(row[self.info.pk.name], links)
        if hook is not None:  # after the lists: the hook sees the row as written, its pairs too
            hook("after", connection, row)
        return row

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        return self._run(lambda connection: self._create(connection, values, hook))

    def _update(
        self,
        connection: BaseDatabaseWrapper,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        values, links = split_links(self.info, values)
        self._lock(pk, check, where)
        if hook is not None:
            values = dict(values)
            hook("before", connection, values)
        if values:
            changes = {**{name: now() for name, now in self.auto_now.items()}, **values}
            with zero_key_is_missing():
                self._all().filter(pk=pk).update(**{name: _plain(v) for name, v in changes.items()})
        row = self._found(pk, self._get(connection, pk))
        self._links(pk, links)
        if hook is not None:
            hook("after", connection, row)
        return row

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        return self._run(lambda connection: self._update(connection, pk, values, check, where, hook))

    def _delete(
        self, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None, connection: Any = None
    ) -> None:
        self._lock(pk, check, where)
        if hook is not None:
            hook("before", connection, {self.info.pk.name: pk})
        # QuerySet.delete() follows on_delete (CASCADE, PROTECT, ...) as any Django code would.
        _, deleted = self._all().filter(pk=pk).delete()
        if not deleted.get(self.model._meta.label):
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if hook is not None:
            hook("after", connection, {self.info.pk.name: pk})

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        self._run(lambda connection: self._delete(pk, check, where, hook, connection), deleting=True)
