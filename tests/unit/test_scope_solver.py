"""ormgate's own solver of a simple scope dependency answers as FastAPI's solver does (issue 16).

Every case runs on two apps over the same kind of database: one whose scoped routes are
lean (``ormgate.solver``'s plan, where the dependency is simple enough), and one where an
app-wide dependency gives every route FastAPI's own handler. Both must give the same
answers (status, body, problem headers); a spy on ``solve_dependencies`` tells which
solver ran on the lean app. ORM-independent (the route, not the store): SQLAlchemy over
SQLite; the scoping itself is tested on every pair in tests/conformance/test_scoping.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

import pytest
from fastapi import Cookie, Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.dependencies.utils import solve_dependencies
from fastapi.testclient import TestClient
from pydantic import BaseModel, TypeAdapter
from typing_extensions import TypedDict

import ormgate
from ormgate import access
from ormgate.solver import _reads_attributes
from tests.docs_models import Note, notes

calls: list[str] = []


async def rank(x_rank: Annotated[int, Header()]) -> int:
    calls.append("rank")
    return x_rank


async def tenant(x_tenant: Annotated[int, Header()]) -> ormgate.Scope:
    calls.append("tenant")
    return ormgate.Scope({"rank": x_tenant})


async def token(authorization: Annotated[str | None, Header()] = None) -> str:
    if authorization != "Bearer user":
        raise HTTPException(401, "unknown token", headers={"WWW-Authenticate": "Bearer"})
    return "user"


async def authorized(
    who: Annotated[str, Depends(token)],
    first: Annotated[int, Depends(rank)],
    again: Annotated[int, Depends(rank)],  # cached: rank runs once a request
    request: Request,
    flavour: Annotated[str, Query()] = "plain",
    session: Annotated[str | None, Cookie()] = None,
) -> ormgate.Scope:
    assert first == again
    assert who == "user"
    calls.append(f"authorized {request.method} {flavour} {session}")
    return ormgate.Scope({"rank": first})


def blocking(x_tenant: Annotated[int, Header()]) -> ormgate.Scope:
    """A plain def: FastAPI runs it in a worker thread, never on the event loop."""
    try:
        asyncio.get_running_loop()
        calls.append("on the loop")
    except RuntimeError:
        calls.append("in a thread")
    return ormgate.Scope({"rank": x_tenant})


async def held(x_tenant: Annotated[int, Header()]) -> Any:
    calls.append("open")
    try:
        yield x_tenant
    finally:
        calls.append("closed")


async def yielding(value: Annotated[int, Depends(held)]) -> ormgate.Scope:
    return ormgate.Scope({"rank": value})


def nothing() -> None:
    """An app's dependency: it gives every route FastAPI's own handler."""


class Spy:
    """Counts the runs of FastAPI's ``solve_dependencies`` by the lean routes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.runs = 0

        async def counted(**options: Any) -> Any:
            self.runs += 1
            return await solve_dependencies(**options)

        monkeypatch.setattr("ormgate.access.solve_dependencies", counted)


Apps = Callable[[Callable[..., Any]], tuple[TestClient, TestClient]]


@pytest.fixture(params=["installed", "included"])
def apps(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Apps]:
    """A lean app and FastAPI's, each scoped by the given dependency, each with rows of ranks 1 and 2.

    The lean app's routes are installed, or in an included router (served as FastAPI serves those).
    """
    clients: list[TestClient] = []

    def make(dependency: Callable[..., Any]) -> tuple[TestClient, TestClient]:
        made = []
        for mode in ("lean", "fastapi"):
            folder = tmp_path / f"{mode}{len(clients)}"
            folder.mkdir()
            app = FastAPI(dependencies=[Depends(nothing)]) if mode == "fastapi" else FastAPI()
            ormgate.install_problem_handlers(app)
            resource = ormgate.Resource(Note, notes(folder), scope=dependency)
            if mode == "lean" and request.param == "included":
                app.include_router(resource.router)
            else:
                resource.install(app)
            client = TestClient(app)
            client.__enter__()
            clients.append(client)
            app.dependency_overrides[dependency] = lambda: ormgate.Scope({"rank": 1})  # the seed's own scope
            assert client.post("/notes", json={"text": "one", "rank": 1}).status_code == 201
            app.dependency_overrides[dependency] = lambda: ormgate.Scope({"rank": 2})
            assert client.post("/notes", json={"text": "two", "rank": 2}).status_code == 201
            app.dependency_overrides.clear()
            made.append(client)
        calls.clear()
        return made[0], made[1]

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def same(lean: TestClient, fastapi: TestClient, method: str, url: str, **options: Any) -> Any:
    """Sends the request to both apps and returns the lean answer, once sure FastAPI's is the same."""
    ours, theirs = lean.request(method, url, **options), fastapi.request(method, url, **options)
    assert (ours.status_code, ours.json()) == (theirs.status_code, theirs.json()), (method, url, options)
    for header in ("content-type", "www-authenticate"):
        assert ours.headers.get(header) == theirs.headers.get(header), header
    return ours


def test_a_valid_header_is_solved_by_ormgates_plan(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    lean, fastapi = apps(tenant)
    spy = Spy(monkeypatch)
    got = same(lean, fastapi, "GET", "/notes", headers={"x-tenant": "2"})
    assert [row["text"] for row in got.json()["items"]] == ["two"]
    assert same(lean, fastapi, "GET", "/notes/1", headers={"x-tenant": "1"}).json()["text"] == "one"
    assert same(lean, fastapi, "GET", "/notes/1", headers={"x-tenant": "2"}).status_code == 404
    created = same(lean, fastapi, "POST", "/notes", json={"text": "three"}, headers={"x-tenant": "2"})
    assert created.json()["rank"] == 2
    # Read from the raw headers as Starlette's Headers.get reads them: the first of the name, any case;
    # validated as FastAPI's field validates it (whitespace, an int's other spellings).
    for sent in ([("X-Tenant", "2"), ("x-tenant", "1")], [("x-tenant", " 1 ")], [("x-tenant", "0002")]):
        assert same(lean, fastapi, "GET", "/notes", headers=sent).status_code == 200
    # A DELETE (no body: the route's app runs the plan's branch itself), out of scope and in it.
    assert same(lean, fastapi, "DELETE", "/notes/1", headers={"x-tenant": "2"}).status_code == 404
    for client in (lean, fastapi):
        assert client.delete("/notes/1", headers={"x-tenant": "1"}).status_code == 204
        assert client.get("/notes/1", headers={"x-tenant": "1"}).status_code == 404
    assert spy.runs == 0  # the plan ran, not FastAPI's solver
    assert calls.count("tenant") == 20  # once a request, on each app


def test_a_missing_or_wrong_header_is_fastapis_422(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    lean, fastapi = apps(tenant)
    spy = Spy(monkeypatch)
    for headers in ({}, {"x-tenant": "abc"}, {"x-tenant": ""}, {"x-tenant": "1.5"}):
        for method, url in (("GET", "/notes"), ("GET", "/notes/1"), ("PATCH", "/notes/1"), ("DELETE", "/notes/1")):
            response = same(lean, fastapi, method, url, headers=headers, json={"text": "t"})
            assert response.status_code == 422
            assert "x-tenant" in response.text
    assert spy.runs == 0
    assert "tenant" not in calls  # an invalid parameter: the dependency is not called


def test_a_tree_of_dependencies_with_a_401_a_cache_a_query_and_a_cookie(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, fastapi = apps(authorized)
    spy = Spy(monkeypatch)
    user = {"authorization": "Bearer user", "x-rank": "2"}
    for url in ("/notes", "/notes/2"):
        refused = same(lean, fastapi, "GET", url, headers={"x-rank": "2"})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["www-authenticate"] == "Bearer"
        assert same(lean, fastapi, "GET", url, headers={**user, "authorization": "Bearer who"}).status_code == 401
    calls.clear()
    lean.cookies.set("session", "s1")
    fastapi.cookies.set("session", "s1")
    got = same(lean, fastapi, "GET", "/notes/2?flavour=sour", headers=user)
    assert got.json()["text"] == "two", got.text
    # rank once a request though asked for twice; the query parameter, the cookie, the request.
    assert calls == ["rank", "authorized GET sour s1"] * 2
    # Errors of several dependencies together (rank's, asked twice, reported twice as FastAPI does).
    both = same(lean, fastapi, "GET", "/notes/2?flavour=", headers={"authorization": "Bearer user", "x-rank": "x"})
    assert both.status_code == 422
    assert spy.runs == 0


def test_an_override_is_used_through_fastapis_solver(apps: Apps, monkeypatch: pytest.MonkeyPatch) -> None:
    lean, fastapi = apps(tenant)
    spy = Spy(monkeypatch)
    for client in (lean, fastapi):
        app: Any = client.app
        app.dependency_overrides[rank] = lambda: 0  # of another dependency: FastAPI's solver all the same
        app.dependency_overrides[tenant] = lambda: ormgate.Scope({"rank": 1})
    got = same(lean, fastapi, "GET", "/notes", headers={"x-tenant": "2"})
    assert [row["text"] for row in got.json()["items"]] == ["one"]
    assert same(lean, fastapi, "GET", "/notes").status_code == 200  # the override needs no header
    assert spy.runs == 2
    assert "tenant" not in calls
    for client in (lean, fastapi):
        client.app.dependency_overrides.clear()  # type: ignore[attr-defined]
    assert same(lean, fastapi, "GET", "/notes", headers={"x-tenant": "2"}).json()["items"][0]["text"] == "two"
    assert spy.runs == 2  # no override left: the plan again


def test_a_plain_def_dependency_runs_in_a_thread_through_fastapis_solver(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, fastapi = apps(blocking)
    spy = Spy(monkeypatch)
    got = same(lean, fastapi, "GET", "/notes/2", headers={"x-tenant": "2"})
    assert got.json()["text"] == "two"
    assert same(lean, fastapi, "GET", "/notes/2").status_code == 422
    assert calls == ["in a thread", "in a thread"]
    assert spy.runs == 2


def test_a_yield_dependency_goes_through_fastapis_solver_and_is_closed(
    apps: Apps, monkeypatch: pytest.MonkeyPatch
) -> None:
    lean, fastapi = apps(yielding)
    spy = Spy(monkeypatch)
    assert same(lean, fastapi, "GET", "/notes/1", headers={"x-tenant": "1"}).json()["text"] == "one"
    assert same(lean, fastapi, "GET", "/notes/1", headers={"x-tenant": "2"}).status_code == 404
    assert calls == ["open", "closed"] * 4
    assert spy.runs == 2


def test_which_dependencies_get_a_plan() -> None:
    from ormgate.solver import plan

    def planned(dependency: Callable[..., Any]) -> bool:
        return plan(access._dependant([dependency], "/notes/{id}")) is not None

    async def by_key(id: int) -> None:  # a path parameter
        return None

    async def with_body(body: dict[str, int]) -> None:
        return None

    assert planned(tenant)
    assert planned(authorized)
    assert planned(rank)
    assert not planned(blocking)
    assert not planned(yielding)
    assert not planned(held)
    assert not planned(by_key)
    assert not planned(with_body)


class Colour(Enum):
    red = "red"


@dataclass
class Point:
    x: int


class Model(BaseModel):
    x: int


class Typed(TypedDict):
    x: int


def test_a_validator_is_called_with_from_attributes_only_where_it_may_change_the_value() -> None:
    """FastAPI's ``ModelField.validate`` passes ``from_attributes=True``; the plan leaves it out (half
    the call) only for a schema with no model, dataclass or typed dict in it, where it changes nothing."""
    plain: tuple[Any, ...] = (int, str, int | None, UUID, Colour, Literal["a", "b"], dict[str, int])
    for annotation in plain:
        assert not _reads_attributes(TypeAdapter(annotation).core_schema), annotation
    objects: tuple[Any, ...] = (Point, Model, Typed, list[Model], Model | None)
    for annotation in objects:
        assert _reads_attributes(TypeAdapter(annotation).core_schema), annotation
    # A None among a schema's values (a default, a missing setting) is no object to read.
    assert not _reads_attributes({"type": "int", "ref": None, "metadata": {"note": None}})
