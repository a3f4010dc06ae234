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
  above, NULLs included. The exact condition is an OR over the keys (the keys
  before equal, this one beyond); adapters also AND the bound it implies on the
  first key (``>=`` ascending, ``<=`` or NULL descending) so that an index on
  that key is used at any depth.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import hmac
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from .errors import BadQuery, InvalidData
from .model import FieldInfo, ModelInfo

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
class Query:
    """One page of a list: which columns, which rows, in which order."""

    fields: tuple[str, ...]
    sort: tuple[Sort, ...]  # always ends with the primary key
    limit: int
    filters: tuple[Filter, ...] = ()
    offset: int = 0
    after: tuple[Any, ...] | None = None  # one value per Sort
    count: bool = False


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
_TEXT_OPERATORS = ("contains", "icontains", "startswith", "istartswith", "endswith")
_ORDERABLE = (bool, enum.Enum, str, int, float, decimal.Decimal, dt.date, dt.time, uuid.UUID)
RESERVED = ("limit", "offset", "cursor", "sort", "fields", "count")
MAX_IN_VALUES = 500


def default_operators(field: FieldInfo) -> tuple[str, ...]:
    """The operators a field allows by default: ranges for numbers and dates, matching for strings."""
    ops: tuple[str, ...] = ()
    if field.choices is not None:
        ops = ("eq", "ne", "in")
    else:
        ops = next((o for t, o in _DEFAULT_OPERATORS if issubclass(field.python_type, t)), ())
    return (*ops, "isnull") if ops and field.nullable else ops


def _bad(parameter: str, message: str, allowed: Iterable[str] = ()) -> BadQuery:
    listed = sorted(allowed)
    detail = f"{parameter}: {message}" + (f"; allowed: {', '.join(listed)}" if listed else "")
    error: dict[str, Any] = {"field": parameter, "message": message}
    if listed:
        error["allowed"] = listed
    return BadQuery(detail, field=parameter, errors=[error])


def _invalid(parameter: str, message: str) -> InvalidData:
    return InvalidData(f"{parameter}: {message}", field=parameter, errors=[{"field": parameter, "message": message}])


class QueryParser:
    """Turns a list request's query string into a validated ``Query`` for one resource.

    ``filters`` maps a field to the operators it allows and ``sortable`` lists
    the fields ``?sort=`` accepts; both default from the field types, over the
    readable fields only (write-only and excluded fields get nothing).
    """

    def __init__(
        self,
        info: ModelInfo,
        readable: Sequence[str],
        *,
        filters: Mapping[str, Iterable[str]] | None = None,
        sortable: Iterable[str] | None = None,
        limits: tuple[int, int] = (50, 500),
        cursor_key: bytes | None = None,
    ) -> None:
        self.info = info
        self.readable = tuple(readable)
        fields = [info.by_name[name] for name in self.readable]
        if filters is None:
            filters = {f.name: default_operators(f) for f in fields}
        self.filters = {name: tuple(ops) for name, ops in filters.items() if ops}
        if sortable is None:
            sortable = [f.name for f in fields if f.choices is not None or issubclass(f.python_type, _ORDERABLE)]
        self.sortable = tuple(sortable)
        for name in [*self.filters, *self.sortable]:
            if name not in self.readable:
                raise ValueError(f"{info.name}.{name} is not a readable field and cannot be filtered or sorted")
        unknown_ops = {op for ops in self.filters.values() for op in ops} - set(OPERATORS)
        if unknown_ops:
            raise ValueError(f"unknown operator(s) {sorted(unknown_ops)}")
        self.default_limit, self.max_limit = limits
        self.cursor_key = cursor_key or os.environb.get(b"ORMGATE_SECRET_KEY") or info.table.encode()
        self.adapters = {name: TypeAdapter(self._annotation(name)) for name in self.readable}
        self.parameters = {
            (name if op == "eq" else f"{name}__{op}"): (name, op) for name, ops in self.filters.items() for op in ops
        }

    def _annotation(self, name: str) -> Any:
        field = self.info.by_name[name]
        if field.choices is not None and not issubclass(field.python_type, enum.Enum):
            return Literal[field.choices]
        return field.python_type

    def _convert(self, parameter: str, name: str, raw: str) -> Any:
        try:
            return self.adapters[name].validate_python(raw)
        except ValidationError as exc:
            raise _invalid(parameter, exc.errors()[0]["msg"]) from None

    def _filter(self, parameter: str, raw: str) -> Filter:
        found = self.parameters.get(parameter)
        if found is None:
            name, _, op = parameter.partition("__")
            if name in self.filters and op:
                raise _bad(parameter, f"operator {op!r} is not allowed on {name}", self.filters[name])
            raise _bad(parameter, "unknown query parameter", [*RESERVED, *self.parameters])
        name, op = found
        value: Any
        if op == "isnull":
            value = _BOOLEANS.get(raw.lower())
            if value is None:
                raise _invalid(parameter, "expected true or false")
        elif op == "in":
            parts = raw.split(",")
            if len(parts) > MAX_IN_VALUES:
                raise _invalid(parameter, f"at most {MAX_IN_VALUES} values")
            value = tuple(self._convert(parameter, name, part) for part in parts)
        elif op in _TEXT_OPERATORS:
            value = raw
        else:
            value = self._convert(parameter, name, raw)
        return Filter(name, op, value)

    def _names(self, parameter: str, raw: str, allowed: Sequence[str]) -> list[str]:
        names = [n.strip() for n in raw.split(",") if n.strip()]
        for name in names:
            if name.removeprefix("-") not in allowed:
                raise _bad(parameter, f"cannot use {name.removeprefix('-')!r}", allowed)
        if not names:
            raise _bad(parameter, "is empty", allowed)
        return names

    def _int(self, parameter: str, raw: str, low: int, high: int) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise _invalid(parameter, "expected an integer") from None
        if not low <= value <= high:
            raise _invalid(parameter, f"must be between {low} and {high}")
        return value

    def parse(self, items: Iterable[tuple[str, str]]) -> Query:
        """The ``Query`` for a query string given as (name, value) pairs."""
        seen: dict[str, str] = {}
        for name, value in items:
            if name in seen:
                raise _bad(name, "given more than once")
            if "\x00" in value:
                raise _invalid(name, "NUL characters are not allowed")
            seen[name] = value
        filters = tuple(self._filter(k, v) for k, v in seen.items() if k not in RESERVED)
        sort: list[Sort] = []
        if "sort" in seen:
            sort = [
                Sort(n.removeprefix("-"), n.startswith("-")) for n in self._names("sort", seen["sort"], self.sortable)
            ]
        pk = self.info.pk.name
        if pk not in [s.field for s in sort]:
            # In the last key's direction: an index on that key ends in the primary key where
            # the database keeps one (SQLite's rowid, InnoDB), so it serves the whole order read
            # backwards too. Against the grain, SQLite sorts every tie group in a temporary tree
            # and MariaDB the whole table, on every page.
            sort.append(Sort(pk, sort[-1].descending if sort else False))
        fields = self.readable
        if "fields" in seen:
            fields = tuple(dict.fromkeys(n for n in self._names("fields", seen["fields"], self.readable)))
        limit = self._int("limit", seen["limit"], 1, self.max_limit) if "limit" in seen else self.default_limit
        offset = self._int("offset", seen["offset"], 0, 2**62) if "offset" in seen else 0
        count = False
        if "count" in seen:
            flag = _BOOLEANS.get(seen["count"].lower())
            if flag is None:
                raise _invalid("count", "expected true or false")
            count = flag
        query = Query(fields, tuple(sort), limit, filters, offset, None, count)
        if "cursor" in seen:
            if "offset" in seen:
                raise _bad("cursor", "cannot be combined with offset")
            query = replace(query, after=self._read_cursor(seen["cursor"], query))
        return query

    # -- cursors: the sort values of the last row, signed together with the sort and filters --

    def _signature(self, payload: bytes, query: Query) -> bytes:
        scope = repr(([(s.field, s.descending) for s in query.sort], [(f.field, f.op, f.value) for f in query.filters]))
        return hmac.new(self.cursor_key, payload + scope.encode(), hashlib.sha256).digest()[:16]

    def next_cursor(self, query: Query, last: Mapping[str, Any]) -> str:
        """The opaque cursor that continues ``query`` after the row ``last``."""
        payload = to_json([last[s.field] for s in query.sort])
        token = payload + b"." + base64.urlsafe_b64encode(self._signature(payload, query))
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def _read_cursor(self, raw: str, query: Query) -> tuple[Any, ...]:
        try:
            token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            payload, _, signature = token.rpartition(b".")
            valid = hmac.compare_digest(base64.urlsafe_b64decode(signature), self._signature(payload, query))
            values = orjson.loads(payload) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            values = None
        if not isinstance(values, list) or len(values) != len(query.sort):
            raise _bad("cursor", "is not a cursor of this list with this sort and these filters")
        return tuple(
            None if v is None else self.adapters[s.field].validate_python(v)
            for s, v in zip(query.sort, values, strict=True)
        )

    def openapi_parameters(self) -> list[dict[str, Any]]:
        """Every query parameter this list accepts, for the OpenAPI document."""

        def param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
            return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

        params = [
            param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": self.max_limit, "default": self.default_limit},
                "Rows per page.",
            ),
            param("offset", {"type": "integer", "minimum": 0}, "Rows to skip (or use cursor)."),
            param("cursor", {"type": "string"}, "The next_cursor of the previous page."),
            param("sort", {"type": "string"}, f"Comma-separated, '-' for descending: {', '.join(self.sortable)}."),
            param("fields", {"type": "string"}, f"Comma-separated subset of: {', '.join(self.readable)}."),
            param("count", {"type": "boolean", "default": False}, "Fill total with the number of matching rows."),
        ]
        for parameter, (name, op) in self.parameters.items():
            schema = self.adapters[name].json_schema()
            if op == "isnull":
                schema = {"type": "boolean"}
            elif op in _TEXT_OPERATORS or op == "in":
                schema = {"type": "string"}
            params.append(param(parameter, schema, _DESCRIPTIONS[op].format(name=name)))
        return params


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_DESCRIPTIONS = {
    "eq": "{name} equals this value.",
    "ne": "{name} differs from this value (NULL never matches).",
    "lt": "{name} is less than this value.",
    "lte": "{name} is at most this value.",
    "gt": "{name} is greater than this value.",
    "gte": "{name} is at least this value.",
    "in": "{name} is one of these comma-separated values.",
    "isnull": "{name} is NULL (true) or not (false).",
    "contains": "{name} contains this text (case-sensitive).",
    "icontains": "{name} contains this text, ignoring case.",
    "startswith": "{name} starts with this text (case-sensitive).",
    "istartswith": "{name} starts with this text, ignoring case.",
    "endswith": "{name} ends with this text (case-sensitive).",
}
