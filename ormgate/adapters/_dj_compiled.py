"""Django's GET by key compiled once per scope shape, run on the connection's cursor (the fast GET).

A QuerySet made and compiled per GET was over half of its CPU. The statement is compiled
once per scope shape (``ormgate.scope.shape``: none for an unscoped GET), exactly as
``values()`` compiles it, from the first request's values; each later GET binds its own.
Which parameter is which is learnt from that first compilation: each parameter must be,
type and value, the database value of exactly one input (the key, or one of the scope's
values) as its field prepares it, so a request whose inputs are not all distinct (a key
equal to a scope value) does not compile the shape: it takes ``values()``, and a later
request compiles it (once compiled, the statement serves every request of the shape). A
parameter that is none of the inputs (a value the statement transforms) makes the shape
one that is never compiled: ``values()`` always. A None among the scope's values is ``IS NULL`` (no parameter, another
statement): not compiled. Whether a GET may be fast at all is ``ormgate.adapters._fast``'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model, QuerySet

from .base import Row

# A column's position, its converters and the expression they take, as Django's compiler gives them.
Converters = list[tuple[int, list[Any], Any]]


@dataclass(frozen=True, slots=True)
class CompiledGet:
    sql: str
    converters: Converters
    positions: tuple[int, ...]  # for each parameter, the input it is: 0 the key, i the scope's i-th field by name

    def run(self, connection: BaseDatabaseWrapper, inputs: Sequence[Any], fields: Sequence[str]) -> Row | None:
        with connection.cursor() as cursor:
            cursor.execute(self.sql, [inputs[i] for i in self.positions])
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for i, convs, expression in self.converters:
            for convert in convs:
                values[i] = convert(values[i], expression, connection)
        return dict(zip(fields, values, strict=True))


class Refused:
    """A shape whose statement does not bind the inputs as they are: always ``values()``."""


REFUSED = Refused()


def distinct(inputs: Sequence[Any]) -> bool:
    """Whether no two of ``inputs`` are equal values of one type: then each parameter is at most one of them."""
    return all(type(a) is not type(b) or a != b for i, a in enumerate(inputs) for b in inputs[i + 1 :])


def compile_get(
    rows: QuerySet[Model], fields: Sequence[str], alias: str, connection: BaseDatabaseWrapper, inputs: Sequence[Any]
) -> CompiledGet | Refused:
    """``rows.values(*fields)`` compiled, its parameters located among ``inputs`` (database values, ``distinct``).

    ``REFUSED`` when a parameter is not exactly one of the inputs.
    """
    compiler = rows.values(*fields).query.get_compiler(using=alias, connection=connection)
    sql, params = compiler.as_sql()
    positions = []
    for param in params:
        found = [i for i, value in enumerate(inputs) if type(value) is type(param) and value == param]
        if len(found) != 1:
            return REFUSED
        positions.append(found[0])
    columns = [column for column, _sql, _alias in compiler.select]
    converters = [(i, convs, expression) for i, (convs, expression) in compiler.get_converters(columns).items()]
    return CompiledGet(sql, converters, tuple(positions))
