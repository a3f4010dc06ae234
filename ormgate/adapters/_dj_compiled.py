"""Django's GET by key and its plain lists, compiled once per shape and run on the connection's cursor.

A QuerySet made and compiled per request was over half of a GET's CPU, and most of a list's
Python work. A GET's statement is compiled once per scope shape (``ormgate.scope.shape``: none
for an unscoped GET), a list's once per query shape (``ormgate.plan.shape``), exactly as
``values()`` compiles it, from the first request's values; each later request binds its own.
A list's statement is compiled without its slice, and ``LIMIT %s OFFSET %s`` bound after it
(Django writes both as literals: one statement per page otherwise).

Which parameter is which is learnt from that first compilation: each parameter must be, type and
value, the database value of exactly one input (the key, a scope's value, a filter's or a
cursor's) as its field prepares it, so a request whose inputs are not all distinct (a key equal
to a scope value) does not compile the shape: it takes ``values()``, and a later request
compiles it (once compiled, the statement serves every request of the shape). A parameter that
is none of the inputs (a value the statement transforms) makes the shape one that is never
compiled: ``values()`` always. A None among the values is ``IS NULL`` (no parameter, another
statement): not compiled. A boolean is no parameter either where the database takes a boolean
column as a condition (``WHERE active``, ``WHERE NOT active``: Django's ``Exact``), so the
booleans among the inputs are part of the key: one statement for each of their values
(``prepare``); any other input the statement does not bind refuses the shape.

A list is compiled only when its conditions are comparisons and ``IS NULL`` on the model's own
columns: a pattern binds a pattern, ``in`` as many parameters as its distinct values, a relation
a subquery, so those stay ``values()``'s. Whether a read may be compiled at all is
``ormgate.adapters._fast``'s.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, QuerySet

from ..plan import And, Compare, Condition, IsNull, Not, Or, Plan
from ._dj_compile import _plain
from .base import Row

# A column's position, its converters and the expression they take, as Django's compiler gives them.
Converters = list[tuple[int, list[Any], Any]]
# A list's inputs: each parameter of its plan, and the field that prepares its value.
Layout = tuple[tuple[str, "Field[Any, Any]"], ...]


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    converters: Converters
    positions: tuple[int, ...]  # for each parameter, the input it is (a GET: 0 the key, i the scope's i-th)

    def _fetch(self, connection: BaseDatabaseWrapper, inputs: Sequence[Any]) -> list[Any]:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [inputs[i] for i in self.positions])
            rows: list[Any] = cursor.fetchall()
        return rows

    def _convert(self, connection: BaseDatabaseWrapper, row: Any) -> list[Any]:
        values = list(row)
        for i, convs, expression in self.converters:
            for convert in convs:
                values[i] = convert(values[i], expression, connection)
        return values

    def one(self, connection: BaseDatabaseWrapper, inputs: Sequence[Any], fields: Sequence[str]) -> Row | None:
        rows = self._fetch(connection, inputs)
        if not rows:
            return None
        return dict(zip(fields, self._convert(connection, rows[0]), strict=True))

    def all(self, connection: BaseDatabaseWrapper, inputs: Sequence[Any], fields: Sequence[str]) -> list[Row]:
        rows = self._fetch(connection, inputs)
        if self.converters:
            rows = [self._convert(connection, row) for row in rows]
        return [dict(zip(fields, row, strict=True)) for row in rows]


class Refused:
    """A shape whose statement does not bind the inputs as they are: always ``values()``."""


REFUSED = Refused()


def prepare(
    values: Iterable[tuple[Field[Any, Any], Any]], connection: BaseDatabaseWrapper
) -> tuple[list[Any], tuple[bool, ...]] | None:
    """Each value as a lookup on its field binds it, and the booleans among them (which Django may
    write into the statement rather than bind: part of its key); None when one is None (``IS NULL``,
    another statement: ``values()``'s).

    Bound as a lookup binds it: prepared by the field, then made the database's, as prepared, by the
    field a relation points to (Django's ``FieldGetDbPrepValueMixin``). As prepared: MySQL's backend
    refuses a key of 0 only for a write, not in a condition. Every compiled GET prepares its key and its
    scope's value here: no call of ours per value.
    """
    inputs: list[Any] = []
    flags: tuple[bool, ...] = ()
    for field, value in values:
        if value is not None:
            if isinstance(value, (list, tuple, enum.Enum)):  # _plain's types; a tuple is checked faster than a union
                value = _plain(value)
            target = getattr(field, "target_field", None) or field
            value = target.get_db_prep_value(field.get_prep_value(value), connection, prepared=True)
        if value is None:
            return None
        if value is True or value is False:
            flags += (value,)
        inputs.append(value)
    return inputs, flags


def distinct(inputs: Sequence[Any]) -> bool:
    """Whether no two of ``inputs`` are equal values of one type: then each parameter is at most one of them."""
    return all(type(a) is not type(b) or a != b for i, a in enumerate(inputs) for b in inputs[i + 1 :])


def compile_rows(
    rows: QuerySet[Model],
    fields: Sequence[str],
    alias: str,
    connection: BaseDatabaseWrapper,
    inputs: Sequence[Any],
    paged: bool = False,
) -> Compiled | Refused:
    """``rows.values(*fields)`` compiled, its parameters located among ``inputs`` (database values, ``distinct``).

    ``paged``: the last two inputs are the page's limit and offset, bound after the statement.
    ``REFUSED`` when a parameter is not exactly one of the other inputs.
    """
    compiler = rows.values(*fields).query.get_compiler(using=alias, connection=connection)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # no row can match: Django answers without a statement
        return REFUSED
    matched = len(inputs) - 2 if paged else len(inputs)
    positions = []
    for param in params:
        found = [i for i, value in enumerate(inputs[:matched]) if type(value) is type(param) and value == param]
        if len(found) != 1:
            return REFUSED
        positions.append(found[0])
    if any(i not in positions and not isinstance(value, bool) for i, value in enumerate(inputs[:matched])):
        return REFUSED  # a value the statement does not bind is written into it: its SQL is not the shape's
    if paged:
        sql += " LIMIT %s OFFSET %s"
        positions += [matched, matched + 1]
    columns = [column for column, _sql, _alias in compiler.select]
    converters = [(i, convs, expression) for i, (convs, expression) in compiler.get_converters(columns).items()]
    return Compiled(sql, converters, tuple(positions))


def layout(plan: Plan, model: type[Model]) -> Layout | None:
    """The inputs of ``plan``'s page, each a parameter and its field, or None: a page ``values()`` makes.

    Only a page of comparisons and ``IS NULL`` on the model's own columns, without groups, is compiled.
    """
    if plan.group is not None:
        return None
    found: dict[str, Field[Any, Any]] = {}

    def plain(c: Condition) -> bool:
        if isinstance(c, And | Or):
            return all(plain(item) for item in c.items)
        if isinstance(c, Not):
            return plain(c.item)
        if isinstance(c, IsNull):
            return len(c.path) == 1
        if isinstance(c, Compare) and len(c.path) == 1:
            found[c.param] = model._meta.get_field(c.path[0])  # type: ignore[assignment]
            return True
        return False

    if not plain(plan.where) or (plan.after is not None and not plain(plan.after)):
        return None
    return tuple(found.items())
