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
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from contextvars import ContextVar
from typing import Any

import peewee as pw

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
