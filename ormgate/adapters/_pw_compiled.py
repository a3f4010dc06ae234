"""Peewee statements built once per shape; each request binds its own values.

Building a query and writing its SQL is most of what Peewee costs: 197 µs for
an INSERT of four columns, 254 µs for a filtered, sorted page (PostgreSQL),
against about 150 µs for psycopg to run one of them. A statement is therefore
built once per shape, with a ``Slot`` wherever a request's value goes: Peewee
writes its placeholder and leaves a marker in the parameter list, which
``Template.bind`` replaces with the request's value, converted as Peewee would
have converted it (the column's ``db_value``).

A statement whose read may not skip Peewee's ``Database.execute`` (``_fast``) runs
through it instead, as the query it was built from: each ``Slot`` then writes the
request's value in, as a plain value would have been.

``Compiler`` writes a store's plan (``ormgate.plan``) as Peewee expressions, with a
``Slot`` for each parameter, so that the statement it builds serves every request
of its shape.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Hashable, Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import peewee as pw

from ..plan import LIKE, Across, And, Condition, In, IsNull, Match, Not, Or, Order, PatternSyntax, Plan
from ._pw_across import exists as across
from ._pw_groups import grouped
from ._sqlite import TEXT_TIME

if TYPE_CHECKING:
    from .peewee import PeeweeAdapter

Converter = Callable[[Any], Any]

# The request's values while a statement runs through Database.execute (see Template.execute).
_binding: ContextVar[Mapping[Any, Any] | None] = ContextVar("ormgate_peewee_binding", default=None)


class _Param:
    __slots__ = ("converter", "key", "make")

    def __init__(self, key: Hashable, make: Converter | None, converter: Converter | None) -> None:
        self.key, self.make, self.converter = key, make, converter

    def value(self, values: Mapping[Any, Any]) -> Any:
        value = values[self.key]
        if self.make is not None:
            value = self.make(value)
        return value if self.converter is None else self.converter(value)


class Slot(pw.Node):
    """Where the value ``values[key]`` goes, made into a parameter by ``make``, then ``converter``.

    Without ``converter``, the one Peewee has in force there applies (a compared
    column's ``db_value``), as for a plain value.
    """

    def __init__(self, key: Hashable, make: Converter | None = None, converter: Converter | None = None) -> None:
        super().__init__()
        self.param = _Param(key, make, converter)

    def __sql__(self, ctx: Any) -> Any:
        param = self.param
        if param.converter is None and ctx.state.converter:
            param = _Param(param.key, param.make, ctx.state.converter)
        values = _binding.get()
        # converter=False: Peewee's own is in param already; a marker or a value, added as it is.
        return ctx.value(param if values is None else param.value(values), converter=False)


class Template:
    """A statement's SQL and its parameters, some of them ``Slot`` markers."""

    def __init__(self, database: Any, query: Any) -> None:
        self.query = query
        sql, params = database.get_sql_context().sql(query).query()
        self.sql: str = sql
        self.params: list[Any] = params

    def bind(self, values: Mapping[Any, Any]) -> list[Any]:
        return [p.value(values) if type(p) is _Param else p for p in self.params]

    def execute(self, database: Any, values: Mapping[Any, Any], *, fast: bool = True) -> Any:
        """The cursor of the statement run with ``values``: its SQL on ``Database.execute_sql``
        (``fast``), or the query through Peewee's ``Database.execute``."""
        if fast:
            return database.execute_sql(self.sql, self.bind(values))
        token = _binding.set(values)
        try:
            return database.execute(self.query)
        finally:
            _binding.reset(token)


def _match(syntax: PatternSyntax, column: Any, pattern: Any) -> Any:
    """``column`` matched against ``pattern`` (a parameter) with ``syntax``'s operator."""
    escape = () if syntax.escape is None else (pw.SQL(f"ESCAPE '{syntax.escape}'"),)
    return pw.NodeList([column, pw.SQL(syntax.operator), pattern, *escape], parens=True)


# (column, exact column, value) -> condition. Equality keeps the plain comparison beside
# the exact one where they differ, so that an index on the column still serves it.
_COMPARE: dict[str, Callable[[Any, Any, Any], Any]] = {
    "eq": lambda c, x, v: c == v if x is c else (c == v) & (x == v),
    "ne": lambda c, x, v: x != v,
    "lt": lambda c, x, v: c < v,
    "lte": lambda c, x, v: c <= v,
    "gt": lambda c, x, v: c > v,
    "gte": lambda c, x, v: c >= v,
}
_TEXT = (pw.CharField, pw.TextField)
_TIMES = (pw.DateTimeField, pw.TimeField)


class Compiler:
    """A store's plan compiled to Peewee's expressions (the store: ``_pw_store._SyncStore``)."""

    adapter: PeeweeAdapter
    db: Any
    model: Any  # the bound copy, whose columns are read
    declared: Any  # the user's model, whose relations a filter's path goes through
    fields: dict[str, Any]

    def _columns(self, names: Iterable[str]) -> list[Any]:
        return [self.fields[name].alias(name) for name in names]

    def _condition(
        self, c: Condition, values: Mapping[str, Any], fields: dict[str, Any] | None = None, model: Any = None
    ) -> Any:
        """``c`` with a ``Slot`` for each parameter but ``In``'s, whose values shape the SQL.

        ``fields``, ``model``: the row a path starts from (an alias of a related model, for the rest
        of a path through relations: ormgate.adapters._pw_across); the store's own model by default.
        """
        fields, model = (self.fields, self.declared) if fields is None else (fields, model)
        if isinstance(c, And | Or):
            items = [self._condition(item, values, fields, model) for item in c.items]
            if not items:
                return pw.SQL("1 = 1" if isinstance(c, And) else "1 = 0")
            return functools.reduce(operator.and_ if isinstance(c, And) else operator.or_, items)
        if isinstance(c, Not):
            return ~self._condition(c.item, values, fields, model)
        if isinstance(c, Across):
            return across(
                model, c.relation, fields, lambda target, related: self._condition(c.where, values, target, related)
            )
        if len(c.path) > 1:
            rest = dataclasses.replace(c, path=c.path[1:])
            return across(
                model, c.path[0], fields, lambda target, related: self._condition(rest, values, target, related)
            )
        column = fields[c.path[-1]]
        # A related model's field is read through an alias: its kind is that of the field aliased.
        kind = column.field if isinstance(column, pw.FieldAlias) else column
        dialect = self.adapter.dialect
        if isinstance(c, IsNull):
            return column.is_null(c.null)
        if isinstance(c, Match):
            kind = c.kind
            syntax = LIKE if c.folded else dialect.match
            target = dialect.exact(pw.fn.LOWER(column) if c.folded else column)
            return _match(syntax, target, Slot(c.param, lambda v: syntax.pattern(kind, v)))
        exact = dialect.identical(column) if c.exact and isinstance(kind, _TEXT) else column
        if isinstance(c, In):
            value = values[c.param]
            return column.in_(value) if exact is column else column.in_(value) & exact.in_(value)
        if dialect.text_times and isinstance(kind, _TIMES):
            value = Slot(c.param, converter=column.db_value)
            bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
            met = functools.reduce(
                operator.and_, (_COMPARE[op](column, column, getattr(pw.fn, b)(value)) for op, b in bounds)
            )
            return ~met if c.op == "ne" else met
        return _COMPARE[c.op](column, exact, Slot(c.param))

    def _order(self, term: Order, column: Any = None) -> Any:
        column = self.fields[term.path[-1]] if column is None else column
        # PostgreSQL needs the NULLS clause said. MySQL has none and already sorts NULL smallest;
        # Peewee would emulate the clause there with a CASE no index serves.
        nulls = {"nulls": term.nulls.upper()} if self.db.nulls_ordering and term.nulls else {}
        return column.desc(**nulls) if term.descending else column.asc(**nulls)

    def _list_statements(self, plan: Plan, values: Mapping[str, Any]) -> tuple[Template, Template | None]:
        """The page's SELECT and, if asked, the COUNT, with a ``Slot`` for each parameter."""
        where = [self._condition(c, values) for c in plan.where.items]
        if plan.group is not None:  # the first rows of each group (ormgate.adapters._pw_groups)
            return Template(self.db, grouped(self.model, self.fields, plan, where, self._order)), None
        select = self.model.select(*self._columns(plan.columns))
        if where:
            select = select.where(*where)
        if plan.after is not None:
            select = select.where(self._condition(plan.after, values))
        select = select.order_by(*map(self._order, plan.order)).limit(Slot("limit"))
        if plan.offset:
            select = select.offset(Slot("offset"))
        counting = None
        if plan.count:
            counting = self.model.select(pw.fn.COUNT(pw.SQL("*")))
            counting = Template(self.db, counting.where(*where) if where else counting)
        return Template(self.db, select), counting
