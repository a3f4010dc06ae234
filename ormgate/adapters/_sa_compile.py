"""A plan's conditions compiled to SQLAlchemy Core (ormgate.plan: the rules are there, the SQL here)."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ..plan import LIKE, Across, And, Condition, In, IsNull, Match, Not, Or
from ._sa_across import exists as across
from ._sa_describe import _stored
from ._sa_dialects import _BINARY, _IDENTICAL, _TEXT_TIMES, _binary
from ._sqlite import TEXT_TIME


def _compiler(columns: dict[str, sa.Column[Any]], dialect: str, model: Any = None) -> Callable[[Condition], Any]:
    """Compiles a plan's conditions to SQLAlchemy Core, each parameter a ``bindparam`` of its name;
    a path through ``model``'s relations as an ``EXISTS`` (ormgate.adapters._sa_across)."""
    binary = _BINARY.get(dialect, _binary)
    identical = _IDENTICAL.get(dialect, _binary)
    params: dict[str, Any] = {}

    def param(name: str, type_: Any = None, expanding: bool = False) -> Any:
        # One object per name: the keyset condition uses a0 in its bound and in its first branch.
        if name not in params:
            params[name] = sa.bindparam(name, type_=type_, expanding=expanding)
        return params[name]

    def compile_(c: Condition, columns: dict[str, Any] = columns, model: Any = model) -> Any:
        if isinstance(c, And):
            return sa.and_(*(compile_(i, columns, model) for i in c.items)) if c.items else sa.true()
        if isinstance(c, Or):
            return sa.or_(*(compile_(i, columns, model) for i in c.items)) if c.items else sa.false()
        if isinstance(c, Not):
            return sa.not_(compile_(c.item, columns, model))
        if isinstance(c, Across):
            return across(model, c.relation, columns, lambda target, related: compile_(c.where, target, related))
        if len(c.path) > 1:
            rest = dataclasses.replace(c, path=c.path[1:])
            return across(model, c.path[0], columns, lambda target, related: compile_(rest, target, related))
        column = columns[c.path[-1]]
        if isinstance(c, IsNull):
            return column.is_(None) if c.null else column.is_not(None)
        if isinstance(c, Match):
            target = sa.func.lower(column) if c.folded else column
            return binary(target).like(param(c.param), escape=LIKE.escape)
        exact = identical(column) if c.exact and isinstance(_stored(column.type), sa.String) else column
        if isinstance(c, In):
            value = param(c.param, column.type, expanding=True)
            return sa.and_(column.in_(value), exact.in_(value)) if exact is not column else column.in_(value)
        value = param(c.param, column.type)
        if dialect in _TEXT_TIMES and isinstance(_stored(column.type), (sa.DateTime, sa.Time)):
            # A timestamp kept as text: each bound compares as the instant, whatever its text (see _sqlite).
            bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
            met = sa.and_(*(_COMPARE[op](column, getattr(sa.func, bound)(value)) for op, bound in bounds))
            return sa.not_(met) if c.op == "ne" else met
        if c.op == "eq" and exact is not column:  # the plain comparison stays, so that an index still serves it
            return sa.and_(column == value, exact == value)
        return _COMPARE[c.op](exact if c.op == "ne" else column, value)

    return compile_


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
