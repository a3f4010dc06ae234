"""The HTTP contract of DESIGN.md, on every adapter x database pair."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import Served

PROBLEM = "application/problem+json"


@pytest.fixture
def api(contract: Served) -> Served:
    contract.clear("items", "categories")
    return contract


def make_item(api: Served, **fields: Any) -> dict[str, Any]:
    response = api.client.post("/items", json={"name": "widget", **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def make_category(api: Served, name: str = "tools") -> dict[str, Any]:
    response = api.client.post("/categories", json={"name": name})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert {"type", "title", "status", "detail"} <= body.keys()
    return body


def count(api: Served, table: str = "items") -> int:
    return int(api.scalar(f"SELECT COUNT(*) FROM {table}"))


# -- POST ---------------------------------------------------------------------------------------


def test_create_returns_201_location_etag_and_the_stored_row(api: Served) -> None:
    category = make_category(api)
    code = str(uuid.uuid4())
    sent = {
        "name": "widget",
        "description": "a thing",
        "quantity": 3,
        "big": 2**40,
        "price": "12.50",
        "weight": 1.25,
        "active": False,
        "status": "published",
        "released": "2024-02-29",
        "starts_at": "09:30:00",
        "seen_at": "2024-03-01T12:34:56",
        "code": code,
        "category_id": category["id"],
    }
    response = api.client.post("/items", json=sent)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/items/{body['id']}"
    assert response.headers["etag"].startswith('"')
    # A naive datetime column holds UTC and is served so, with "Z" (RFC 3339).
    sent_back = {**sent, "seen_at": sent["seen_at"] + "Z"}
    for key, value in sent_back.items():
        assert body[key] == value, key
    assert isinstance(body["id"], int)
    assert body["created_at"]
    again = api.client.get(response.headers["location"])
    assert again.status_code == 200
    assert again.json() == body
    assert again.headers["etag"] == response.headers["etag"]


def test_a_writes_answer_is_the_row_as_read_etag_included(api: Served) -> None:
    # Values sent in another form than the one stored: an integer for a float, a decimal with
    # fewer places than its column's, a time without seconds, an offset timestamp. The answer to
    # the write is the row as a GET reads it, so its ETag serves as If-Match for the next write.
    sent = {
        "weight": 6,
        "price": "12.5",
        "starts_at": "09:30",
        "seen_at": "2024-03-01T12:34:56+02:00",
        "document": {"zeta": 1, "a": [2.5, "x", None], "mid": {"y": True, "b": 1.0}},
        "duration": "PT90M",
    }
    created = api.client.post("/items", json={"name": "widget", **sent})
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    read = api.client.get(url)
    assert (created.json(), created.headers["etag"]) == (read.json(), read.headers["etag"])
    patched = api.client.patch(url, json={"weight": 7, "price": "1.5"}, headers={"If-Match": read.headers["etag"]})
    assert patched.status_code == 200, patched.text
    read = api.client.get(url)
    assert (patched.json(), patched.headers["etag"]) == (read.json(), read.headers["etag"])
    replaced = api.client.put(url, json={"name": "widget", **sent}, headers={"If-Match": read.headers["etag"]})
    assert replaced.status_code == 200, replaced.text
    read = api.client.get(url)
    assert (replaced.json(), replaced.headers["etag"]) == (read.json(), read.headers["etag"])


def test_create_applies_defaults_for_omitted_fields(api: Served) -> None:
    body = make_item(api)
    assert body["quantity"] == 0
    assert body["active"] is True
    assert body["status"] == "draft"
    assert body["description"] is None
    assert body["category_id"] is None


@pytest.mark.parametrize(
    ("payload", "field", "type_"),
    [
        ({}, "name", "missing"),
        ({"name": "x", "colour": "red"}, "colour", "extra_forbidden"),
        ({"name": "x", "id": 7}, "id", "read_only"),
        ({"name": "x", "created_at": "2024-01-01T00:00:00"}, "created_at", "read_only"),
        ({"name": "x" * 101}, "name", "string_too_long"),
        ({"name": "x", "quantity": "many"}, "quantity", "int_parsing"),
        ({"name": "x", "status": "lost"}, "status", "enum"),
        ({"name": "x", "code": "not-a-uuid"}, "code", "uuid_parsing"),
        ({"name": "x", "released": "2024-02-30"}, "released", "date_from_datetime_parsing"),
        ({"name": None}, "name", "string_type"),
        ({"name": "x", "active": None}, "active", "bool_type"),
    ],
)
def test_create_rejects_bad_input_with_422_naming_the_field(
    api: Served, payload: dict[str, Any], field: str, type_: str
) -> None:
    response = api.client.post("/items", json=payload)
    body = assert_problem(response, 422)
    assert [(e["field"], e["type"]) for e in body["errors"]] == [(field, type_)]
    assert count(api) == 0


def test_create_rejects_a_body_that_is_not_json(api: Served) -> None:
    response = api.client.post("/items", content=b"{not json", headers={"content-type": "application/json"})
    assert_problem(response, 422)
    assert count(api) == 0


def test_duplicate_unique_value_is_409_naming_the_field(api: Served) -> None:
    code = str(uuid.uuid4())
    make_item(api, code=code)
    response = api.client.post("/items", json={"name": "other", "code": code})
    body = assert_problem(response, 409)
    assert body["errors"] == [{"field": "code", "message": "a row with this value already exists"}]
    assert count(api) == 1


def test_missing_foreign_key_target_is_409(api: Served) -> None:
    response = api.client.post("/items", json={"name": "orphan", "category_id": 999_999})
    body = assert_problem(response, 409)
    assert body["type"] == "urn:ormgate:foreign-key-violation"
    assert count(api) == 0


# -- GET ----------------------------------------------------------------------------------------


def test_get_missing_row_is_404_problem(api: Served) -> None:
    body = assert_problem(api.client.get("/items/999999"), 404)
    assert "999999" in body["detail"]


def test_a_key_of_zero_names_no_row(api: Served) -> None:
    """0 is a key no row has (MySQL's Django backend refuses to write it): found nowhere, never a 500."""
    assert_problem(api.client.get("/items/0"), 404)
    for url in ("/items?category_id=0", "/items?id=0", "/items?category_id__gte=0&id__lt=0"):
        response = api.client.get(url)
        assert response.status_code == 200, (url, response.text)
        assert response.json()["items"] == []


def test_get_with_a_malformed_id_is_422(api: Served) -> None:
    body = assert_problem(api.client.get("/items/abc"), 422)
    assert body["errors"][0]["field"] == "id"


def test_if_none_match_gives_304_until_the_row_changes(api: Served) -> None:
    item = make_item(api)
    first = api.client.get(f"/items/{item['id']}")
    tag = first.headers["etag"]
    cached = api.client.get(f"/items/{item['id']}", headers={"If-None-Match": tag})
    assert cached.status_code == 304
    assert cached.content == b""
    assert cached.headers["etag"] == tag
    assert api.client.get(f"/items/{item['id']}", headers={"If-None-Match": f"W/{tag}"}).status_code == 304
    api.client.patch(f"/items/{item['id']}", json={"quantity": 5})
    fresh = api.client.get(f"/items/{item['id']}", headers={"If-None-Match": tag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != tag
    assert fresh.json()["quantity"] == 5


# -- PUT ----------------------------------------------------------------------------------------


def test_put_replaces_the_whole_row(api: Served) -> None:
    item = make_item(api, description="old", quantity=9, status="archived")
    response = api.client.put(f"/items/{item['id']}", json={"name": "renamed"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "renamed"
    assert body["description"] is None  # omitted nullable field: reset to null
    assert body["quantity"] == 0  # omitted field with a default: reset to it
    assert body["status"] == "draft"
    assert body["created_at"] == item["created_at"]  # generated: kept
    assert api.client.get(f"/items/{item['id']}").json() == body


def test_put_keeps_read_only_excluded_and_server_default_fields(api: Served) -> None:
    # /reviewed serves the items with status and category_id read-only and description excluded.
    category = make_category(api)
    kept = {"status": "published", "category_id": category["id"], "description": "kept", "enabled": False}
    item = make_item(api, quantity=9, weight=1.5, **kept)
    url = f"/reviewed/{item['id']}"
    response = api.client.put(url, json={"name": "renamed"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "description" not in body
    # Writable fields are reset; enabled's default is the database's, which a PUT cannot draw again.
    expected = {**item, "name": "renamed", "quantity": 0, "weight": None}
    assert body == {k: v for k, v in expected.items() if k != "description"}
    assert api.client.get(f"/items/{item['id']}").json() == expected
    refused = assert_problem(api.client.put(url, json={"name": "x", "status": "draft"}), 422)
    assert [(e["field"], e["type"]) for e in refused["errors"]] == [("status", "read_only")]


def test_a_column_with_a_server_default_is_optional_and_writable(api: Served) -> None:
    assert make_item(api)["enabled"] is True
    item = make_item(api, enabled=False)
    assert item["enabled"] is False
    url = f"/items/{item['id']}"
    patched = api.client.patch(url, json={"enabled": True})
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is True
    assert api.client.get(url).json()["enabled"] is True
    assert api.client.put(url, json={"name": "w", "enabled": False}).json()["enabled"] is False
    schema = api.client.get("/openapi.json").json()["components"]["schemas"]["ItemCreate"]
    assert "enabled" in schema["properties"]
    assert "enabled" not in schema["required"]


def test_put_needs_the_required_fields(api: Served) -> None:
    item = make_item(api)
    assert_problem(api.client.put(f"/items/{item['id']}", json={"quantity": 1}), 422)
    assert api.client.get(f"/items/{item['id']}").json() == item


def test_put_on_a_missing_row_is_404(api: Served) -> None:
    assert_problem(api.client.put("/items/999999", json={"name": "x"}), 404)
    assert count(api) == 0


# -- PATCH --------------------------------------------------------------------------------------


def test_patch_changes_only_the_sent_fields(api: Served) -> None:
    item = make_item(api, description="keep me", quantity=2)
    response = api.client.patch(f"/items/{item['id']}", json={"quantity": 7, "price": "3.10"})
    assert response.status_code == 200, response.text
    assert response.json() == {**item, "quantity": 7, "price": "3.10"}


def test_patch_accepts_null_only_for_nullable_fields(api: Served) -> None:
    item = make_item(api, description="text")
    assert api.client.patch(f"/items/{item['id']}", json={"description": None}).json()["description"] is None
    body = assert_problem(api.client.patch(f"/items/{item['id']}", json={"quantity": None}), 422)
    assert body["errors"][0]["field"] == "quantity"
    assert api.client.get(f"/items/{item['id']}").json()["quantity"] == 0


def test_patch_rejects_read_only_and_unknown_fields(api: Served) -> None:
    item = make_item(api)
    body = assert_problem(api.client.patch(f"/items/{item['id']}", json={"id": 5, "colour": "red"}), 422)
    assert {(e["field"], e["message"]) for e in body["errors"]} == {
        ("id", "field is read-only"),
        ("colour", "unknown field"),
    }


def test_patch_conflict_is_409_and_changes_nothing(api: Served) -> None:
    code = str(uuid.uuid4())
    make_item(api, code=code)
    other = make_item(api, name="other")
    body = assert_problem(api.client.patch(f"/items/{other['id']}", json={"code": code, "quantity": 4}), 409)
    assert body["errors"][0]["field"] == "code"
    assert api.client.get(f"/items/{other['id']}").json() == other


def test_patch_on_a_missing_row_is_404(api: Served) -> None:
    assert_problem(api.client.patch("/items/999999", json={"quantity": 1}), 404)
    assert_problem(api.client.patch("/items/999999", json={}), 404)


def test_if_match_guards_writes(api: Served) -> None:
    item = make_item(api)
    url = f"/items/{item['id']}"
    tag = api.client.get(url).headers["etag"]
    stale = '"0000"'
    assert_problem(api.client.patch(url, json={"quantity": 1}, headers={"If-Match": stale}), 412)
    assert_problem(api.client.put(url, json={"name": "x"}, headers={"If-Match": stale}), 412)
    assert_problem(api.client.delete(url, headers={"If-Match": stale}), 412)
    assert api.client.get(url).json() == item
    updated = api.client.patch(url, json={"quantity": 1}, headers={"If-Match": tag})
    assert updated.status_code == 200
    assert updated.headers["etag"] != tag
    # The old tag is now stale too.
    assert_problem(api.client.patch(url, json={"quantity": 2}, headers={"If-Match": tag}), 412)
    assert api.client.patch(url, json={"quantity": 3}, headers={"If-Match": "*"}).json()["quantity"] == 3
    assert_problem(api.client.patch("/items/999999", json={"quantity": 1}, headers={"If-Match": "*"}), 404)


# -- DELETE -------------------------------------------------------------------------------------


def test_delete_is_204_then_404(api: Served) -> None:
    item = make_item(api)
    response = api.client.delete(f"/items/{item['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert_problem(api.client.get(f"/items/{item['id']}"), 404)
    assert_problem(api.client.delete(f"/items/{item['id']}"), 404)


STILL_REFERENCED = {
    "type": "urn:ormgate:foreign-key-violation",
    "title": "Conflict",
    "status": 409,
    "detail": "the row is still referenced by other rows",
}


def test_delete_of_a_referenced_row_is_409_and_keeps_it(api: Served) -> None:
    category = make_category(api)
    make_item(api, category_id=category["id"])
    url = f"/categories/{category['id']}"
    # The same body on every database, with or without the locked read If-Match takes.
    assert assert_problem(api.client.delete(url), 409) == STILL_REFERENCED
    assert assert_problem(api.client.delete(url, headers={"If-Match": "*"}), 409) == STILL_REFERENCED
    assert count(api, "categories") == 1


def test_delete_with_matching_if_match(api: Served) -> None:
    item = make_item(api)
    tag = api.client.get(f"/items/{item['id']}").headers["etag"]
    assert api.client.delete(f"/items/{item['id']}", headers={"If-Match": tag}).status_code == 204
    assert count(api) == 0


# -- LIST ---------------------------------------------------------------------------------------


def test_list_is_in_primary_key_order_with_an_envelope(api: Served) -> None:
    made = [make_item(api, name=f"n{i}") for i in range(3)]
    response = api.client.get("/items")
    assert response.status_code == 200
    body = response.json()
    assert body == {"items": made, "next_cursor": None, "total": None}
    assert "link" not in response.headers


def test_list_pages_with_limit_offset_and_a_next_link(api: Served) -> None:
    made = [make_item(api, name=f"n{i}") for i in range(5)]
    first = api.client.get("/items?limit=2")
    assert [r["id"] for r in first.json()["items"]] == [m["id"] for m in made[:2]]
    link = first.headers["link"]
    assert link.endswith('rel="next"')
    next_url = link[link.index("<") + 1 : link.index(">")]
    second = api.client.get(next_url)
    assert [r["id"] for r in second.json()["items"]] == [m["id"] for m in made[2:4]]
    last = api.client.get("/items?limit=2&offset=4")
    assert [r["id"] for r in last.json()["items"]] == [made[4]["id"]]
    assert "link" not in last.headers


def test_list_uses_the_default_limit_and_enforces_the_maximum(api: Served) -> None:
    for i in range(21):
        make_item(api, name=f"n{i}")
    assert len(api.client.get("/items").json()["items"]) == 20
    assert_problem(api.client.get("/items?limit=101"), 422)
    assert_problem(api.client.get("/items?limit=0"), 422)
    assert_problem(api.client.get("/items?offset=-1"), 422)


def test_list_rejects_an_undeclared_parameter_with_400(api: Served) -> None:
    body = assert_problem(api.client.get("/items?colour=red"), 400)
    assert "colour" in body["detail"]
    assert "limit" in body["detail"]


# -- everything else ----------------------------------------------------------------------------


def test_unexpected_database_error_is_a_500_problem_without_internals(api: Served) -> None:
    response = api.client.get("/ghosts")
    body = assert_problem(response, 500)
    assert body["detail"] == "An unexpected error occurred."
    text = response.text.lower()
    assert "select" not in text
    assert "ghosts" not in text
    assert "traceback" not in text


def test_unknown_route_and_method_are_problems(api: Served) -> None:
    assert_problem(api.client.get("/nothing-here"), 404)
    assert_problem(api.client.post("/items/1", json={}), 405)


def test_openapi_documents_models_and_errors(api: Served) -> None:
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert {"ItemRead", "ItemCreate", "ItemUpdate", "ItemList", "Problem"} <= schemas.keys()
    assert "id" not in schemas["ItemCreate"]["properties"]
    assert "created_at" not in schemas["ItemUpdate"]["properties"]
    assert schemas["ItemCreate"]["required"] == ["name"]
    assert schemas["ItemCreate"]["properties"]["name"]["maxLength"] == 100
    item = spec["paths"]["/items/{id}"]
    assert set(item) == {"get", "put", "patch", "delete"}
    assert {"200", "404", "409", "412", "415", "422"} <= item["patch"]["responses"].keys()
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert all(item["patch"]["responses"][s]["content"] == problem for s in ("404", "409", "412", "415", "422"))
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("ItemRead")
    assert {"201", "409", "422"} <= spec["paths"]["/items"]["post"]["responses"].keys()
