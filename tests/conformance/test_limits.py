"""What one list request may ask for is bounded (issue 10, items 1, 14 and 17), on every pair.

The conformance resources keep the default limits but for ``limit`` (20, at most 100):
4 sort keys, 20 filters, 500 values per ``in``, a 2048-byte query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic_core import to_json

from tests.conformance import seed
from tests.conformance.test_contract import assert_problem
from tests.conformance.test_query import expected_order, walk
from tests.conftest import Served

Row = dict[str, Any]

# Twenty-one filters the items resource accepts.
FILTERS = [
    ("quantity__gte", "-100"),
    ("quantity__lte", "100"),
    ("quantity__gt", "-101"),
    ("quantity__lt", "101"),
    ("quantity__ne", "1000"),
    ("id__gte", "0"),
    ("id__gt", "-1"),
    ("id__lte", "1000000000"),
    ("id__lt", "1000000001"),
    ("id__ne", "0"),
    ("big__ne", "7"),
    ("name__ne", "nobody"),
    ("status__in", "draft,published,archived"),
    ("created_at__gt", "2000-01-01T00:00:00"),
    ("created_at__lt", "2999-01-01T00:00:00"),
    ("price__ne", "0.01"),
    ("weight__ne", "0.125"),
    ("released__ne", "1999-01-01"),
    ("starts_at__ne", "00:00:01"),
    ("seen_at__ne", "1999-01-01T00:00:00"),
    ("code__ne", "00000000-0000-4000-8000-000000000000"),
]


@pytest.fixture
def data(contract: Served) -> list[Row]:
    return seed.dataset(contract)


def error(body: dict[str, Any]) -> dict[str, Any]:
    assert body["type"] == "urn:ormgate:bad-query"
    assert len(body["errors"]) == 1
    first: dict[str, Any] = body["errors"][0]
    assert first["field"] in body["detail"]
    return first


# -- sort keys ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sort", "same_as"),
    [("name,name", "name"), ("name,-name", "name"), ("-price,quantity,price", "-price,quantity"), ("id,-id", "id")],
)
def test_a_repeated_sort_key_orders_nothing_more(contract: Served, data: list[Row], sort: str, same_as: str) -> None:
    # As in SQL's ORDER BY: ties on a field are already broken by its first key. Counted against the cap.
    assert [r["id"] for r in walk(contract, {"sort": sort, "limit": 7})] == expected_order(contract, data, same_as)


def test_400_sort_keys_are_refused_at_once(contract: Served) -> None:
    # The URL of the report: its keyset condition held 80,000 comparisons.
    first = error(assert_problem(contract.client.get("/items?sort=" + ",".join(["name"] * 400)), 400))
    assert first["field"] == "sort"
    distinct = ",".join(["quantity", "price", "-weight", "active", "status"])
    first = error(assert_problem(contract.client.get(f"/items?sort={distinct}"), 400))
    assert first == {"field": "sort", "message": "at most 4 sort keys", "maximum": 4}


def test_the_cap_on_sort_keys_is_accepted_and_its_cursor_walks(contract: Served, data: list[Row]) -> None:
    sort = "-active,status,-released,name"
    assert [r["id"] for r in walk(contract, {"sort": sort, "limit": 100})] == expected_order(contract, data, sort)
    # The primary key given as a fourth key is one of the four.
    sort = "status,-weight,name,id"
    assert [r["id"] for r in walk(contract, {"sort": sort, "limit": 100})] == expected_order(contract, data, sort)


# -- filters, in values, the query string --------------------------------------------------------


def test_the_number_of_filters_is_capped(contract: Served, data: list[Row]) -> None:
    response = contract.client.get("/items?" + urlencode([*FILTERS[:20], ("limit", "100")]))
    assert response.status_code == 200, response.text
    first = error(assert_problem(contract.client.get("/items?" + urlencode(FILTERS)), 400))
    assert first == {"field": FILTERS[20][0], "message": "at most 20 filters", "maximum": 20}


def test_the_number_of_in_values_is_capped(contract: Served, data: list[Row]) -> None:
    values = [str(v) for v in range(-5, 495)]
    response = contract.client.get("/items?count=true&quantity__in=" + ",".join(values))
    assert response.status_code == 200, response.text
    assert response.json()["total"] == len(data)
    body = assert_problem(contract.client.get("/items?quantity__in=" + ",".join([*values, "495"])), 400)
    assert error(body) == {"field": "quantity__in", "message": "at most 500 values", "maximum": 500}


def test_the_query_string_length_is_capped(contract: Served, data: list[Row]) -> None:
    at_cap = "description__contains=" + "x" * (2048 - len("description__contains="))
    response = contract.client.get(f"/items?{at_cap}")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    first = error(assert_problem(contract.client.get(f"/items?{at_cap}x"), 400))
    assert first == {"field": "query_string", "message": "2049 bytes, at most 2048", "maximum": 2048}
    # Measured as sent, percent-encoding included, before anything is parsed.
    encoded = "description__contains=" + "%C3%A4" * 337 + "xxxxx"
    assert len(encoded) == 2049
    assert error(assert_problem(contract.client.get(f"/items?{encoded}"), 400))["field"] == "query_string"


def test_each_limit_is_in_the_openapi_description_of_the_list(contract: Served) -> None:
    operation = contract.client.get("/openapi.json").json()["paths"]["/items"]["get"]
    description = operation["description"]
    for text in ["4 sort keys", "20 filters", "500 values", "2048 bytes", "100 rows"]:
        assert text in description
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert "at most 4" in parameters["sort"]["description"]
    assert "at most 500" in parameters["quantity__in"]["description"]
    assert parameters["limit"]["schema"]["maximum"] == 100


# -- cursors ----------------------------------------------------------------------------------------


def sign(key: bytes, values: list[Any], sort: list[tuple[str, bool]]) -> str:
    """A cursor as ormgate signed it before issue 10, with ``key``."""
    payload = to_json(values)
    scope = repr((sort, []))
    signature = hmac.new(key, payload + scope.encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(payload + b"." + base64.urlsafe_b64encode(signature)).decode().rstrip("=")


def test_a_cursor_signed_with_the_table_name_is_refused(contract: Served, data: list[Row]) -> None:
    # Sortable but not filterable would make this a range scan nobody allowed.
    forged = sign(b"items", [5, 0], [("quantity", False), ("id", False)])
    body = assert_problem(contract.client.get(f"/items?sort=quantity&cursor={forged}"), 404)
    assert body["errors"][0]["field"] == "cursor"
    genuine = contract.client.get("/items?sort=quantity&limit=5").json()["next_cursor"]
    assert contract.client.get(f"/items?sort=quantity&cursor={genuine}").status_code == 200


def test_a_cursor_of_another_resource_is_refused(contract: Served, data: list[Row]) -> None:
    cursor = contract.client.get("/items?sort=id&limit=1").json()["next_cursor"]
    assert contract.client.get(f"/items?sort=id&cursor={cursor}").status_code == 200
    body = assert_problem(contract.client.get(f"/categories?sort=id&cursor={cursor}"), 404)
    assert body["errors"][0]["field"] == "cursor"


# -- bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("active=maybe", "active"), ("limit=0", "limit"), ("released__lt=2024-02-30", "released__lt")],
)
def test_a_bad_query_value_is_a_validation_error_located_in_the_query(
    contract: Served, query: str, parameter: str
) -> None:
    body = assert_problem(contract.client.get(f"/items?{query}"), 422)
    assert body["type"] == "urn:ormgate:validation-error"
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(parameter, "query")]
    assert body["errors"][0]["type"]
    assert body["detail"].startswith(f"{parameter}: ")
