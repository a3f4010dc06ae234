"""A Peewee model's store: the five operations, each one unit of work in the calling thread.

Statements are built once per shape (``_pw_compiled``) and rows read from the
cursor into dicts with Peewee's own conversions, never model instances. A unit
of work that failed on a dropped connection before COMMIT runs once more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

import peewee as pw

from ..errors import NotFound, Unavailable
from ..links import Links
from ..plan import Planner, shape
from ..query import Query
from ..scope import FIRST
from ..scope import built as scope_built
from ..scope import condition as scope_condition
from ._drivers import dropped
from ._fast import Facts, as_is, refusal
from ._pw_compiled import Compiler, Slot, Template
from ._pw_connect import _unpinged
from ._pw_describe import _api_fields, _constraint_fields, describe
from ._rows import RowsToDicts, rows_to_dicts
from ._threaded import loop_budget
from .base import Check, Hook, Page, Row, ShapeCache, Where

if TYPE_CHECKING:
    from .peewee import PeeweeAdapter

T = TypeVar("T")

# Operators whose value shapes the SQL (one placeholder per item): not a parameter.
_SHAPING = frozenset({"in"})
_KEY = ("key",)  # the slot of the primary key in statements by key; field names are strings


def _converter(f: Any) -> Callable[[Any], Any]:
    """Peewee's own conversion of a column's value, and what makes every database read the same."""
    if isinstance(f, pw.DecimalField):
        # SQLite keeps NUMERIC as a float: 12.50 comes back as 12.5 unless given its scale again.
        exponent = Decimal(1).scaleb(-f.decimal_places)

        def scaled(value: Any) -> Decimal | None:
            number: Decimal | None = f.python_value(value)
            return None if number is None else number.quantize(exponent)

        return scaled
    python_value: Callable[[Any], Any] = f.python_value
    return python_value


# Peewee's own fields whose python_value leaves a value of this type as it is: a row from a
# driver that already returns it skips the call (a third of a 100-row page's CPU on PostgreSQL).
_AS_IS: dict[type[Any], type[Any]] = {
    pw.AutoField: int,
    pw.BigAutoField: int,
    pw.IntegerField: int,
    pw.BigIntegerField: int,
    pw.SmallIntegerField: int,
    pw.CharField: str,
    pw.TextField: str,
    pw.FloatField: float,
    pw.DoubleField: float,
    pw.BooleanField: bool,
    pw.DateTimeField: datetime,
    pw.DateField: date,
}


def _hooks(database: Any) -> tuple[str, ...]:
    """Those of ``_fast.HOOKS["peewee"]`` that ``database`` has: an override of ``execute`` outside Peewee."""
    owner = next(cls for cls in type(database).__mro__ if "execute" in vars(cls))
    # Peewee's own (playhouse's PostgresqlExtDatabase has one, for server-side cursors) run the same SQL.
    own = owner.__module__ == "peewee" or owner.__module__.startswith("playhouse.")
    return () if own else ("Database.execute",)


class _SyncStore(Compiler):
    def __init__(self, adapter: PeeweeAdapter, model: Any, fields: Sequence[str]) -> None:
        self.adapter = adapter
        self.db = adapter.database
        self.info = describe(model)
        self.in_process = adapter.dialect.in_process  # see _threaded.may_run_inline
        self.model = adapter.bound(model)
        self.declared = model  # whose relations a filter's path goes through (a bound copy has none of them)
        self.fields = _api_fields(self.model)
        self.convert = {name: _converter(f) for name, f in self.fields.items()}
        self.as_is = as_is({name: type(f) for name, f in self.fields.items()}, _AS_IS)
        self.to_dicts: ShapeCache[RowsToDicts] = ShapeCache()
        api_name = {f: name for name, f in self.fields.items()}
        self.defaults = [(api_name[f], default) for f, default in self.model._meta.defaults.items()]
        # Statements by shape: Peewee builds one in 200 to 250 µs, longer than most run.
        self.statements: ShapeCache[Any] = ShapeCache()
        self.planner = Planner(self.info)
        self.pk = self.fields[self.info.pk.name]
        self.names = tuple(fields)
        self.read = self._columns(self.names)
        self.constraint_fields = _constraint_fields(self.model)
        # Fields whose values are written as SQL expressions, not parameters (a JSONField on
        # SQLite and MySQL: json(?)): a statement that writes one is built for its values.
        self.expressions = frozenset(
            name
            for name, f in self.fields.items()
            if isinstance(f, pw.JSONField) and isinstance(f.db_value([]), pw.Node)  # type: ignore[no-untyped-call]
        )
        # The statements by primary key are compiled once: building SQL is most of Peewee's cost.
        by_pk = self.model.select(*self.read).where(self.pk == Slot(_KEY))
        self.get_sql = Template(self.db, by_pk)
        self.lock_sql = Template(self.db, by_pk.for_update()) if self.db.for_update else self.get_sql
        self.delete_sql = Template(self.db, self.model.delete().where(self.pk == Slot(_KEY)))
        # Whether statements run on execute_sql, or through Database.execute (see _fast).
        self.fast = refusal(Facts("peewee", hooks=_hooks(self.db))) is None

    def _rows(self, cursor: Any, names: tuple[str, ...]) -> list[Row]:
        to_dicts = self.to_dicts.get(
            names,
            lambda: rows_to_dicts(
                names,
                {i: self.convert[name] for i, name in enumerate(names)},
                {i: self.as_is[name] for i, name in enumerate(names) if name in self.as_is},
            ),
        )
        return to_dicts(cursor.fetchall())

    def _execute(self, statement: Template, values: Mapping[Any, Any]) -> Any:
        return statement.execute(self.db, values, fast=self.fast)

    def _by_pk(self, statement: Template, pk: Any) -> Any:
        return self._execute(statement, {_KEY: pk})

    def _work(
        self, *, write: bool = True, transaction: bool = True, deleting: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        return self.adapter._unit_of_work(
            self.constraint_fields, write=write, transaction=transaction, deleting=deleting
        )

    # The five operations, each one unit of work.

    def _page(self, query: Query) -> Callable[[], Page]:
        """Reads the page (and its count, if asked) on the unit of work's connection."""
        key = shape(query)
        values = Planner.values(query)
        if any(f.op in _SHAPING for f in query.filters):
            select, counting = self._list_statements(self.planner.plan(query, key), values)
        else:
            select, counting = self.statements.get(
                ("list", key), lambda: self._list_statements(self.planner.plan(query, key), values)
            )

        def page() -> Page:
            rows = self._rows(self._execute(select, values), query.fields)
            if counting is None:
                return Page(rows, None)
            return Page(rows, int(self._execute(counting, values).fetchone()[0]))

        return page

    def list(self, query: Query) -> Page:
        # Rows and their count read in one transaction, so both see the same data where the database allows.
        return self._run(self._page(query), write=False, transaction=query.count)

    def list_on_loop(self, query: Query) -> Page | None:
        """The page, read on the event loop within ``LOOP_BUDGET`` (SQLite, no count), or None."""
        if query.count or not self.in_process or self._pool_may_wait():
            return None
        page = self._page(query)
        with self._work(write=False, transaction=False), loop_budget(self.db.connection()):
            return page()

    def _get(self, pk: Any, where: Where = None, *, lock: bool = False) -> Row | None:
        cursor = self._scoped(pk, where, lock) if where else self._by_pk(self.lock_sql if lock else self.get_sql, pk)
        rows = self._rows(cursor, self.names)
        return rows[0] if rows else None

    def _scoped(self, pk: Any, where: Mapping[str, Any], lock: bool) -> Any:
        """Runs the SELECT by key with ``where``'s conditions (ormgate.scope), built once per scope shape,
        where the unscoped one runs (``_execute``: past an overridden ``Database.execute`` only when fast)."""
        statements: tuple[Template, Template] | None = None
        if len(where) == 1:  # the usual scope, once its statements are built: without a call
            ((name, value),) = where.items()
            statements, values = self.statements.built.get(("scoped", (name,))), {FIRST: value}
        if statements is None:
            statements, values = scope_built(self.statements, "scoped", where, self._build_scoped, where)
        assert statements is not None
        get, locked = statements
        values["pk"] = pk
        return self._execute(locked if lock else get, values)

    def _build_scoped(self, where: Mapping[str, Any]) -> tuple[Template, Template]:
        condition, example = scope_condition(where)
        select = self.model.select(*self.read).where(self.pk == Slot("pk"), self._condition(condition, example))
        locked = select.for_update() if self.db.for_update else select
        return Template(self.db, select), Template(self.db, locked)

    def _not_found(self, pk: Any) -> NotFound:
        return NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")

    def _lock(self, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is None and not where:
            return
        row = self._get(pk, lock=True, where=where)
        if row is None:
            raise self._not_found(pk)
        if check is not None:
            check(row)

    def _run(
        self,
        function: Callable[..., T],
        *args: Any,
        write: bool = True,
        transaction: bool = True,
        deleting: bool = False,
    ) -> T:
        """One unit of work, on a connection the pool hands out untested.

        A connection the server has dropped fails the work before COMMIT, so
        nothing was written: the work runs once more, on a connection the pool
        does test. A failure during COMMIT is not repeated (the write may have landed).
        """
        if write and not transaction:
            # One statement that commits by itself: a failure may come after it landed, so it is
            # not repeated, and the pool tests the connection first instead.
            with self._work(transaction=False, deleting=deleting):
                return function(*args)
        done = False
        try:
            _unpinged.on = True
            with self._work(write=write, transaction=transaction, deleting=deleting):
                _unpinged.on = False
                result = function(*args)
                done = True
            return result
        except (pw.OperationalError, pw.InterfaceError, Unavailable) as exc:
            # Once more only when the database dropped the connection or was down, not when busy.
            if done or (isinstance(exc, Unavailable) and not dropped(exc)):
                raise
        finally:
            _unpinged.on = False
        with self._work(write=write, transaction=transaction, deleting=deleting):
            return function(*args)

    def get_on_loop(self, pk: Any, where: Where = None) -> tuple[Row | None] | None:
        """The row, read on the event loop (SQLite), or None where taking a connection could wait
        (``_pool_may_wait``): then in a worker thread."""
        return None if self._pool_may_wait() else (self.get(pk, where),)

    def _pool_may_wait(self) -> bool:
        """Whether taking a connection may wait: a pool bounded by ``max_connections`` (the default
        SQLite pool is not), which the event loop must not wait on."""
        return getattr(self.db, "_max_connections", None) is not None

    def get(self, pk: Any, where: Where = None) -> Row | None:
        return self._run(self._get, pk, where, write=False, transaction=False)

    def _written(self, names: Iterable[str], values: Row | None = None) -> dict[Any, Any]:
        """The written columns: a ``Slot`` each, or, for ``expressions``, the value given in ``values``."""
        return {
            self.fields[name]: values[name]
            if values is not None and name in self.expressions
            else Slot(name, converter=self.fields[name].db_value)
            for name in names
        }

    def _returning(self, query: Any) -> Template:
        return Template(self.db, query.returning(*self.read) if self.db.returning_clause else query)

    # A model's many-to-many lists, written after its row in the same unit of work: none here,
    # a LinkedStore's (_pw_links) for a model that has such relations.

    def _split(self, values: Row) -> tuple[Row, Links]:
        """The row's column values, and the lists the write sets."""
        return values, {}

    def _links(self, pk: Any, links: Links) -> None:
        """Makes the join tables hold exactly ``links`` for the row ``pk``."""

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        values, links = self._split(values)
        # The fields' Python defaults, drawn here as Model.create would (a built INSERT would
        # keep the first ones), the key's too: the row is read back by it where the database
        # returns no key (MySQL).
        values = {**{name: d() if callable(d) else d for name, d in self.defaults if name not in values}, **values}
        names = tuple(sorted(values))
        insert: Template | None = None
        if self.expressions.isdisjoint(names):
            insert = self.statements.get(
                ("insert", names), lambda: self._returning(self.model.insert(self._written(names)))
            )

        def insert_row(values: Row, names: tuple[str, ...], insert: Template | None) -> Row | None:
            # A statement for these values is built here, connected: how Peewee writes an
            # expression may depend on the server (MariaDB's JSON).
            built = insert or self._returning(self.model.insert(self._written(names, values)))
            cursor = self._execute(built, values)
            if self.db.returning_clause:
                return self._rows(cursor, self.names)[0]
            return self._get(values.get(self.info.pk.name, self.db.last_insert_id(cursor)))

        def create() -> Row | None:
            if hook is None and not links:
                return insert_row(values, names, insert)
            changed = dict(values)  # the hook's to change; a repeated unit of work starts from the request's
            if hook is not None:
                hook("before", self.db, changed)
            now = tuple(sorted(changed))
            row = insert_row(changed, now, insert if now == names else None)
            assert row is not None
            if links:
                self._links(row[self.info.pk.name], links)
            if hook is not None:
                hook("after", self.db, row)
            return row

        # INSERT ... RETURNING is one statement: atomic without a transaction, two round trips fewer.
        row = self._run(create, transaction=hook is not None or bool(links) or not self.db.returning_clause)
        assert row is not None
        return row

    def _update(
        self,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
        links: Links | None = None,
    ) -> Row | None:
        self._lock(pk, check, where)
        if hook is not None:
            values = dict(values)
            hook("before", self.db, values)
        row = self._write(pk, values)
        if row is not None and links:
            self._links(pk, links)
        if row is not None and hook is not None:  # after the lists, as a create's: it sees the pairs too
            hook("after", self.db, row)
        return row

    def _write(self, pk: Any, values: Row) -> Row | None:
        if not values:
            return self._get(pk)
        names = tuple(sorted(values))

        def build(written: dict[Any, Any]) -> Template:
            return self._returning(self.model.update(written).where(self.pk == Slot(_KEY)))

        if self.expressions.isdisjoint(names):
            update = self.statements.get(("update", names), lambda: build(self._written(names)))
        else:
            update = build(self._written(names, values))
        bound: dict[Any, Any] = {**values, _KEY: pk}
        cursor = self._execute(update, bound)
        if self.db.returning_clause:
            return next(iter(self._rows(cursor, self.names)), None)
        return self._get(pk)

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        values, links = self._split(values)
        one_statement = (
            not links and check is None and not where and hook is None and (not values or self.db.returning_clause)
        )
        row = self._run(self._update, pk, values, check, where, hook, links, transaction=not one_statement)
        if row is None:
            raise self._not_found(pk)
        return row

    def _delete(self, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None) -> None:
        self._lock(pk, check, where)
        if hook is not None:
            hook("before", self.db, {self.info.pk.name: pk})
        if self._by_pk(self.delete_sql, pk).rowcount == 0:
            raise self._not_found(pk)
        if hook is not None:
            hook("after", self.db, {self.info.pk.name: pk})

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        locks = check is not None or bool(where) or hook is not None
        self._run(self._delete, pk, check, where, hook, transaction=locks, deleting=True)
