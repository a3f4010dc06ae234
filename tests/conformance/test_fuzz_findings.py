"""What a fuzzer (schemathesis) found, each answered the same on every ORM, database and driver.

Integers beyond a column's range, timezone-aware datetimes, datetimes served
without an offset, the Allow header of a 405, bodies that are not UTF-8.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.conformance.test_contract import assert_problem
from tests.conftest import Served

ADA = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}
INT32_MAX = 2**31 - 1
TOO_BIG = "99999999999999999999"  # beyond 64 bits too


@pytest.fixture
def users(users_service: Served) -> Served:
    users_service.clear("users")
    return users_service


@pytest.fixture
def api(contract: Served) -> Served:
    contract.clear("items", "categories")
    return contract


def create_user(users: Served, **fields: Any) -> dict[str, Any]:
    response = users.client.post("/users", json={**ADA, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_invalid(response: Any, field: str, location: str) -> dict[str, Any]:
    """A 422 problem whose errors name ``field`` in ``location``, and only there."""
    body = assert_problem(response, 422)
    assert [(e["field"], e["location"]) for e in body["errors"]] == [(field, location)], body
    return body


# -- integers beyond the column's range: a 422 naming the parameter, never a 500 or a 404 --------


@pytest.mark.parametrize("key", [TOO_BIG, str(INT32_MAX + 1), str(-(2**31) - 1)])
def test_an_id_beyond_the_key_column_is_a_422_on_every_route(users: Served, key: str) -> None:
    user = create_user(users)
    url = f"/users/{key}"
    assert_invalid(users.client.get(url), "id", "path")  # hand-written
    assert_invalid(users.client.put(url, json=ADA), "id", "path")
    assert_invalid(users.client.patch(url, json={"username": "bob"}), "id", "path")
    assert_invalid(users.client.delete(url), "id", "path")
    assert users.client.get(f"/users/{user['id']}").json() == user  # nothing changed


def test_the_largest_id_of_the_column_is_a_404(users: Served) -> None:
    assert_problem(users.client.get(f"/users/{INT32_MAX}"), 404)
    assert_problem(users.client.delete(f"/users/{-(2**31)}"), 404)


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        (f"id__in=1,{TOO_BIG}", "id__in"),
        (f"id={INT32_MAX + 1}", "id"),
        (f"id__gt={-(2**31) - 1}", "id__gt"),
        (f"id__lte={TOO_BIG}", "id__lte"),
        (f"offset={INT32_MAX + 1}", "offset"),
        (f"offset={TOO_BIG}", "offset"),
        (f"limit={TOO_BIG}", "limit"),
    ],
)
def test_a_filter_or_page_value_beyond_range_is_a_422_naming_it(users: Served, query: str, parameter: str) -> None:
    create_user(users)
    assert_invalid(users.client.get(f"/users?{query}"), parameter, "query")


def test_the_largest_offset_is_an_empty_page(users: Served) -> None:
    create_user(users)
    response = users.client.get(f"/users?offset={INT32_MAX}")
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    ("field", "value"),
    [("quantity", INT32_MAX + 1), ("quantity", -(2**31) - 1), ("big", 2**63), ("big", -(2**63) - 1)],
)
def test_a_body_value_beyond_the_column_is_a_422_naming_it(api: Served, field: str, value: int) -> None:
    assert_invalid(api.client.post("/items", json={"name": "x", field: value}), field, "body")
    assert api.scalar("SELECT COUNT(*) FROM items") == 0


def test_the_ends_of_each_integer_column_are_stored(api: Served) -> None:
    for quantity, big in [(INT32_MAX, 2**63 - 1), (-(2**31), -(2**63))]:
        response = api.client.post("/items", json={"name": "x", "quantity": quantity, "big": big})
        assert response.status_code == 201, response.text
        item = api.client.get(f"/items?quantity={quantity}&big={big}").json()["items"]
        assert [(i["quantity"], i["big"]) for i in item] == [(quantity, big)]


def test_openapi_documents_each_integer_range(users: Served) -> None:
    spec = users.client.get("/openapi.json").json()
    int32 = {"minimum": -(2**31), "maximum": INT32_MAX}
    for method in ("get", "put", "patch", "delete"):
        (key,) = [p for p in spec["paths"]["/users/{id}"][method]["parameters"] if p["in"] == "path"]
        assert int32.items() <= key["schema"].items(), (method, key)
    params = {p["name"]: p["schema"] for p in spec["paths"]["/users"]["get"]["parameters"]}
    assert int32.items() <= params["id"].items()
    assert params["offset"]["maximum"] == INT32_MAX


# -- datetimes: aware values compared as UTC; naive columns served as UTC, with "Z" -----------------


def _moment(served: str) -> dt.datetime:
    return dt.datetime.fromisoformat(served)


def test_created_at_is_served_with_an_offset_and_the_same_etag(users: Served) -> None:
    user = create_user(users)
    assert user["created_at"].endswith("Z"), user  # RFC 3339, as the OpenAPI date-time says
    url = f"/users/{user['id']}"
    first, second = users.client.get(url), users.client.get(url)
    assert first.json() == user == users.client.get("/users").json()["items"][0]
    assert first.headers["etag"] == second.headers["etag"]
    assert users.client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    patched = users.client.patch(url, json={"username": "ada2"}, headers={"If-Match": first.headers["etag"]})
    assert patched.status_code == 200, patched.text


def test_aware_datetime_filters_compare_the_instant(users: Served) -> None:
    user = create_user(users)
    created = _moment(user["created_at"])
    assert created.tzinfo is not None

    def found(parameter: str, moment: dt.datetime | str) -> bool:
        value = moment if isinstance(moment, str) else moment.isoformat()
        response = users.client.get("/users", params={parameter: value})
        assert response.status_code == 200, response.text
        return [u["id"] for u in response.json()["items"]] == [user["id"]]

    # A second either side of the instant, in several offsets or naive (taken as UTC): the
    # wall times differ by hours, the instants by a second. (Not the instant itself: SQLite
    # keeps CURRENT_TIMESTAMP as text without fractions, which sorts before the same second
    # written with them.)
    second = dt.timedelta(seconds=1)
    for offset in (None, 0, 2, -5):
        zone = None if offset is None else dt.timezone(dt.timedelta(hours=offset))
        before, after = ((created + d).astimezone(dt.UTC) for d in (-second, second))
        before, after = ((m.replace(tzinfo=None) if zone is None else m.astimezone(zone)) for m in (before, after))
        assert found("created_at__gt", before), before
        assert found("created_at__lt", after), after
        assert not found("created_at__lt", before), before
        assert not found("created_at__gt", after), after
    assert found("created_at__gt", "2000-01-01T00:00:00Z")
    assert found("created_at__gt", "2000-01-01T00:00:00+05:00")
    assert not found("created_at__lt", "2000-01-01T00:00:00Z")


def test_an_aware_datetime_body_is_stored_as_its_utc_time(api: Served) -> None:
    response = api.client.post("/items", json={"name": "x", "seen_at": "2024-03-01T14:30:00+02:00"})
    assert response.status_code == 201, response.text
    assert response.json()["seen_at"] == "2024-03-01T12:30:00Z"
    listed = api.client.get("/items", params={"seen_at": "2024-03-01T12:30:00"}).json()["items"]
    assert [i["seen_at"] for i in listed] == ["2024-03-01T12:30:00Z"]


def test_a_datetime_without_a_utc_time_is_a_422(users: Served) -> None:
    assert_invalid(
        users.client.get("/users", params={"created_at__lt": "9999-12-31T23:00:00-05:00"}), "created_at__lt", "query"
    )


# -- 405: Allow lists every method of the path ------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "methods"),
    [("/users/1", {"GET", "HEAD", "PUT", "PATCH", "DELETE"}), ("/users", {"GET", "HEAD", "POST"})],
)
def test_a_405_allows_every_method_of_the_path(users: Served, path: str, methods: set[str]) -> None:
    for method in ("OPTIONS", "TRACE", "POST" if path != "/users" else "DELETE"):
        response = users.client.request(method, path)
        assert_problem(response, 405)
        assert {m.strip() for m in response.headers["allow"].split(",")} == methods, (method, response.headers)


# -- a body that is not JSON: the same 422 on every write route -------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b'{"username": "\xff\xfe", "email": "a@example.com", "password": "correct horse"}', b"[" * 1000 + b"]" * 1000],
    ids=["invalid-utf-8", "nested-too-deep"],
)
def test_a_body_that_is_not_json_is_the_same_422_on_every_write(users: Served, raw: bytes) -> None:
    user = create_user(users)
    url = f"/users/{user['id']}"
    headers = {"Content-Type": "application/json"}
    answers = [
        users.client.post("/users", content=raw, headers=headers),  # hand-written
        users.client.put(url, content=raw, headers=headers),
        users.client.patch(url, content=raw, headers=headers),
    ]
    errors = [assert_invalid(r, "body", "body")["errors"][0] for r in answers]
    assert {(e["type"], e["message"]) for e in errors} == {(errors[0]["type"], errors[0]["message"])}
    assert errors[0]["type"] == "json_invalid"
    assert users.scalar("SELECT COUNT(*) FROM users") == 1


def test_a_utf16_body_is_refused_on_every_write(users: Served) -> None:
    user = create_user(users)
    raw = '{"username": "bob"}'.encode("utf-16")
    headers = {"Content-Type": "application/json"}
    for response in (
        users.client.post("/users", content=raw, headers=headers),
        users.client.patch(f"/users/{user['id']}", content=raw, headers=headers),
    ):
        assert_invalid(response, "body", "body")


# -- OpenAPI: every status a route answers is documented ---------------------------------------------


def test_openapi_documents_each_status_the_routes_answer(users: Served) -> None:
    spec = users.client.get("/openapi.json").json()
    documented = {
        (path, method.upper()): set(operation["responses"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    }
    assert documented[("/users", "GET")] >= {"200", "400", "422"}
    assert documented[("/users", "POST")] >= {"201", "409", "415", "422"}
    assert documented[("/users/{id}", "GET")] >= {"200", "304", "404", "422"}
    for method in ("PUT", "PATCH"):
        assert documented[("/users/{id}", method)] >= {"200", "404", "409", "412", "415", "422"}
    assert documented[("/users/{id}", "DELETE")] >= {"204", "404", "409", "412", "422"}
