"""A scoped route takes the lean path, and its scope dependency is still FastAPI's in every way (issue 16).

Each test runs on the lean path (installed, and in an included router) and on FastAPI's own
handler (an app's dependency gives it back):
the same answers, the same order of the dependencies' events.

ORM-independent (the route, not the store): run once, on SQLAlchemy over SQLite. The scoping
itself is tested on every pair in tests/conformance/test_scoping.py and test_users_auth.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException
from fastapi.security import OAuth2PasswordBearer
from fastapi.testclient import TestClient

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.resource import LeanRoute
from tests.docs_models import Note, notes

bearer = OAuth2PasswordBearer(tokenUrl="/token")
events: list[str] = []


def rank(x_rank: Annotated[int, Header()]) -> int:
    events.append("rank")
    return x_rank


def session() -> Iterator[str]:
    events.append("open")
    try:
        yield "session"
    except Exception:  # the 404 the resource raises, thrown into the dependency
        events.append("saw the exception")
        raise
    finally:
        events.append("closed")


def scope(
    token: Annotated[str, Depends(bearer)],
    first: Annotated[int, Depends(rank)],
    again: Annotated[int, Depends(rank)],  # cached: rank runs once a request
    held: Annotated[str, Depends(session)],
    tasks: BackgroundTasks,
) -> ormgate.Scope | None:
    assert first == again
    assert held == "session"
    tasks.add_task(events.append, "background")
    if token == "admin":
        return None
    if token != "user":
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return ormgate.Scope({"rank": first})


@pytest.fixture
def db(tmp_path: Path) -> SQLAlchemyAdapter:
    return notes(tmp_path)


def nothing() -> None:
    """An app's dependency: it gives the routes FastAPI's own handler, to compare with."""


@pytest.fixture(params=["lean", "included", "fastapi"])
def client(db: SQLAlchemyAdapter, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(nothing)]) if request.param == "fastapi" else FastAPI()
    app.state.mode = request.param
    ormgate.install_problem_handlers(app)
    resource = ormgate.Resource(Note, db, scope=scope)
    if request.param == "included":
        app.include_router(resource.router)  # lean as well: tested by its answers alone
    else:
        resource.install(app)
    events.clear()
    with TestClient(app) as client:
        yield client


def user(value: int, token: str = "user") -> dict[str, str]:
    return {"authorization": f"Bearer {token}", "x-rank": str(value)}


def test_scoped_routes_are_lean_unless_other_dependencies_join(client: TestClient) -> None:
    app: Any = client.app
    routes = [route for route in app.router.routes if isinstance(route, LeanRoute)]
    if app.state.mode == "included":  # the routes are the included router's, served as it serves them
        assert routes == []
        return
    assert len(routes) == 6
    # Lean: not FastAPI's request_response but the route's own app, which solves the scope alone.
    lean = not app.router.dependencies
    assert all((route.app.__module__ == "ormgate.access") == lean for route in routes)


def test_the_scope_dependency_runs_with_its_sub_dependencies_cache_teardown_and_background(
    client: TestClient,
) -> None:
    created = client.post("/notes", json={"text": "a"}, headers=user(3))
    assert created.status_code == 201, created.text
    assert created.json()["rank"] == 3  # the scope's fixed value
    events.clear()
    got = client.get(f"/notes/{created.json()['id']}", headers=user(3))
    assert got.status_code == 200
    # rank cached (once); the dependency's background task runs as the response is sent,
    # then the (request-scoped) yield dependency is closed, as FastAPI does.
    assert events == ["rank", "open", "background", "closed"]
    assert client.get(f"/notes/{created.json()['id']}", headers=user(4)).status_code == 404
    assert [row["text"] for row in client.get("/notes", headers=user(3)).json()["items"]] == ["a"]
    assert client.get("/notes", headers=user(4)).json()["items"] == []
    assert len(client.get("/notes", headers=user(4, "admin")).json()["items"]) == 1


def test_a_yield_dependency_sees_the_requests_exception(client: TestClient) -> None:
    events.clear()
    missing = client.get("/notes/999", headers=user(3))
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert events == ["rank", "open", "saw the exception", "closed"]


def test_no_token_is_a_401_and_a_bad_header_a_422(client: TestClient) -> None:
    for method, url in [("GET", "/notes"), ("GET", "/notes/1"), ("POST", "/notes"), ("DELETE", "/notes/1")]:
        response = client.request(method, url, json={"text": "x"})
        assert response.status_code == 401, (method, url)
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == "application/problem+json"
        bad = client.request(method, url, json={"text": "x"}, headers=user(3, "nobody"))
        assert bad.status_code == 401, (method, url)
    unranked = client.get("/notes", headers={"authorization": "Bearer user"})
    assert unranked.status_code == 422
    assert "x-rank" in unranked.text


def test_dependency_overrides_are_obeyed(client: TestClient) -> None:
    app: Any = client.app
    app.dependency_overrides[scope] = lambda: ormgate.Scope({"rank": 9})
    try:
        created = client.post("/notes", json={"text": "over"})
        assert created.status_code == 201
        assert created.json()["rank"] == 9
        assert [row["text"] for row in client.get("/notes").json()["items"]] == ["over"]
    finally:
        app.dependency_overrides.clear()


def test_openapi_documents_the_security_scheme_and_the_dependencys_header(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert "OAuth2PasswordBearer" in document["components"]["securitySchemes"]
    for path, method in [("/notes", "get"), ("/notes/{id}", "get"), ("/notes/{id}", "patch")]:
        operation = document["paths"][path][method]
        assert operation["security"] == [{"OAuth2PasswordBearer": []}]
        assert "x-rank" in [parameter["name"] for parameter in operation["parameters"]]


async def ranked(x_rank: Annotated[int, Header()]) -> ormgate.Scope:
    """A plain dependency (``ormgate.solver``'s kind): the lean route solves it by its own plan."""
    return ormgate.Scope({"rank": x_rank})


@pytest.mark.parametrize("mode", ["lean", "fastapi"])
def test_a_plain_dependency_solved_by_the_plan_answers_as_fastapis_handler(db: SQLAlchemyAdapter, mode: str) -> None:
    app = FastAPI(dependencies=[Depends(nothing)]) if mode == "fastapi" else FastAPI()
    ormgate.install_problem_handlers(app)
    ormgate.Resource(Note, db, scope=ranked).install(app)
    routes = [r for r in app.router.routes if isinstance(r, LeanRoute) and r.path == "/notes/{id}"]
    assert all((route.app.__module__ == "ormgate.access") == (mode == "lean") for route in routes)
    with TestClient(app) as client:
        pk = client.post("/notes", json={"text": "a"}, headers={"x-rank": "3"}).json()["id"]
        assert client.get(f"/notes/{pk}", headers={"x-rank": "3"}).json()["text"] == "a"
        assert client.get(f"/notes/{pk}", headers={"x-rank": " 3 "}).status_code == 200
        assert client.get(f"/notes/{pk}", headers={"x-rank": "4"}).status_code == 404
        missing, bad = client.get(f"/notes/{pk}"), client.get(f"/notes/{pk}", headers={"x-rank": "three"})
        assert (missing.status_code, bad.status_code) == (422, 422)
        assert [e["field"] for e in missing.json()["errors"] + bad.json()["errors"]] == ["x-rank", "x-rank"]
        app.dependency_overrides[ranked] = lambda: ormgate.Scope({"rank": 4})
        assert client.get(f"/notes/{pk}", headers={"x-rank": "3"}).status_code == 404  # the override's scope
        app.dependency_overrides.clear()
        assert client.get(f"/notes/{pk}", headers={"x-rank": "3"}).status_code == 200
