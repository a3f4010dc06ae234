"""Django: a plan's ``PerGroup`` (ormgate.plan), the first rows of each group in one statement.

The rows are numbered within their group by a ``Window(RowNumber())``; filtering on it (Django 4.2+)
makes Django read them from a subquery, keeping those numbered up to the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from django.db.models import F, Model, QuerySet, Window
from django.db.models.functions import RowNumber

from ..plan import Order, PerGroup

M = TypeVar("M", bound=Model)

# The alias of a row's number in its group: no field is named so (an ormgate_ prefix).
ROW = "ormgate_row"


def grouped(
    rows: QuerySet[M], group: PerGroup, values: Mapping[str, Any], ordered: Callable[[Order], Any]
) -> QuerySet[M]:
    """The first of ``rows`` in each group, as ``group`` says; ``ordered(term)`` orders as ``term`` says."""
    number = Window(
        RowNumber(), partition_by=[F("__".join(group.path))], order_by=[ordered(term) for term in group.order]
    )
    return rows.alias(**{ROW: number}).filter(**{f"{ROW}__lte": values[group.param]})
