"""Random filters and sorts on the seeded rows: the API returns what Python computes from them."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conformance import seed
from tests.conformance.test_query import MATCH, Row, as_param, expected_order, typed, walk
from tests.conftest import Served

TEXT = st.text(alphabet="aAdDäÄéÉ%_' rg", max_size=3)

# field -> (operators, strategy for a value); values also come from the rows themselves.
FIELDS: dict[str, tuple[tuple[str, ...], st.SearchStrategy[Any]]] = {
    "name": (("eq", "ne", "contains", "icontains", "startswith", "istartswith", "endswith"), TEXT),
    "description": (("eq", "contains", "icontains", "isnull"), TEXT),
    "quantity": (("eq", "ne", "lt", "lte", "gt", "gte"), st.integers(-6, 21)),
    "price": (("lt", "gte", "isnull"), st.decimals(0, 51, places=2).map(Decimal)),
    "weight": (("eq", "gt", "lte", "isnull"), st.integers(-9, 41).map(lambda n: n / 4)),
    "active": (("eq", "ne"), st.booleans()),
    "status": (("eq", "ne"), st.sampled_from(["draft", "published", "archived"])),
    "released": (("lt", "gte", "isnull"), st.dates(dt.date(2019, 12, 25), dt.date(2020, 3, 5))),
    "seen_at": (("gt", "lte"), st.datetimes(dt.datetime(2023, 12, 31), dt.datetime(2024, 1, 5))),
}
SORTABLE = ["quantity", "price", "weight", "active", "status", "released", "starts_at", "seen_at", "name"]


@st.composite
def queries(draw: st.DrawFn) -> tuple[list[tuple[str, str, Any]], str]:
    filters = []
    for field in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=3, unique=True)):
        ops, values = FIELDS[field]
        op = draw(st.sampled_from(ops))
        value = draw(st.booleans()) if op == "isnull" else draw(values)
        filters.append((field, op, value))
    keys = draw(st.lists(st.sampled_from(SORTABLE), min_size=0, max_size=3, unique=True))
    sort = ",".join(("-" if draw(st.booleans()) else "") + key for key in keys)
    return filters, sort


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=queries(), limit=st.integers(25, 100))
def test_random_filters_and_sorts_match_python(contract: Served, query: Any, limit: int) -> None:
    data: list[Row] = seed.dataset(contract)
    filters, sort = query
    params: dict[str, Any] = {"limit": limit}
    if sort:
        params["sort"] = sort
    for field, op, value in filters:
        params[field if op == "eq" else f"{field}__{op}"] = as_param(value)
    matching = [r for r in data if all(MATCH[op](typed(r)[f], v) for f, op, v in filters)]
    found = [r["id"] for r in walk(contract, params)]
    assert found == expected_order(contract, matching, sort)
