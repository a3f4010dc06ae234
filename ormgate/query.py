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

What a request may ask for is bounded by the resource's ``Limits``; a cursor
is signed with the application's key (``cursor_key``) and bound to its
resource, sort and filters.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import functools
import hashlib
import hmac
import logging
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from .errors import BadQuery
from .model import FieldInfo, ModelInfo
from .schemas import value_annotation

log = logging.getLogger("ormgate")

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
    """

    limit: int = 50
    max_limit: int = 500
    sort_keys: int = 4
    filters: int = 20
    in_values: int = 500
    query_length: int = 2048  # bytes of the query string as sent, percent-encoding included
    max_offset: int = MAX_OFFSET

    def __post_init__(self) -> None:
        for name in self.__slots__:
            if getattr(self, name) < 1:
                raise ValueError(f"Limits.{name} must be at least 1")
        if self.limit > self.max_limit:
            raise ValueError(f"Limits.limit ({self.limit}) is above Limits.max_limit ({self.max_limit})")
        for name in ("max_limit", "max_offset"):
            if getattr(self, name) > MAX_OFFSET:
                raise ValueError(f"Limits.{name} is above {MAX_OFFSET}, the most every database and driver accepts")

    def describe(self) -> str:
        """The limits in words, for the OpenAPI description of a list."""
        return (
            f"Limits: at most {self.sort_keys} sort keys, each given once; at most {self.filters} filters; "
            f"at most {self.in_values} values in one `in` list; a query string of at most "
            f"{self.query_length} bytes. Going over one is a 400 problem whose `errors[0]` names the "
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
_TEXT_OPERATORS = ("contains", "icontains", "startswith", "istartswith", "endswith")
_ORDERABLE = (bool, enum.Enum, str, int, float, decimal.Decimal, dt.date, dt.time, uuid.UUID)
RESERVED = ("limit", "offset", "cursor", "sort", "fields", "count")


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


def _over(parameter: str, message: str, maximum: int) -> BadQuery:
    error = {"field": parameter, "message": message, "maximum": maximum}
    return BadQuery(f"{parameter}: {message}", field=parameter, errors=[error])


def _invalid(parameter: str, message: str, type_: str) -> RequestValidationError:
    # Located in the query, as FastAPI locates a bad query parameter it validates itself,
    # so that install_problem_handlers gives it the shape of a bad body.
    return RequestValidationError([{"type": type_, "loc": ("query", parameter), "msg": message}])


@functools.cache
def _process_key() -> bytes:
    # Once per process, however many resources fall back on it.
    log.warning(
        "no cursor key: set ORMGATE_SECRET_KEY or pass Resource(cursor_key=...); cursors are signed with a "
        "random key made at start-up, so they stop working on a restart and on another worker"
    )
    return os.urandom(32)


def signing_key(given: bytes | str | None = None) -> bytes:
    """The key cursors are signed with: ``given``, else ORMGATE_SECRET_KEY, else a random key for this process."""
    key = given or os.environ.get("ORMGATE_SECRET_KEY")
    if not key:
        return _process_key()
    return key.encode() if isinstance(key, str) else key


class QueryParser:
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
        self.limits = limits if isinstance(limits, Limits) else Limits(*limits)
        # Bound to the table: with one key for the whole application, a cursor
        # of one resource must not continue a list of another.
        table = f"cursor of {info.table}".encode()
        self._cursor_key = hmac.new(signing_key(cursor_key), table, hashlib.sha256).digest()
        self.adapters = {name: TypeAdapter(self._annotation(name)) for name in self.readable}
        self.parameters = {
            (name if op == "eq" else f"{name}__{op}"): (name, op) for name, ops in self.filters.items() for op in ops
        }

    def _annotation(self, name: str) -> Any:
        return value_annotation(self.info.by_name[name])

    def _convert(self, parameter: str, name: str, raw: str) -> Any:
        try:
            return self.adapters[name].validate_python(raw)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise _invalid(parameter, error["msg"], error["type"]) from None

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
            value = self._bool(parameter, raw)
        elif op == "in":
            parts = raw.split(",")
            if len(parts) > self.limits.in_values:
                raise _over(parameter, f"at most {self.limits.in_values} values", self.limits.in_values)
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

    def _sort(self, raw: str) -> list[Sort]:
        names, cap = self._names("sort", raw, self.sortable), self.limits.sort_keys
        if len(names) > cap:
            raise _over("sort", f"at most {cap} sort keys", cap)
        sort = [Sort(n.removeprefix("-"), n.startswith("-")) for n in names]
        for i, key in enumerate(sort):
            if any(s.field == key.field for s in sort[:i]):
                raise _bad("sort", f"{key.field!r} given more than once")
        return sort

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

    def parse_query_string(self, raw: bytes) -> Query:
        """The ``Query`` for a raw query string (``scope["query_string"]``), its length checked before parsing."""
        cap = self.limits.query_length
        if len(raw) > cap:
            raise _over("query_string", f"{len(raw)} bytes, at most {cap}", cap)
        # As Starlette's QueryParams parses it.
        return self.parse(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))

    def parse(self, items: Iterable[tuple[str, str]]) -> Query:
        """The ``Query`` for a query string given as (name, value) pairs."""
        seen: dict[str, str] = {}
        for name, value in items:
            if name in seen:
                raise _bad(name, "given more than once")
            if "\x00" in value:
                raise _invalid(name, "NUL characters are not allowed", "string_pattern_mismatch")
            seen[name] = value
        given = [(k, v) for k, v in seen.items() if k not in RESERVED]
        if len(given) > self.limits.filters:
            raise _over(given[self.limits.filters][0], f"at most {self.limits.filters} filters", self.limits.filters)
        filters = tuple(self._filter(k, v) for k, v in given)
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
            fields = tuple(dict.fromkeys(n for n in self._names("fields", seen["fields"], self.readable)))
        limits = self.limits
        limit = self._int("limit", seen["limit"], 1, limits.max_limit) if "limit" in seen else limits.limit
        offset = self._int("offset", seen["offset"], 0, limits.max_offset) if "offset" in seen else 0
        count = self._bool("count", seen["count"]) if "count" in seen else False
        query = Query(fields, tuple(sort), limit, filters, offset, None, count)
        if "cursor" in seen:
            if "offset" in seen:
                raise _bad("cursor", "cannot be combined with offset")
            query = replace(query, after=self._read_cursor(seen["cursor"], query))
        return query

    # -- cursors: the sort values of the last row, signed together with the sort and filters --

    def _signature(self, payload: bytes, query: Query) -> bytes:
        scope = repr(([(s.field, s.descending) for s in query.sort], [(f.field, f.op, f.value) for f in query.filters]))
        return hmac.new(self._cursor_key, payload + scope.encode(), hashlib.sha256).digest()[:16]

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
        try:
            return tuple(
                None if v is None else self.adapters[s.field].validate_python(v)
                for s, v in zip(query.sort, values, strict=True)
            )
        except ValidationError:
            # Signed with this key, but before the field's type changed.
            raise _bad("cursor", "does not fit this list's fields") from None

    def openapi(self) -> dict[str, Any]:
        """What the OpenAPI operation of the list says about its query: the limits, every parameter."""
        return {"description": self.limits.describe(), "parameters": self.openapi_parameters()}

    def openapi_parameters(self) -> list[dict[str, Any]]:
        """Every query parameter this list accepts, for the OpenAPI document."""
        limits = self.limits

        def param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
            return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}

        params = [
            param(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": limits.max_limit, "default": limits.limit},
                "Rows per page.",
            ),
            param(
                "offset",
                {"type": "integer", "minimum": 0, "maximum": limits.max_offset},
                "Rows to skip (or use cursor).",
            ),
            param("cursor", {"type": "string"}, "The next_cursor of the previous page."),
            param(
                "sort",
                {"type": "string"},
                f"Comma-separated, '-' for descending, at most {limits.sort_keys} keys, each once: "
                f"{', '.join(self.sortable)}.",
            ),
            param("fields", {"type": "string"}, f"Comma-separated subset of: {', '.join(self.readable)}."),
            param("count", {"type": "boolean", "default": False}, "Fill total with the number of matching rows."),
        ]
        for parameter, (name, op) in self.parameters.items():
            schema = self.adapters[name].json_schema()
            if op == "isnull":
                schema = {"type": "boolean"}
            elif op in _TEXT_OPERATORS or op == "in":
                schema = {"type": "string"}
            params.append(param(parameter, schema, _DESCRIPTIONS[op].format(name=name, most=limits.in_values)))
        return params


_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_DESCRIPTIONS = {
    "eq": "{name} equals this value.",
    "ne": "{name} differs from this value (NULL never matches).",
    "lt": "{name} is less than this value.",
    "lte": "{name} is at most this value.",
    "gt": "{name} is greater than this value.",
    "gte": "{name} is at least this value.",
    "in": "{name} is one of these comma-separated values (at most {most}).",
    "isnull": "{name} is NULL (true) or not (false).",
    "contains": "{name} contains this text (case-sensitive).",
    "icontains": "{name} contains this text, ignoring case.",
    "startswith": "{name} starts with this text (case-sensitive).",
    "istartswith": "{name} starts with this text, ignoring case.",
    "endswith": "{name} ends with this text (case-sensitive).",
}
