"""Peewee: a plan's ``PerGroup`` (ormgate.plan), the first rows of each group in one statement.

The matching rows are numbered within their group by ``ROW_NUMBER()`` in a subquery; the page
selects those numbered up to the parameter from it, in the plan's order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import peewee as pw

from ..plan import Order, Plan
from . import _pw_compiled  # a module, not its names: _pw_compiled imports this one

# The subquery's column holding a row's number in its group: no field is named so (an ormgate_ prefix).
ROW = "ormgate_row"


def grouped(
    model: Any, fields: Mapping[str, Any], plan: Plan, where: Sequence[Any], ordered: Callable[[Order, Any], Any]
) -> Any:
    """The page of ``plan`` (which has a ``group``) with a ``Slot`` for each parameter: ``where`` its
    conditions, compiled, and ``ordered(term, column)`` a column ordered as ``term`` says here."""
    group = plan.group
    assert group is not None
    number = pw.fn.ROW_NUMBER().over(
        partition_by=[fields[group.path[-1]]],
        order_by=[ordered(term, fields[term.path[-1]]) for term in group.order],
    )
    inner = model.select(*(fields[name].alias(name) for name in plan.columns), number.alias(ROW))
    if where:
        inner = inner.where(*where)
    rows = inner.alias("ormgate_groups")
    return (
        pw.Select([rows], [getattr(rows.c, name) for name in plan.columns])
        .where(getattr(rows.c, ROW) <= _pw_compiled.Slot(group.param))
        .order_by(*(ordered(term, getattr(rows.c, term.path[-1])) for term in plan.order))
        .limit(_pw_compiled.Slot("limit"))
    )
