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
  order, last in descending order. The last ``Sort`` is always the primary key.
- ``after`` (keyset pagination) holds the sort values of the last row already
  returned; the next page is the rows strictly after it in the sort order
  above, NULLs included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
