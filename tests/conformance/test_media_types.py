"""Write routes take JSON media types only: a cross-site form post is refused with 415 and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.test_contract import api, assert_problem, count, make_category, make_item
from tests.conftest import Served

__all__ = ["api"]  # the fixture, shared with test_contract

# What a browser sends cross-site without a CORS preflight, and a request with no media type at all.
REFUSED = [
    pytest.param({"content-type": "text/plain"}, id="text-plain"),
    pytest.param({"content-type": "text/plain; charset=utf-8"}, id="text-plain-charset"),
    pytest.param({"content-type": "application/x-www-form-urlencoded"}, id="form-urlencoded"),
    pytest.param({"content-type": "multipart/form-data; boundary=x"}, id="multipart"),
    pytest.param({"content-type": "application/jsonp"}, id="jsonp"),
    pytest.param({}, id="none"),
]
ACCEPTED = [
    pytest.param("application/json; charset=utf-8", id="charset"),
    pytest.param("application/merge-patch+json", id="plus-json"),
    pytest.param("Application/JSON", id="upper-case"),
]


def send(api: Served, method: str, url: str, body: bytes, headers: dict[str, str]) -> Any:
    return api.client.request(method, url, content=body, headers=headers)


@pytest.mark.parametrize("headers", REFUSED)
@pytest.mark.parametrize("path", ["/items", "/categories"])  # installed, and included as a router
def test_post_without_a_json_media_type_is_415_and_creates_nothing(
    api: Served, path: str, headers: dict[str, str]
) -> None:
    body = assert_problem(send(api, "POST", path, b'{"name": "sneaky"}', headers), 415)
    assert "json" in body["detail"]
    assert count(api, path.strip("/")) == 0


@pytest.mark.parametrize("headers", REFUSED)
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_put_and_patch_without_a_json_media_type_are_415_and_change_nothing(
    api: Served, method: str, headers: dict[str, str]
) -> None:
    item = make_item(api, name="before")
    assert_problem(send(api, method, f"/items/{item['id']}", b'{"name": "after"}', headers), 415)
    assert api.client.get(f"/items/{item['id']}").json() == item
    category = make_category(api, "before")
    assert_problem(send(api, method, f"/categories/{category['id']}", b'{"name": "after"}', headers), 415)
    assert api.client.get(f"/categories/{category['id']}").json() == category


@pytest.mark.parametrize("content_type", ACCEPTED)
def test_json_media_types_with_parameters_or_a_json_suffix_are_accepted(api: Served, content_type: str) -> None:
    headers = {"content-type": content_type}
    created = send(api, "POST", "/items", b'{"name": "first"}', headers)
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    replaced = send(api, "PUT", url, b'{"name": "second"}', headers)
    assert replaced.status_code == 200, replaced.text
    patched = send(api, "PATCH", url, b'{"quantity": 7}', headers)
    assert patched.status_code == 200, patched.text
    assert (patched.json()["name"], patched.json()["quantity"]) == ("second", 7)


def test_an_empty_body_is_a_422_whatever_its_media_type(api: Served) -> None:
    # As FastAPI's handler: with nothing sent, the media type says nothing; the body is missing.
    for headers in ({"content-type": "text/plain"}, {}):
        body = assert_problem(send(api, "POST", "/items", b"", headers), 422)
        assert [(e["field"], e["type"]) for e in body["errors"]] == [("body", "missing")]
    assert count(api) == 0


@pytest.fixture
def users(users_service: Served) -> Served:
    users_service.clear("users")
    return users_service


@pytest.mark.parametrize("headers", REFUSED)
def test_the_users_service_refuses_form_posts_on_every_write_route(users: Served, headers: dict[str, str]) -> None:
    ada = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}
    form = b"username=eve&email=eve%40example.com&password=correct+horse"
    assert_problem(send(users, "POST", "/users", form, headers), 415)  # hand-written
    assert count(users, "users") == 0
    created = users.client.post("/users", json=ada)
    assert created.status_code == 201, created.text
    url = created.headers["location"]
    for method in ("PUT", "PATCH"):  # generated
        assert_problem(send(users, method, url, form, headers), 415)
    assert users.client.get(url).json() == created.json()
