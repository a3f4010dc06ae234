"""What a list request asks for, as frozen ORM-neutral data that adapters compile.

The semantics every adapter implements identically:

- ``Filter(field, op, value)``: the value is already converted to the field's
  Python type (a list for ``in``, a bool for ``isnull``). ``eq``/``ne``/``lt``/
  ``lte``/``gt``/``gte`` compare; ``in`` is membership; ``isnull`` tests NULL;
  ``contains``/``startswith``/``endswith`` match case-sensitively and
  ``icontains``/``istartswith`` case-insensitively, with ``%`` and ``_`` in the
  value matched literally. ``ne`` follows SQL: rows where the column is NULL
  do not match.
- Sorting: NULL is the smallest value, on every database: first in ascending
  order, last in descending order. The last ``Sort`` is always the primary key,
  appended in the direction of the key before it unless the request sorts by it.
- ``after`` (keyset pagination) holds the sort values of the last row already
  returned; the next page is the rows strictly after it in the sort order
  above, NULLs included.
- ``group`` (``Group(field, n)``) keeps, of the rows matching the filters, the
  first ``n`` of each value of ``field`` in the sort order; the page is then
  those rows in that order, at most ``limit`` of them.

``ormgate.plan`` writes these semantics as the statement every adapter
compiles (the keyset condition, NULL ordering, literal patterns, case folding).

What a request may ask for is bounded by the resource's ``Limits``; a cursor
is signed with the application's key (``cursor_key``) and bound to its
resource, sort and filters (``ormgate.query_cursor``). ``QueryParser``
documents each parameter as it parses it (``ormgate.query_openapi``); a bad
one raises an error naming it (``ormgate.query_errors``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import hmac
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from pydantic import TypeAdapter, ValidationError

from .model import FieldInfo, ModelInfo
from .query_cursor import CursorSigning
from .query_cursor import signing_key as signing_key
from .query_errors import _bad, _invalid, _over
from .query_openapi import _TEXT_OPERATORS, RESERVED, ParameterDocument
from .schemas import value_annotation

OPERATORS = (
    "eq",
    "ne",
    "lt",
    "lte",
    "gt",
    "gte",
    "in",
    "isnull",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
)


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: str  # one of OPERATORS
    value: Any


@dataclass(frozen=True, slots=True)
class Sort:
    field: str
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """At most ``limit`` rows for each value of ``field``: the first ones of each in the query's sort.

    What an embedded list reads (ormgate.relations): the first rows of every parent's list in one
    statement, however long the lists are.
    """

    field: str
    limit: int


@dataclass(frozen=True, slots=True)
class Query:
    """One page of a list: which columns, which rows, in which order."""

    fields: tuple[str, ...]
    sort: tuple[Sort, ...]  # always ends with the primary key
    limit: int
    filters: tuple[Filter, ...] = ()
    offset: int = 0
    after: tuple[Any, ...] | None = None  # one value per Sort
    count: bool = False
    group: Group | None = None  # with neither offset, after nor count; fields holding the sort's
    # Equalities on related rows (``comments__team = 1``, from the read scope of the resource an
    # include names): every filter across that relation (``comments__body``) matches only such rows,
    # the conditions inside its own EXISTS (ormgate.plan.Across). Signed into cursors as filters are.
    within: tuple[Filter, ...] = ()


# LIMIT and OFFSET are bound as 32-bit integers (asyncpg refuses a larger Python int for one):
# the largest page size and offset every database and driver accepts.
MAX_OFFSET = 2**31 - 1


@dataclass(frozen=True, slots=True)
class Limits:
    """What one list request may ask for; each is checked before any SQL is built.

    ``limit`` is the page size without ``?limit=``, ``max_limit`` the largest
    accepted (outside 1..max_limit is a 422, like any bad value). The others
    are caps whose excess is a 400 naming them: the keyset condition of a
    cursor grows with the square of the number of sort keys, and each filter
    or ``in`` value is one more comparison per row scanned.

    ``sort_keys`` and ``in_values`` are stated in the OpenAPI document, on the
    parameter they bound. ``filters`` and ``query_length`` span parameters,
    which OpenAPI cannot state: ``None`` sets them to what the document
    itself admits (every filter parameter at once; the longest query string
    the parameters' own bounds allow, percent-encoded), so that no request
    the document calls valid is refused by them.
    """

    limit: int = 50
    max_limit: int = 500
    sort_keys: int = 4
    filters: int | None = 20
    in_values: int = 500
    in_length: int = 2048  # characters of one `in` list of text values, commas included
    query_length: int | None = 2048  # bytes of the query string as sent, percent-encoding included
    max_offset: int = MAX_OFFSET

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
        if self.limit > self.max_limit:
            raise ValueError(f"Limits.limit ({self.limit}) is above Limits.max_limit ({self.max_limit})")
        for name in ("max_limit", "max_offset"):
            if getattr(self, name) > MAX_OFFSET:
                raise ValueError(f"Limits.{name} is above {MAX_OFFSET}, the most every database and driver accepts")

    def describe(self, filters: int, query_length: int) -> str:
        """The limits in words, for the OpenAPI description of a list (``filters``, ``query_length``: as applied)."""
        return (
            f"Limits: at most {self.sort_keys} sort keys; at most {filters} filters; "
            f"at most {self.in_values} values in one `in` list (of text: {self.in_length} characters); "
            f"a query string of at most {query_length} bytes. Going over one is a 400 problem whose `errors[0]` "
            f"names the "
            f"parameter and the `maximum`. `limit` takes 1 to {self.max_limit} rows (default {self.limit}) "
            f"and `offset` 0 to {self.max_offset}; another value is a 422."
        )


DEFAULT_LIMITS = Limits()

# Which operators a field gets when the resource does not say, by Python type.
# Order matters: bool is an int, and datetime a date, so the specific come first.
_RANGE = ("eq", "ne", "lt", "lte", "gt", "gte", "in")
_STRING = ("eq", "ne", "in", "contains", "icontains", "startswith", "istartswith", "endswith")
_DEFAULT_OPERATORS: tuple[tuple[type[Any], tuple[str, ...]], ...] = (
    (bool, ("eq", "ne")),
    (enum.Enum, ("eq", "ne", "in")),
    (str, _STRING),
    (int, _RANGE),
    (float, _RANGE),
    (decimal.Decimal, _RANGE),
    (dt.datetime, _RANGE),
    (dt.date, _RANGE),
    (dt.time, _RANGE),
    (uuid.UUID, ("eq", "ne", "in")),
)
_ORDERABLE = (bool, enum.Enum, str, int, float, decimal.Decimal, dt.date, dt.time, uuid.UUID)


def default_operators(field: FieldInfo) -> tuple[str, ...]:
    """The operators a field allows by default: ranges for numbers and dates, matching for strings."""
    ops: tuple[str, ...] = ()
    if field.choices is not None:
        ops = ("eq", "ne", "in")
    else:
        ops = next((o for t, o in _DEFAULT_OPERATORS if issubclass(field.python_type, t)), ())
    return (*ops, "isnull") if ops and field.nullable else ops


class QueryParser(CursorSigning, ParameterDocument):
    """Turns a list request's query string into a validated ``Query`` for one resource.

    ``filters`` maps a field to the operators it allows and ``sortable`` lists
    the fields ``?sort=`` accepts; both default from the field types, over the
    readable fields only (write-only and excluded fields get nothing).
    ``limits`` is a ``Limits`` or, for short, a (default, maximum) ``limit``
    pair; ``cursor_key`` as in ``signing_key()``.
    """

    def __init__(
        self,
        info: ModelInfo,
        readable: Sequence[str],
        *,
        filters: Mapping[str, Iterable[str]] | None = None,
        sortable: Iterable[str] | None = None,
        limits: Limits | tuple[int, int] = DEFAULT_LIMITS,
        cursor_key: bytes | str | None = None,
        across: Mapping[str, tuple[FieldInfo, Iterable[str] | None]] | None = None,
    ) -> None:
        self.info = info
        self.readable = tuple(readable)
        fields = [info.by_name[name] for name in self.readable]
        if filters is None:
            filters = {f.name: default_operators(f) for f in fields}
        self.filters = {name: tuple(ops) for name, ops in filters.items() if ops}
        # Filters across relations (docs/relationships.md): "author__username" -> the field it ends
        # on, in the related model, and its operators (None: that field's defaults).
        self.fields_by_name: dict[str, FieldInfo] = {name: info.by_name[name] for name in self.readable}
        self.across = dict(across or {})
        for path, (target, ops) in self.across.items():
            if path in self.fields_by_name:
                raise ValueError(f"{info.name}: filters_across path {path!r} is a field of the model itself")
            self.fields_by_name[path] = target
            chosen = tuple(default_operators(target) if ops is None else ops)
            if not chosen:
                raise ValueError(f"{info.name}: filters_across path {path!r} has no operators")
            self.filters[path] = chosen
        if sortable is None:
            sortable = [f.name for f in fields if f.choices is not None or issubclass(f.python_type, _ORDERABLE)]
        self.sortable = tuple(sortable)
        for name in [*self.filters, *self.sortable]:
            if name not in self.fields_by_name or (name in self.sortable and name not in self.readable):
                raise ValueError(f"{info.name}.{name} is not a readable field and cannot be filtered or sorted")
        unknown_ops = {op for ops in self.filters.values() for op in ops} - set(OPERATORS)
        if unknown_ops:
            raise ValueError(f"unknown operator(s) {sorted(unknown_ops)}")
        self.limits = limits if isinstance(limits, Limits) else Limits(*limits)
        # Bound to the table: with one key for the whole application, a cursor
        # of one resource must not continue a list of another.
        table = f"cursor of {info.table}".encode()
        self._cursor_key = hmac.new(signing_key(cursor_key), table, hashlib.sha256).digest()
        self.adapters = {name: TypeAdapter(self._annotation(name)) for name in self.fields_by_name}
        self.parameters = {
            (name if op == "eq" else f"{name}__{op}"): (name, op) for name, ops in self.filters.items() for op in ops
        }
        self._schemas = self._parameter_schemas()
        self.max_filters = self.limits.filters if self.limits.filters is not None else max(len(self.parameters), 1)
        if self.limits.query_length is not None:
            self.max_query = self.limits.query_length
        else:
            longest = self.longest_query()
            if longest is None:
                raise ValueError(
                    f"{info.name}: Limits(query_length=None) needs every parameter bounded, and a filtered or "
                    "sorted field has no maximum length: give the column one, or set Limits.query_length"
                )
            self.max_query = longest

    def _annotation(self, name: str) -> Any:
        return value_annotation(self.fields_by_name[name])

    def _text(self, parameter: str, name: str, raw: str) -> str:
        """A string filter value: at most the column's length (a longer one can match no row)."""
        most = self.fields_by_name[name].max_length
        if most is not None and len(raw) > most:
            raise _invalid(parameter, f"String should have at most {most} characters", "string_too_long")
        return raw

    def _convert(self, parameter: str, name: str, raw: str) -> Any:
        field = self.fields_by_name[name]
        if self._is_text(name):
            raw = self._text(parameter, name, raw)
        shape = _TEMPORAL.get(field.python_type)
        if shape is not None and not shape[0].match(raw):
            # Pydantic would read a number ("0.5") as a Unix time: the document says RFC 3339.
            raise _invalid(parameter, f"expected {shape[1]}", shape[2])
        try:
            return self.adapters[name].validate_python(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise _invalid(parameter, error["msg"], error["type"]) from None

    def _filter(self, parameter: str, raw: str) -> Filter:
        found = self.parameters.get(parameter)
        if found is None:
            name, _, op = parameter.rpartition("__")
            if name in self.filters and op:
                raise _bad(parameter, f"operator {op!r} is not allowed on {name}", self.filters[name])
            raise _bad(parameter, "unknown query parameter", [*RESERVED, *self.parameters])
        name, op = found
        value: Any
        if op == "isnull":
            value = self._bool(parameter, raw)
        elif op == "in":
            text = self._is_text(name)
            if text and len(raw) > self.limits.in_length:
                most = self.limits.in_length
                raise _invalid(parameter, f"String should have at most {most} characters", "string_too_long")
            parts = raw.split(",")
            if len(parts) > self.limits.in_values:
                raise _over(parameter, f"at most {self.limits.in_values} values", self.limits.in_values)
            # A text value longer than its column is not refused here: it matches no row.
            value = tuple(parts) if text else tuple(self._convert(parameter, name, part) for part in parts)
        elif op in _TEXT_OPERATORS:
            value = self._text(parameter, name, raw)
        else:
            value = self._convert(parameter, name, raw)
        return Filter(name, op, value)

    @staticmethod
    def _names(parameter: str, raw: str, allowed: Sequence[str], cap: int, what: str) -> list[str]:
        """Comma-separated names, exactly as the document's pattern spells them: no blank, no space."""
        if not raw:
            raise _bad(parameter, "is empty", allowed)
        names = raw.split(",")
        if len(names) > cap:
            raise _over(parameter, f"at most {cap} {what}", cap)
        for name in names:
            if name.removeprefix("-") not in allowed:
                raise _bad(parameter, f"cannot use {name.removeprefix('-')!r}", allowed)
        return names

    def _sort(self, raw: str) -> list[Sort]:
        names = self._names("sort", raw, self.sortable, self.limits.sort_keys, "sort keys")
        # A key on a field already sorted by orders nothing more (ties on it are already broken by
        # the earlier key): it is dropped, as SQL's ORDER BY would ignore it.
        sort: dict[str, Sort] = {}
        for n in names:
            sort.setdefault(n.removeprefix("-"), Sort(n.removeprefix("-"), n.startswith("-")))
        return list(sort.values())

    @staticmethod
    def _bool(parameter: str, raw: str) -> bool:
        value = _BOOLEANS.get(raw.lower())
        if value is None:
            raise _invalid(parameter, "expected true or false", "bool_parsing")
        return value

    @staticmethod
    def _int(parameter: str, raw: str, low: int, high: int) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _invalid(parameter, "expected an integer", "int_parsing") from None
        if value < low:
            raise _invalid(parameter, f"must be between {low} and {high}", "greater_than_equal")
        if value > high:
            raise _invalid(parameter, f"must be between {low} and {high}", "less_than_equal")
        return value

    def parse_query_string(self, raw: bytes, scope: tuple[Filter, ...] = (), ignore: Collection[str] = ()) -> Query:
        """The ``Query`` for a raw query string (``scope["query_string"]``), its length checked before parsing.

        ``scope``: filters the request's scope adds (ormgate.scope), before the client's; ``ignore``:
        the parameters the route's dependencies read (``parse``).
        """
        cap = self.max_query
        if len(raw) > cap:
            raise _over("query_string", f"{len(raw)} bytes, at most {cap}", cap)
        # As Starlette's QueryParams parses it.
        return self.parse(parse_qsl(raw.decode("latin-1"), keep_blank_values=True), scope, ignore=ignore)

    def parse(
        self,
        items: Iterable[tuple[str, str]],
        scope: tuple[Filter, ...] = (),
        within: tuple[Filter, ...] = (),
        ignore: Collection[str] = (),
    ) -> Query:
        """The ``Query`` for a query string given as (name, value) pairs, ``scope``'s filters first.

        The scope's filters, and ``within`` (``Query.within``), are signed into a cursor with the
        client's: a cursor of one scope is no cursor in another. The parameters in ``ignore`` are
        the route's dependencies' (a scope's ``?org=``, FastAPI validates them): skipped, neither
        filters nor unknown.
        """
        seen: dict[str, str] = {}
        for name, value in items:
            if name in ignore:
                continue
            if name in seen:
                raise _bad(name, "given more than once")
            if "\x00" in value:
                raise _invalid(name, "NUL characters are not allowed", "string_pattern_mismatch")
            seen[name] = value
        given = [(k, v) for k, v in seen.items() if k not in RESERVED]
        if len(given) > self.max_filters:
            raise _over(given[self.max_filters][0], f"at most {self.max_filters} filters", self.max_filters)
        filters = (*scope, *(self._filter(k, v) for k, v in given))
        sort = self._sort(seen["sort"]) if "sort" in seen else []
        pk = self.info.pk.name
        if pk not in [s.field for s in sort]:
            # In the last key's direction: an index on that key ends in the primary key where
            # the database keeps one (SQLite's rowid, InnoDB), so it serves the whole order read
            # backwards too. Against the grain, SQLite sorts every tie group in a temporary tree
            # and MariaDB the whole table, on every page.
            sort.append(Sort(pk, sort[-1].descending if sort else False))
        fields = self.readable
        if "fields" in seen:
            names = self._names("fields", seen["fields"], self.readable, len(self.readable), "fields")
            fields = tuple(dict.fromkeys(names))
        limits = self.limits
        limit = self._int("limit", seen["limit"], 1, limits.max_limit) if "limit" in seen else limits.limit
        offset = self._int("offset", seen["offset"], 0, limits.max_offset) if "offset" in seen else 0
        count = self._bool("count", seen["count"]) if "count" in seen else False
        query = Query(fields, tuple(sort), limit, filters, offset, None, count, within=within)
        if "cursor" in seen:
            # With an offset too, that many rows after the cursor are skipped.
            query = replace(query, after=self._read_cursor(seen["cursor"], query))
        return query


# The ISO 8601 / RFC 3339 shape a date, datetime or time filter value starts with, and how it is refused.
_TEMPORAL = {
    dt.datetime: (re.compile(r"\d{4}-\d{2}-\d{2}"), "an RFC 3339 date-time", "datetime_parsing"),
    dt.date: (re.compile(r"\d{4}-\d{2}-\d{2}"), "an RFC 3339 full-date", "date_parsing"),
    dt.time: (re.compile(r"\d{2}:\d{2}"), "an RFC 3339 partial-time", "time_parsing"),
}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
