"""``ormgate demo --auth`` (issue 16, item 4) on every pair: a user changes their own account only."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.test_contract import assert_problem
from tests.conftest import Served

ADA = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}
BOB = {"username": "bob", "email": "bob@example.com", "password": "battery staple"}


@pytest.fixture
def users(auth_service: Served) -> Served:
    auth_service.clear("users")
    return auth_service


def signed_up(api: Served, user: dict[str, str]) -> tuple[int, dict[str, str]]:
    created = api.client.post("/users", json=user)
    assert created.status_code == 201, created.text
    response = api.client.post("/token", data={"username": user["username"], "password": user["password"]})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["token_type"] == "bearer"
    return int(created.json()["id"]), {"authorization": f"Bearer {body['access_token']}"}


def username(api: Served, pk: int) -> Any:
    return api.scalar("SELECT username FROM users WHERE id = :id", id=pk)


def test_a_user_changes_their_own_account_only(users: Served) -> None:
    ada, as_ada = signed_up(users, ADA)
    bob, _ = signed_up(users, BOB)
    renamed = users.client.patch(f"/users/{ada}", json={"username": "ada2"}, headers=as_ada)
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["username"] == "ada2"
    # Bob's account is not Ada's to change: as if there were none.
    assert_problem(users.client.patch(f"/users/{bob}", json={"username": "x"}, headers=as_ada), 404)
    replace = {"username": "x", "email": "x@example.com", "password": "long enough"}
    assert_problem(users.client.put(f"/users/{bob}", json=replace, headers=as_ada), 404)
    assert_problem(users.client.delete(f"/users/{bob}", headers=as_ada), 404)
    assert username(users, bob) == "bob"
    assert users.client.delete(f"/users/{ada}", headers=as_ada).status_code == 204
    assert username(users, ada) is None


def test_reads_are_public_and_writes_need_a_token(users: Served) -> None:
    bob, _ = signed_up(users, BOB)
    assert users.client.get("/users").status_code == 200
    assert users.client.get(f"/users/{bob}").status_code == 200
    for headers in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": "Basic Ym9iOmJhdHRlcnk="}):
        body = assert_problem(users.client.patch(f"/users/{bob}", json={"username": "x"}, headers=headers), 401)
        assert body["status"] == 401
        assert_problem(users.client.delete(f"/users/{bob}", headers=headers), 401)
    assert username(users, bob) == "bob"


def test_a_wrong_password_or_user_gets_no_token(users: Served) -> None:
    signed_up(users, ADA)
    for form in ({"username": "ada", "password": "wrong password"}, {"username": "nobody", "password": "whatever"}):
        response = users.client.post("/token", data=form)
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert_problem(users.client.post("/token", data={"username": "ada"}), 422)
