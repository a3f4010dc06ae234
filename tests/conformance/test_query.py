"""The query language of DESIGN.md on every adapter x database pair."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conformance import seed
from tests.conformance.test_contract import assert_problem
from tests.conftest import Served

Row = dict[str, Any]

# Row values as Python objects, to compare and sort them the way the database does.
PARSE: dict[str, Callable[[Any], Any]] = {
    "price": Decimal,
    "released": dt.date.fromisoformat,
    "starts_at": dt.time.fromisoformat,
    # A naive column is served as UTC ("Z"): compared here as the naive values it holds.
    "seen_at": lambda served: dt.datetime.fromisoformat(served).replace(tzinfo=None),
    "code": uuid.UUID,
}


def typed(row: Row) -> Row:
    return {k: (PARSE[k](v) if k in PARSE and v is not None else v) for k, v in row.items()}


def walk(api: Served, params: dict[str, Any]) -> list[Row]:
    """Every row of a list, following next_cursor; checks the Link header agrees."""
    found: list[Row] = []
    url = "/items?" + urlencode(params)
    for _ in range(1000):
        response = api.client.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["items"]
        if body["next_cursor"] is None:
            assert "link" not in response.headers
            return found
        link = response.headers["link"]
        url = link[link.index("<") + 1 : link.index(">")]
        assert f"cursor={body['next_cursor']}" in url
    raise AssertionError("the cursor walk did not end")


def expected_order(api: Served, rows: list[Row], sort: str) -> list[int]:
    """Ids in the order ``sort`` gives: NULL smallest, the primary key last, in the last key's direction."""
    keys = [k for k in sort.split(",") if k]
    ordered = sorted(rows, key=lambda r: r["id"], reverse=bool(keys) and keys[-1].startswith("-"))
    for key in reversed(keys):
        name = key.removeprefix("-")

        def value(row: Row, name: str = name) -> Any:
            v = typed(row)[name]
            # Strings by code point, as every database orders them (MariaDB: see test_equality).
            return (v is not None, v)

        ordered.sort(key=value, reverse=key.startswith("-"))
    return [r["id"] for r in ordered]


@pytest.fixture
def data(contract: Served) -> list[Row]:
    return seed.dataset(contract)


def ids(api: Served, **params: Any) -> list[int]:
    """The ids of every matching row, in order, walking the cursor."""
    return [r["id"] for r in walk(api, {"limit": 100, **params})]


# -- filters ------------------------------------------------------------------------------------

MATCH: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda x, v: x == v,
    "ne": lambda x, v: x is not None and x != v,
    "lt": lambda x, v: x is not None and x < v,
    "lte": lambda x, v: x is not None and x <= v,
    "gt": lambda x, v: x is not None and x > v,
    "gte": lambda x, v: x is not None and x >= v,
    "in": lambda x, v: x in v,
    "isnull": lambda x, v: (x is None) == v,
    "contains": lambda x, v: x is not None and v in x,
    "icontains": lambda x, v: x is not None and v.lower() in x.lower(),
    "startswith": lambda x, v: x is not None and x.startswith(v),
    "istartswith": lambda x, v: x is not None and x.lower().startswith(v.lower()),
    "endswith": lambda x, v: x is not None and x.endswith(v),
}

CASES: list[tuple[str, str, Any]] = [
    ("name", "eq", "Ada"),
    ("name", "ne", "ada"),
    ("name", "in", ("ada", "zed")),
    ("name", "contains", "d"),
    ("name", "contains", "%"),
    ("name", "contains", "_"),
    ("name", "icontains", "ADA"),
    ("name", "icontains", "Ä"),
    ("name", "startswith", "A"),
    ("name", "istartswith", "a"),
    ("name", "endswith", "er"),
    ("description", "isnull", True),
    ("description", "isnull", False),
    ("description", "icontains", "ÉMI"),
    ("description", "contains", "é"),
    ("description", "eq", "Straße"),
    ("quantity", "eq", 3),
    ("quantity", "ne", 3),
    ("quantity", "lt", 0),
    ("quantity", "lte", 0),
    ("quantity", "gt", 10),
    ("quantity", "gte", 10),
    ("quantity", "in", (1, 2, 3)),
    ("big", "gt", 0),
    ("big", "isnull", True),
    ("price", "gte", Decimal("25.00")),
    ("price", "lt", Decimal("10.5")),
    ("weight", "lte", 2.5),
    ("weight", "isnull", False),
    ("active", "eq", True),
    ("active", "ne", True),
    ("status", "eq", "published"),
    ("status", "in", ("draft", "archived")),
    ("status", "ne", "draft"),
    ("released", "gte", dt.date(2020, 2, 1)),
    ("released", "lt", dt.date(2020, 1, 15)),
    ("starts_at", "gte", dt.time(12, 0)),
    ("seen_at", "lt", dt.datetime(2024, 1, 2, 12, 0)),
    ("seen_at", "gte", dt.datetime(2024, 1, 3)),
    ("code", "isnull", True),
]


def as_param(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(as_param(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)


@pytest.mark.parametrize(("field", "op", "value"), CASES, ids=[f"{f}__{o}={v}" for f, o, v in CASES])
def test_every_operator_on_every_type(contract: Served, data: list[Row], field: str, op: str, value: Any) -> None:
    parameter = field if op == "eq" else f"{field}__{op}"
    found = ids(contract, **{parameter: as_param(value), "limit": 100})
    expected = [r["id"] for r in data if MATCH[op](typed(r)[field], value)]
    assert found == expected
    assert expected, "the case selects nothing: it proves nothing"


def test_uuid_equality(contract: Served, data: list[Row]) -> None:
    target = next(r for r in data if r["code"] is not None)
    assert ids(contract, code=target["code"]) == [target["id"]]
    assert ids(contract, code=target["code"].upper()) == [target["id"]]


def test_combined_filters_are_anded(contract: Served, data: list[Row]) -> None:
    found = ids(contract, quantity__gte=5, active="true", name__icontains="a")
    expected = [r["id"] for r in data if r["quantity"] >= 5 and r["active"] and "a" in r["name"].lower()]
    assert found == expected
    assert expected


def test_case_insensitive_matching_is_the_same_on_every_database(contract: Served, data: list[Row]) -> None:
    def names(**params: Any) -> set[str]:
        found = set(ids(contract, **params))
        return {r["name"] for r in data if r["id"] in found}

    assert names(name__icontains="ärg") == {"Ärger", "ärger"}
    assert names(name__contains="a", name__startswith="a") == {"ada", "a_b", "ab"}  # not "Ada", "ADA", "ärger"
    assert names(name="ada") == {"ada"}
    assert names(name__istartswith="GRACE") == {"grace", "Grace Hopper"}


# -- sorting, fields, counts --------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["-quantity", "price", "-price", "name,-id", "active,-released", "-weight,seen_at"])
def test_sort_on_several_keys_with_nulls(contract: Served, data: list[Row], sort: str) -> None:
    assert [r["id"] for r in walk(contract, {"sort": sort, "limit": 100})] == expected_order(contract, data, sort)


def test_fields_selects_only_those_fields(contract: Served, data: list[Row]) -> None:
    response = contract.client.get("/items?fields=id,name&sort=-price&limit=3")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [set(item) for item in items] == [{"id", "name"}] * 3
    assert [item["id"] for item in items] == expected_order(contract, data, "-price")[:3]
    following = contract.client.get("/items?fields=name&sort=-price&limit=3&cursor=" + response.json()["next_cursor"])
    assert [set(item) for item in following.json()["items"]] == [{"name"}] * 3


def test_count_fills_total_under_the_same_filters(contract: Served, data: list[Row]) -> None:
    body = contract.client.get("/items?count=true&quantity__gte=10&limit=5").json()
    assert body["total"] == sum(1 for r in data if r["quantity"] >= 10)
    assert len(body["items"]) == 5
    assert contract.client.get("/items?quantity__gte=10").json()["total"] is None


# -- keyset pagination --------------------------------------------------------------------------


@pytest.mark.parametrize("sort", ["id", "-id", "-price,name", "released,-weight", "-active,-starts_at,quantity"])
def test_cursor_walk_of_1000_rows_returns_each_row_once_in_order(contract: Served, data: list[Row], sort: str) -> None:
    walked = walk(contract, {"sort": sort, "limit": 100})
    found = [r["id"] for r in walked]
    assert len(data) == seed.SIZE
    assert len(found) == len(set(found)) == seed.SIZE
    assert found == expected_order(contract, data, sort)
    assert walked == sorted(data, key=lambda r: found.index(r["id"]))


def test_cursor_is_bound_to_its_sort_and_filters(contract: Served, data: list[Row]) -> None:
    cursor = contract.client.get("/items?sort=-quantity&quantity__gt=0&limit=5").json()["next_cursor"]
    assert cursor
    ok = contract.client.get(f"/items?sort=-quantity&quantity__gt=0&limit=5&cursor={cursor}")
    assert ok.status_code == 200
    # Well formed but not issued by this list with this sort and these filters: no such page, a 404.
    for other in ["sort=quantity&quantity__gt=0", "sort=-quantity&quantity__gt=1", "sort=-quantity"]:
        body = assert_problem(contract.client.get(f"/items?{other}&limit=5&cursor={cursor}"), 404)
        assert body["errors"][0]["field"] == "cursor"
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert_problem(contract.client.get(f"/items?sort=-quantity&quantity__gt=0&cursor={tampered}"), 404)
    assert_problem(contract.client.get("/items?cursor=not-a-cursor"), 404)
    # Not base64url at all: a malformed parameter, a 400.
    for malformed in ["not%20a%20cursor", "abc%3D", "abc%0A"]:
        body = assert_problem(contract.client.get(f"/items?cursor={malformed}"), 400)
        assert body["errors"][0]["field"] == "cursor"


def test_an_offset_with_a_cursor_skips_rows_after_it(contract: Served, data: list[Row]) -> None:
    first = contract.client.get("/items?sort=-quantity&quantity__gt=0&limit=5").json()
    rest = contract.client.get(f"/items?sort=-quantity&quantity__gt=0&limit=100&cursor={first['next_cursor']}")
    assert rest.status_code == 200, rest.text
    after = rest.json()["items"]
    url = f"/items?sort=-quantity&quantity__gt=0&limit=100&cursor={first['next_cursor']}&offset=3"
    skipped = contract.client.get(url)
    assert skipped.status_code == 200, skipped.text
    assert len(after) > 3
    assert skipped.json()["items"][: len(after) - 3] == after[3:]


def test_offset_pages_follow_the_sort(contract: Served, data: list[Row]) -> None:
    order = expected_order(contract, data, "-weight")
    page = contract.client.get("/items?sort=-weight&limit=10&offset=20").json()["items"]
    assert [r["id"] for r in page] == order[20:30]


# -- bad queries --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("colour=red", "colour"),
        ("name__gt=a", "name__gt"),
        ("quantity__icontains=1", "quantity__icontains"),
        ("active__lt=true", "active__lt"),
        ("name__regex=.*", "name__regex"),
        ("sort=colour", "sort"),
        ("sort=", "sort"),
        ("fields=id,colour", "fields"),
        ("created_at__gt=2020-01-01&created_at__gt=2021-01-01", "created_at__gt"),
    ],
)
def test_unknown_fields_operators_and_parameters_are_400(contract: Served, query: str, parameter: str) -> None:
    body = assert_problem(contract.client.get(f"/items?{query}"), 400)
    assert body["errors"][0]["field"] == parameter
    assert parameter in body["detail"]


def test_a_400_lists_what_is_allowed(contract: Served) -> None:
    body = assert_problem(contract.client.get("/items?name__gt=a"), 400)
    assert body["errors"][0]["allowed"] == sorted(
        ["eq", "ne", "in", "contains", "icontains", "startswith", "istartswith", "endswith"]
    )
    body = assert_problem(contract.client.get("/items?colour=red"), 400)
    assert {"limit", "cursor", "sort", "quantity__gte", "name__icontains"} <= set(body["errors"][0]["allowed"])


@pytest.mark.parametrize(
    "query",
    [
        "quantity=many",
        "quantity__in=1,x",
        "price__gte=cheap",
        "released=2024-02-30",
        "seen_at__lt=yesterday",
        "code=not-a-uuid",
        "status=lost",
        "active=maybe",
        "description__isnull=perhaps",
        "limit=0",
        "limit=101",
        "limit=ten",
        "offset=-1",
        "count=perhaps",
    ],
)
def test_bad_values_are_422_naming_the_parameter(contract: Served, query: str) -> None:
    body = assert_problem(contract.client.get(f"/items?{query}"), 422)
    assert body["type"] == "urn:ormgate:validation-error"
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(query.split("=")[0], "query")]


INJECTIONS = [
    "'",
    "';--",
    "; DROP TABLE items; --",
    "%",
    "_",
    "%%",
    "\\",
    "ä' OR '1'='1",
    "\u202e\u0000x",
    "x" * 2000,  # near the 2048-byte cap on the query string (test_limits.py)
]
FILTERS = ["name", "name__contains", "name__icontains", "name__istartswith", "name__endswith", "name__in", "code"]
OTHERS = ["quantity__gte", "released__lt", "sort", "fields", "cursor", "limit", "offset", "count", "colour"]


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
@pytest.mark.parametrize("parameter", FILTERS + OTHERS)
def test_injection_attempts_never_reach_sql(contract: Served, data: list[Row], parameter: str, value: str) -> None:
    response = contract.client.get("/items?" + urlencode({parameter: value}))
    assert response.status_code in (200, 400, 404, 422), response.text
    if response.status_code == 404:
        # Base64url, but no cursor this list issued.
        assert parameter == "cursor"
    elif response.status_code == 200:
        # Only a text filter can take these values; it matches them literally.
        assert parameter in FILTERS
        field, _, op = parameter.partition("__")
        expected = [r["id"] for r in data if MATCH[op or "eq"](r[field], (value,) if op == "in" else value)]
        assert [r["id"] for r in walk(contract, {parameter: value})] == expected
    elif "\x00" not in value and len(value) <= 100:  # longer than the name column: a 422
        assert parameter in OTHERS or parameter == "code"
    assert seed.dataset(contract) is data  # nothing was written
