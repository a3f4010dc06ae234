"""What a list request asks for, as frozen ORM-neutral data that adapters compile."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Filter:
    field: str
    op: str  # eq, ne, lt, lte, gt, gte, in, isnull, contains, icontains, startswith, istartswith, endswith
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
    after: tuple[Any, ...] | None = None  # keyset: the sort values of the last row already seen
    count: bool = False
