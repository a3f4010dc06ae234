"""The users service of ormgate/demo, the same behaviour on every ORM and database."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from tests.conformance.test_contract import assert_problem
from tests.conftest import Served

ADA = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}


@pytest.fixture
def users(users_service: Served) -> Served:
    users_service.clear("users")
    return users_service


def create(users: Served, **fields: Any) -> Any:
    return users.client.post("/users", json={**ADA, **fields})


def test_create_returns_the_user_without_password_or_hash(users: Served) -> None:
    response = create(users)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "username", "email", "created_at"}
    assert response.headers["location"] == f"/users/{body['id']}"
    assert "correct horse" not in response.text
    assert "argon2" not in response.text


def test_password_is_stored_only_as_an_argon2_hash(users: Served) -> None:
    user = create(users).json()
    stored = users.scalar("SELECT password_hash FROM users WHERE id = :id", id=user["id"])
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored


def test_password_never_comes_back_from_any_route(users: Served) -> None:
    user = create(users).json()
    url = f"/users/{user['id']}"
    responses = [
        users.client.get(url),
        users.client.get("/users"),
        users.client.patch(url, json={"password": "another secret"}),
        users.client.put(url, json={"username": "ada", "email": "ada@example.com", "password": "third secret"}),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert "password" not in response.text
        assert "argon2" not in response.text


def test_changing_the_password_stores_a_new_hash(users: Served) -> None:
    user = create(users).json()
    before = users.scalar("SELECT password_hash FROM users WHERE id = :id", id=user["id"])
    assert users.client.patch(f"/users/{user['id']}", json={"password": "a new secret"}).status_code == 200
    after = users.scalar("SELECT password_hash FROM users WHERE id = :id", id=user["id"])
    assert after != before
    assert after.startswith("$argon2id$")


def test_get_returns_the_user_and_404_for_a_missing_one(users: Served) -> None:
    user = create(users).json()
    response = users.client.get(f"/users/{user['id']}")
    assert response.status_code == 200
    assert response.json() == user
    assert response.headers["etag"]
    assert (
        users.client.get(f"/users/{user['id']}", headers={"If-None-Match": response.headers["etag"]}).status_code == 304
    )
    assert_problem(users.client.get("/users/999999"), 404)


@pytest.mark.parametrize("field", ["username", "email"])
def test_duplicate_username_or_email_is_409(users: Served, field: str) -> None:
    create(users)
    other = {"username": "grace", "email": "grace@example.com"}
    body = assert_problem(create(users, **{**other, field: ADA[field]}), 409)
    assert body["errors"][0]["field"] == field
    assert users.scalar("SELECT COUNT(*) FROM users") == 1


def test_patch_to_a_taken_username_is_409_and_changes_nothing(users: Served) -> None:
    create(users)
    grace = create(users, username="grace", email="grace@example.com").json()
    assert_problem(users.client.patch(f"/users/{grace['id']}", json={"username": "ada"}), 409)
    assert users.client.get(f"/users/{grace['id']}").json() == grace


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"password": "short"}, "password"),
        ({"email": "not-an-email"}, "email"),
        ({"username": None}, "username"),
        ({"id": 5}, "id"),
        ({"created_at": "2020-01-01T00:00:00"}, "created_at"),
        ({"password_hash": "x"}, "password_hash"),
    ],
)
def test_invalid_input_is_422_and_creates_nothing(users: Served, fields: dict[str, Any], bad: str) -> None:
    body = assert_problem(create(users, **fields), 422)
    assert [e["field"] for e in body["errors"]] == [bad]
    assert users.scalar("SELECT COUNT(*) FROM users") == 0


def test_concurrent_duplicate_creates_give_exactly_one_201(users: Served) -> None:
    statuses: list[int] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        statuses.append(create(users).status_code)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(statuses) == {201: 1, 409: 7}
    assert users.scalar("SELECT COUNT(*) FROM users") == 1


def test_list_and_delete(users: Served) -> None:
    ada = create(users).json()
    grace = create(users, username="grace", email="grace@example.com").json()
    assert users.client.get("/users").json()["items"] == [ada, grace]
    assert users.client.delete(f"/users/{ada['id']}").status_code == 204
    assert users.client.get("/users").json()["items"] == [grace]


def test_openapi_shows_password_only_as_input(users: Served) -> None:
    schemas = users.client.get("/openapi.json").json()["components"]["schemas"]
    assert "password" in schemas["UserCreate"]["properties"]
    assert schemas["UserCreate"]["properties"]["password"]["minLength"] == 8
    assert "password" not in schemas["UserRead"]["properties"]
    assert not any("password_hash" in s.get("properties", {}) for s in schemas.values())
    assert schemas["UserCreate"]["properties"]["email"]["format"] == "email"


def test_docs_work_offline(users: Served) -> None:
    page = users.client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    script = page.text.split('src="')[1].split('"')[0]
    asset = users.client.get(script)
    assert asset.status_code == 200
    assert len(asset.content) > 100_000
