"""The OpenAPI document: valid, each operation once, every error a Problem under problem+json.

Run on SQLite (the document does not depend on the database), for the users
service on each ORM and the conformance app; then a client generated from it
by openapi-python-client talks to a real server.
"""

from __future__ import annotations

import importlib
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from openapi_spec_validator import validate
from pydantic import BaseModel

import ormgate
from ormgate.cli import _users_app

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
ORMS = ("sqlalchemy", "django", "peewee")


def users_app(orm: str, tmp_path: Path) -> FastAPI:
    app: FastAPI = _users_app(orm, f"sqlite:///{tmp_path / orm}.sqlite3")
    return app


def contract_app(orm: str, tmp_path: Path) -> FastAPI:
    module = importlib.import_module(f"tests.conformance.models.{orm}")
    app: FastAPI = module.create_app(f"sqlite:///{tmp_path / orm}-contract.sqlite3")
    return app


@pytest.fixture(
    params=[(make, orm) for make in (users_app, contract_app) for orm in ORMS], ids=lambda p: f"{p[0].__name__}-{p[1]}"
)
def spec(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    make, orm = request.param
    with TestClient(make(orm, tmp_path)) as client:
        document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_the_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_each_path_is_documented_once(spec: dict[str, Any]) -> None:
    # OpenAPI 3.1: /users/{id} and /users/{user_id} are the same path, which may appear once.
    templates = [re.sub(r"\{[^}]*\}", "{}", path) for path in spec["paths"]]
    assert len(templates) == len(set(templates)), sorted(spec["paths"])


def test_every_error_is_a_problem_under_problem_json(spec: dict[str, Any]) -> None:
    errors = 0
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status[0] in "45":
                assert response.get("content") == PROBLEM, (path, method, status)
                errors += 1
    assert errors >= 20
    schemas = spec["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["type", "title", "status", "detail"]
    # FastAPI's own 422 model is documented nowhere, so it is not among the schemas.
    assert not {"HTTPValidationError", "ValidationError"} & schemas.keys()


def test_write_routes_document_415_and_reads_do_not(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        assert ("415" in operation["responses"]) == (method in ("post", "put", "patch")), (path, method)


def test_the_headers_and_the_304_are_documented(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        item = path.endswith("}")
        if method == "get" and not item:
            assert set(responses["200"]["headers"]) == {"Link"}, path
        elif method == "get":
            assert set(responses["200"]["headers"]) == {"ETag"}, path
            assert set(responses["304"]["headers"]) == {"ETag"}, path
            assert "content" not in responses["304"]
        elif method == "post":
            assert set(responses["201"]["headers"]) == {"ETag", "Location"}, path
        elif method in ("put", "patch"):
            assert set(responses["200"]["headers"]) == {"ETag"}, path


class Custom(BaseModel):
    reason: str


def test_an_apps_own_error_model_is_left_alone_and_fastapis_422_replaced() -> None:
    app = FastAPI()
    ormgate.install_problem_handlers(app)

    @app.get("/own/{n}", responses={404: {"model": Custom}, 409: {"description": "taken"}})
    def own(n: int) -> int:
        raise HTTPException(404)

    responses = app.openapi()["paths"]["/own/{n}"]["get"]["responses"]
    assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/Custom")
    assert responses["409"]["content"] == PROBLEM  # an HTTPException: the handlers answer it
    assert responses["422"]["content"] == PROBLEM
    assert app.openapi() is app.openapi()  # built and rewritten once
    validate(app.openapi())


# -- a generated client, against a real server ---------------------------------------------------


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """The users service (SQLAlchemy, SQLite) under uvicorn on a free port, in a thread."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    host, port = listener.getsockname()
    served = uvicorn.Server(uvicorn.Config(users_app("sqlalchemy", tmp_path), log_level="warning"))
    thread = threading.Thread(target=served.run, kwargs={"sockets": [listener]})
    thread.start()
    try:
        while not served.started:
            if not thread.is_alive():
                pytest.fail("the server did not start")
            thread.join(0.01)
        yield f"http://{host}:{port}"
    finally:
        served.should_exit = True
        thread.join()
        listener.close()


def generate_client(spec: bytes, where: Path) -> None:
    (where / "openapi.json").write_bytes(spec)
    # No post hooks: the generated code is imported, not formatted.
    (where / "config.yaml").write_text("package_name_override: users_client\npost_hooks: []\n")
    subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate", "--meta", "none", "--fail-on-warning"),
            *("--path", str(where / "openapi.json"), "--config", str(where / "config.yaml")),
            *("--output-path", str(where / "users_client")),
        ],
        check=True,
        capture_output=True,
    )


def test_a_generated_client_parses_404_409_and_422_into_its_problem_model(
    server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import httpx

    generate_client(httpx.get(f"{server}/openapi.json").content, tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in sys.modules if m == "users_client" or m.startswith("users_client.")]:
        monkeypatch.delitem(sys.modules, name)
    client_module = importlib.import_module("users_client")
    models = importlib.import_module("users_client.models")
    get_user = importlib.import_module("users_client.api.user.get_user_users_id_get")
    create_user = importlib.import_module("users_client.api.user.create_user_users_post")
    patch_user = importlib.import_module("users_client.api.user.user_patch_users_id_patch")

    with client_module.Client(base_url=server) as client:
        ada = models.UserCreate(username="ada", email="ada@example.com", password="correct horse")
        created = create_user.sync_detailed(client=client, body=ada).parsed
        assert isinstance(created, models.UserRead)
        assert created.username == "ada"
        grace = models.UserCreate(username="grace", email="grace@example.com", password="correct horse")
        assert isinstance(create_user.sync_detailed(client=client, body=grace).parsed, models.UserRead)

        missing = get_user.sync_detailed(client=client, id=999)
        taken = create_user.sync_detailed(client=client, body=ada)
        invalid = create_user.sync_detailed(
            client=client, body=models.UserCreate(username="eve", email="nope", password="short")
        )
        patch_taken = patch_user.sync_detailed(client=client, id=created.id, body=models.UserUpdate(username="grace"))
        patch_missing = patch_user.sync_detailed(client=client, id=999, body=models.UserUpdate(username="x"))
        patch_invalid = patch_user.sync_detailed(client=client, id=created.id, body=models.UserUpdate(email="nope"))

    for response, status in [
        (missing, 404),
        (taken, 409),
        (invalid, 422),
        (patch_taken, 409),
        (patch_missing, 404),
        (patch_invalid, 422),
    ]:
        assert response.status_code == status
        assert isinstance(response.parsed, models.Problem), (status, response.content)
        assert response.parsed.status == status
        assert response.parsed.detail
    assert sorted(orjson.loads(invalid.content)["errors"][i]["field"] for i in range(2)) == ["email", "password"]
    assert {e.to_dict()["field"] for e in invalid.parsed.errors} == {"email", "password"}
