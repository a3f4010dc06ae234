"""A list's query parameters as its OpenAPI operation documents them, each exactly as it is parsed.

What the document calls valid, ``QueryParser.parse()`` accepts, and what it calls invalid, parse()
refuses (tests/fuzz runs schemathesis against both directions). The document also bounds the
whole query string: ``longest_query()`` is the longest one it admits, which ``Limits`` uses when
its ``query_length`` is ``None``. ``QueryParser`` describes itself through ``ParameterDocument``.
"""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter

from .model import FieldInfo, ModelInfo
from .query_cursor import CURSOR_PATTERN
from .schemas import NO_NUL

if TYPE_CHECKING:
    from .query import Limits

# The operators whose value is matched as text, and the parameters every list takes besides its
# filters: each documented here, and read by the parser from here.
_TEXT_OPERATORS = ("contains", "icontains", "startswith", "istartswith", "endswith")
RESERVED = ("limit", "offset", "cursor", "sort", "fields", "count")


class ParameterDocument:
    """The OpenAPI half of ``QueryParser``: its parameters' schemas, descriptions and lengths."""

    info: ModelInfo
    readable: tuple[str, ...]
    sortable: tuple[str, ...]
    fields_by_name: dict[str, FieldInfo]
    parameters: dict[str, tuple[str, str]]
    adapters: dict[str, TypeAdapter[Any]]
    limits: Limits
    max_filters: int
    max_query: int
    _schemas: dict[str, dict[str, Any]]

    def openapi(self) -> dict[str, Any]:
        """What the OpenAPI operation of the list says about its query: the limits, every parameter."""
        description = self.limits.describe(self.max_filters, self.max_query)
        return {"description": description, "parameters": self.openapi_parameters()}

    # -- the document: each parameter exactly as parse() reads it ------------------------------
    #
    # Names are joined by commas into a pattern; a value list (``in``) is an array written
    # comma-separated (form, not exploded).

    def _is_text(self, name: str) -> bool:
        field = self.fields_by_name[name]
        return field.python_type is str and field.choices is None

    def _names_pattern(self, names: Sequence[str], most: int, sign: bool) -> str:
        one = ("-?" if sign else "") + "(" + "|".join(names) + ")"
        return f"^{one}(,{one}){{0,{most - 1}}}$"

    def _value_schema(self, name: str) -> dict[str, Any]:
        # Made once per field, not once per operator: a schema costs a millisecond, which
        # `ormgate serve` over hundreds of tables would pay thousands of times at start-up.
        made: dict[str, dict[str, Any]] = self.__dict__.setdefault("_made_value_schemas", {})
        if name not in made:
            made[name] = self.adapters[name].json_schema()
        schema = copy.deepcopy(made[name])
        field = self.fields_by_name[name]
        if self._is_text(name):
            schema = {**schema, "pattern": NO_NUL}
            if field.max_length is not None:
                schema["maxLength"] = field.max_length
        return schema

    def _parameter_schemas(self) -> dict[str, dict[str, Any]]:
        limits = self.limits
        key_schema = {"type": "string", "pattern": CURSOR_PATTERN}
        cursor = self._cursor_length()
        schemas: dict[str, dict[str, Any]] = {
            "limit": {"type": "integer", "minimum": 1, "maximum": limits.max_limit, "default": limits.limit},
            "offset": {"type": "integer", "minimum": 0, "maximum": limits.max_offset},
            "cursor": key_schema if cursor is None else {**key_schema, "maxLength": cursor},
            "sort": {"type": "string", "pattern": self._names_pattern(self.sortable, limits.sort_keys, True)},
            "fields": {"type": "string", "pattern": self._names_pattern(self.readable, len(self.readable), False)},
            "count": {"type": "boolean", "default": False},
        }
        if not self.sortable:
            del schemas["sort"]
        for parameter, (name, op) in self.parameters.items():
            field = self.fields_by_name[name]
            if op == "isnull":
                schema: dict[str, Any] = {"type": "boolean"}
            elif op in _TEXT_OPERATORS:
                schema = {"type": "string", "pattern": NO_NUL}
                if field.max_length is not None:
                    schema["maxLength"] = field.max_length
            elif op == "in" and self._is_text(name):
                # Text with commas between the values: a value cannot hold one.
                most = limits.in_values - 1
                value = "[^,\\x00]*"
                schema = {
                    "type": "string",
                    "maxLength": limits.in_length,
                    "pattern": f"^{value}(,{value}){{0,{most}}}$",
                }
            elif op == "in":
                item = self._value_schema(name)
                schema = {"type": "array", "items": item, "minItems": 1, "maxItems": limits.in_values}
            else:
                schema = self._value_schema(name)
            schemas[parameter] = schema
        return schemas

    def openapi_parameters(self) -> list[dict[str, Any]]:
        """Every query parameter this list accepts, for the OpenAPI document."""
        limits = self.limits
        descriptions = {
            "limit": "Rows per page.",
            "offset": "Rows to skip (or use cursor).",
            "cursor": "The next_cursor of the previous page; one this list did not issue (with this sort and "
            "these filters) is a 404.",
            "sort": f"Comma-separated, '-' for descending, at most {limits.sort_keys} keys: "
            f"{', '.join(self.sortable)}. A key on a field already sorted by is ignored.",
            "fields": f"Comma-separated subset of: {', '.join(self.readable)}.",
            "count": "Fill total with the number of matching rows.",
        }
        params = []
        for parameter, schema in self._schemas.items():
            if parameter in descriptions:
                description = descriptions[parameter]
            else:
                name, op = self.parameters[parameter]
                description = _DESCRIPTIONS[op].format(name=name, most=limits.in_values)
            param = {"name": parameter, "in": "query", "required": False, "schema": schema, "description": description}
            if schema.get("type") == "array":
                param |= {"style": "form", "explode": False}
            params.append(param)
        return params

    # -- the longest query string the document admits, percent-encoded ----------------------------

    def _json_length(self, name: str) -> int | None:
        """The most bytes one sort value of ``name`` takes in a cursor's JSON, or None when unbounded."""
        field = self.fields_by_name[name]
        if field.choices is not None:
            return max(2 + 6 * len(str(getattr(c, "value", c))) for c in field.choices)
        if field.python_type is str:
            # A character is at most 6 bytes in JSON (a control character as \u00XX).
            return None if field.max_length is None else 2 + 6 * field.max_length
        if field.int_range is not None and issubclass(field.python_type, int):
            return max(len(str(end)) for end in field.int_range)
        return _JSON_LENGTHS.get(field.python_type)

    def _cursor_length(self) -> int | None:
        """The longest cursor this list issues, or None when a sortable field is unbounded."""
        lengths = [self._json_length(name) for name in self.sortable]
        pk = self._json_length(self.info.pk.name)
        if pk is None or any(length is None for length in lengths):
            return None
        keys = sorted((length for length in lengths if length is not None), reverse=True)[: self.limits.sort_keys]
        payload = 2 + sum(keys) + pk + len(keys)  # [a,b,...,pk]
        token = payload + 1 + 24  # "." and 16 bytes of signature in base64
        return -(-token * 4 // 3)

    def _encoded_length(self, schema: dict[str, Any]) -> int | None:
        """The most bytes a value of ``schema`` takes percent-encoded in a query string, or None."""
        kind = schema.get("type")
        if kind == "array":
            item = self._encoded_length(schema["items"])
            return None if item is None else schema["maxItems"] * (item + 3)  # %2C between values
        if kind == "boolean":
            return 5
        if kind == "integer":
            return max(len(str(schema[end])) for end in ("minimum", "maximum")) if "maximum" in schema else None
        if "enum" in schema:
            return max(12 * len(str(v)) for v in schema["enum"])
        if schema.get("pattern") == CURSOR_PATTERN:
            return int(schema["maxLength"])
        if "maxLength" in schema:
            # Four bytes of UTF-8 a character at most, each written %XX.
            return 12 * int(schema["maxLength"])
        return _ENCODED_LENGTHS.get(schema.get("format", ""))

    def longest_query(self) -> int | None:
        """The longest query string, in bytes as sent, that the document calls valid; None if unbounded."""
        costs: dict[str, int] = {}
        # Names joined by commas (%2C), each with its "-" for sort.
        names = {
            "sort": self.limits.sort_keys * (1 + max(map(len, self.sortable), default=0) + 3),
            "fields": sum(len(name) + 3 for name in self.readable),
        }
        for parameter, schema in self._schemas.items():
            value = names[parameter] if parameter in names else self._encoded_length(schema)
            if value is None:
                return None
            costs[parameter] = len(parameter) + 2 + value  # name=value&
        filters = sorted((costs[p] for p in self.parameters), reverse=True)[: self.max_filters]
        return sum(costs[p] for p in RESERVED if p in costs) + sum(filters)


# The most bytes a value of these types takes as JSON in a cursor, and percent-encoded by its format.
_JSON_LENGTHS: dict[type[Any], int] = {bool: 5, dt.datetime: 40, dt.date: 12, dt.time: 26, uuid.UUID: 38, float: 25}
_ENCODED_LENGTHS = {"date-time": 3 * 40, "date": 10, "time": 3 * 26, "uuid": 36}
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
