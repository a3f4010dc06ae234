"""SQLAlchemy: a plan's ``PerGroup`` (ormgate.plan), the first rows of each group in one statement.

The matching rows are numbered within their group by ``ROW_NUMBER()`` in a subquery; the page
selects those numbered up to the parameter from it, in the plan's order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..plan import Order, Plan

# The subquery's column holding a row's number in its group: no field is named so (an ormgate_ prefix).
ROW = "ormgate_row"


def grouped(
    columns: Mapping[str, Any], plan: Plan, where: Sequence[Any], ordered: Callable[[Any, Order], Any]
) -> sa.Select[Any]:
    """The page of ``plan`` (which has a ``group``): ``where`` its conditions, compiled, and
    ``ordered(column, term)`` a column ordered as ``term`` says on the database at hand."""
    group = plan.group
    assert group is not None
    number = sa.func.row_number().over(
        partition_by=columns[group.path[-1]],
        order_by=[ordered(columns[term.path[-1]], term) for term in group.order],
    )
    inner = (
        sa.select(*(columns[name].label(name) for name in plan.columns), number.label(ROW))
        .where(*where)
        .subquery("ormgate_groups")
    )
    return (
        sa.select(*(inner.c[name] for name in plan.columns))
        .where(inner.c[ROW] <= sa.bindparam(group.param, type_=sa.Integer()))
        .order_by(*(ordered(inner.c[term.path[-1]], term) for term in plan.order))
        .limit(sa.bindparam("limit", type_=sa.Integer()))
    )
