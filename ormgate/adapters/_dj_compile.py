"""The plan of a list or a scope (ormgate.plan) compiled for Django: conditions as ``Q``, order as ``F``.

Each parameter of the plan is replaced by its value: a ``QuerySet`` takes the values in its
conditions. Per-database differences are data (``_IDENTICAL``, ``_GLOB_VENDORS``,
``_TEXT_TIME_VENDORS``). A condition through relations is ``ormgate.adapters._dj_across``'s;
the GET compiled once per scope shape is ``ormgate.adapters._dj_compiled``'s.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

from django.db.models import BooleanField, DateTimeField, F, Field, Func, Q, TimeField, Value
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)

from ..plan import GLOB, Across, And, Condition, IsNull, Match, Not, Or, Order
from ..plan import In as InList
from ._dj_across import exists as across
from ._dj_describe import describe
from ._sqlite import TEXT_TIME


def _plain(value: Any) -> Any:
    # Enum members (choices) go to the database as their values, lists element by element.
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, enum.Enum) else value


class _Lower(Lower):
    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="ormgate_lower", **extra)


class _Utf8Bytes(Func):
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    template = "CAST(CAST(%(expressions)s AS CHAR CHARACTER SET utf8mb4) AS BINARY)"


# MySQL/MariaDB compare text under a case- and accent-insensitive collation by default (see
# _collation): equality compares the bytes too. (Django's own case-sensitive LIKEs are BINARY there.)
_IDENTICAL: dict[str, Callable[[Any], Any]] = {"mysql": _Utf8Bytes}
# SQLite's LIKE ignores ASCII case: case-sensitive matching uses GLOB there.
_GLOB_VENDORS = frozenset({"sqlite"})
# Django's own pattern lookups take the text literally (they escape % and _ themselves).
_MATCHES: dict[str, Callable[[Any, Any], Any]] = {"contains": Contains, "startswith": StartsWith, "endswith": EndsWith}
_LOOKUPS = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}
_LOOKUP_CLASSES = {"lt": LessThan, "lte": LessThanOrEqual, "gt": GreaterThan, "gte": GreaterThanOrEqual}
# Where a timestamp is text, compared as the instant it names (see _sqlite).
_TEXT_TIME_VENDORS = frozenset({"sqlite"})


def _q(
    c: Condition,
    values: Mapping[str, Any],
    vendor: str,
    text: set[str],
    times: Mapping[str, Field[Any, Any]] = {},
    model: Any = None,
) -> Q:
    """A plan's condition as a ``Q``, each parameter replaced by its value.

    ``text``: the text fields; ``times``: the datetime and time fields, by name; ``model``: whose
    relations a path goes through (ormgate.adapters._dj_across).
    """
    if isinstance(c, And):
        return functools.reduce(operator.and_, (_q(item, values, vendor, text, times, model) for item in c.items), Q())
    if isinstance(c, Or):
        if not c.items:
            return Q(pk__in=[])
        return functools.reduce(operator.or_, (_q(item, values, vendor, text, times, model) for item in c.items))
    if isinstance(c, Not):
        return ~_q(c.item, values, vendor, text, times, model)
    if isinstance(c, Across):
        return across(model, c.relation, lambda target: _q(c.where, values, vendor, *_kinds(target), target))
    if len(c.path) > 1:
        rest = dataclasses.replace(c, path=c.path[1:])
        return across(model, c.path[0], lambda target: _q(rest, values, vendor, *_kinds(target), target))
    name = "__".join(c.path)
    if isinstance(c, IsNull):
        return Q(**{f"{name}__isnull": c.null})
    value = values[c.param]
    if isinstance(c, Match):
        if not c.folded and vendor in _GLOB_VENDORS:
            pattern = GLOB.pattern(c.kind, value)
            return Q(Func(Value(pattern), F(name), function="GLOB", output_field=BooleanField()))
        return Q(_MATCHES[c.kind](_Lower(F(name)) if c.folded else F(name), value))
    binary = _IDENTICAL.get(vendor) if c.exact and c.path[-1] in text else None
    if isinstance(c, InList):
        # The plain comparison stays beside the exact one, so that an index still serves it.
        return Q(**{f"{name}__in": value}) & (Q(In(binary(F(name)), value)) if binary else Q())
    if vendor in _TEXT_TIME_VENDORS and name in times:
        # A timestamp kept as text: each bound compares as the instant, whatever its text (see _sqlite).
        bound = Value(value, output_field=times[name])
        bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
        met = functools.reduce(
            operator.and_,
            (Q(_LOOKUP_CLASSES[op](F(name), Func(bound, function=b, output_field=times[name]))) for op, b in bounds),
        )
        return ~met & Q(**{f"{name}__isnull": False}) if c.op == "ne" else met
    if c.op == "eq":
        return Q(**{name: value}) & (Q(Exact(binary(F(name)), value)) if binary else Q())
    if c.op == "ne":
        # ~Q() alone lets NULL rows in (Django's exclude); SQL's <> does not.
        exact = Exact(binary(F(name)), value) if binary else Q(**{name: value})
        return ~Q(exact) & Q(**{f"{name}__isnull": False})
    return Q(**{f"{name}__{_LOOKUPS[c.op]}": value})


@functools.cache
def _kinds(model: Any) -> tuple[set[str], dict[str, Field[Any, Any]]]:
    """A model's text fields and its datetime and time fields, by name, as ``_q`` takes them."""
    text = {f.name for f in describe(model).fields if issubclass(f.python_type, str)}
    return text, {f.name: f for f in model._meta.concrete_fields if isinstance(f, (DateTimeField, TimeField))}


def _order(term: Order) -> Any:
    column = F("__".join(term.path))
    nulls = {} if term.nulls is None else {f"nulls_{term.nulls}": True}
    return column.desc(**nulls) if term.descending else column.asc(**nulls)
