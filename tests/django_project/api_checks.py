"""A Django project's own models (auth's User and Group) served by ormgate, over HTTP.

Run by tests/unit/test_django_project.py in a process of its own, with
DJANGO_SETTINGS_MODULE set: Django's settings are process-wide, and the
conformance suite configures Django standalone in the main test process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate
from ormgate.adapters.django import DjangoAdapter, setup

ADA = {"username": "ada", "password": "correct horse", "email": "ada@example.com"}


def hash_password(values: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth.hashers import make_password

    if "password" in values:
        values["password"] = make_password(values["password"])
    return values


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    setup()  # DJANGO_SETTINGS_MODULE is set: the project's settings, untouched
    from django.contrib.auth.models import Group, User

    call_command("migrate", verbosity=0)  # the schema as the project's migrations make it
    connections.close_all()
    db = DjangoAdapter()  # the project's "default" database
    users = ormgate.derive(db.describe(User), write_only=["password"], read_only=["last_login"], on_write=hash_password)
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    ormgate.Resource(User, db, schemas=users, path="/users").install(app)
    ormgate.Resource(Group, db, path="/groups").install(app)
    with TestClient(app) as client:
        yield client
    db.close()


@pytest.fixture
def api(client: TestClient) -> TestClient:
    from django.contrib.auth.models import Group, User

    User.objects.all().delete()
    Group.objects.all().delete()
    connections.close_all()
    return client


def test_create_stores_a_django_password_hash_and_never_returns_it(api: TestClient) -> None:
    from django.contrib.auth.models import User

    response = api.post("/users", json=ADA)
    assert response.status_code == 201, response.text
    body = response.json()
    assert "password" not in body
    assert body["username"] == "ada"
    assert body["is_active"] is True  # the model's defaults apply
    assert body["first_name"] == ""  # blank=True: optional, saved as ""
    assert body["date_joined"]  # default=timezone.now
    assert User.objects.get(pk=body["id"]).check_password("correct horse")
    connections.close_all()


def test_duplicate_username_is_409_naming_the_field(api: TestClient) -> None:
    assert api.post("/users", json=ADA).status_code == 201
    response = api.post("/users", json={**ADA, "email": "other@example.com"})
    assert response.status_code == 409, response.text
    assert response.json()["errors"] == [{"field": "username", "message": "a row with this value already exists"}]


def test_list_filter_get_and_patch(api: TestClient) -> None:
    ada = api.post("/users", json=ADA).json()
    api.post("/users", json={**ADA, "username": "grace", "email": "grace@example.com"})
    assert [u["username"] for u in api.get("/users?sort=-username").json()["items"]] == ["grace", "ada"]
    assert [u["id"] for u in api.get("/users?username__istartswith=AD").json()["items"]] == [ada["id"]]
    assert api.get(f"/users/{ada['id']}").json() == ada
    patched = api.patch(f"/users/{ada['id']}", json={"first_name": "Ada", "is_staff": True})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**ada, "first_name": "Ada", "is_staff": True}


def test_delete_follows_on_delete_like_django_code(api: TestClient) -> None:
    from django.contrib.auth.models import Group, User

    ada = api.post("/users", json=ADA).json()
    staff = api.post("/groups", json={"name": "staff"}).json()
    User.objects.get(pk=ada["id"]).groups.add(staff["id"])
    connections.close_all()
    # The membership rows go with the user (CASCADE), as User.delete() would do.
    assert api.delete(f"/users/{ada['id']}").status_code == 204
    assert api.get(f"/users/{ada['id']}").status_code == 404
    assert User.objects.filter(groups=staff["id"]).count() == 0
    assert Group.objects.filter(pk=staff["id"]).exists()
    connections.close_all()


def test_groups_resource(api: TestClient) -> None:
    staff = api.post("/groups", json={"name": "staff"})
    assert staff.status_code == 201, staff.text
    assert staff.json() == {"id": staff.json()["id"], "name": "staff"}
    assert api.post("/groups", json={"name": "staff"}).status_code == 409
    assert api.get("/groups").json()["items"] == [staff.json()]


def test_openapi_describes_the_project_models(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert set(schemas["UserCreate"]["required"]) == {"username", "password"}
    assert schemas["UserCreate"]["properties"]["username"]["maxLength"] == 150
    assert "password" not in schemas["UserRead"]["properties"]
    assert "last_login" not in schemas["UserCreate"]["properties"]
