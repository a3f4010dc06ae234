"""A list accepts the query parameters its route's dependencies read, and no other unknown one (issue 16).

A scope dependency may read the query string (``?org=``, an API key in ``?api_key=``), as may an
app's or an included router's dependencies. The list's parser, strict about unknown parameters,
accepts exactly those (not as filters), keeps them in the next page's URL, and a dependency
that would read one of the list's own parameters is refused at start-up.

ORM-independent (the route, not the store): run once, on SQLAlchemy over SQLite.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query
from fastapi.dependencies.utils import get_dependant
from fastapi.security import APIKeyQuery
from fastapi.testclient import TestClient
from pydantic import AliasChoices, BaseModel, Field

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.routes import LeanRoute
from ormgate.solver import query_names
from tests.docs_models import Note, notes

api_key = APIKeyQuery(name="api_key")


async def tenant(org: Annotated[int, Query(ge=1)]) -> ormgate.Scope:
    return ormgate.Scope({"rank": org})


async def keyed(key: Annotated[str, Depends(api_key)]) -> None:
    if key != "secret":
        raise HTTPException(401, "bad key")


async def traced(trace: Annotated[list[str], Query()] = []) -> None:  # noqa: B006 (FastAPI copies it)
    """Repeatable, as a list-valued query parameter may be."""


@pytest.fixture
def db(tmp_path: Path) -> SQLAlchemyAdapter:
    return notes(tmp_path)


# lean: installed, served by ormgate's lean route; routed: in an included router, lean too;
# included: an included router's dependency (FastAPI's handler); app: an app's dependency
# (FastAPI's handler) reading an APIKeyQuery.
MODES = {"lean": {}, "routed": {}, "included": {"trace": "t1"}, "app": {"api_key": "secret"}}


@pytest.fixture(params=list(MODES))
def client(db: SQLAlchemyAdapter, request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = FastAPI(dependencies=[Depends(keyed)]) if request.param == "app" else FastAPI()
    app.state.extra = MODES[request.param]
    ormgate.install_problem_handlers(app)
    resource = ormgate.Resource(Note, db, scope=tenant)
    if request.param == "included":
        app.include_router(resource.router, dependencies=[Depends(traced)])
    elif request.param == "routed":
        app.include_router(resource.router)
    else:
        resource.install(app)
    with TestClient(app) as client:
        for org, text in [(1, "a"), (2, "b"), (1, "c"), (1, "d"), (2, "e")]:
            created = client.post("/notes", params={"org": org, **app.state.extra}, json={"text": text})
            assert created.status_code == 201, created.text
        yield client


def params(client: TestClient, **more: Any) -> dict[str, Any]:
    app: Any = client.app
    return {**app.state.extra, **more}


def texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [row["text"] for row in response.json()["items"]]


def test_a_list_takes_the_dependencies_query_parameters(client: TestClient) -> None:
    assert texts(client.get("/notes", params=params(client, org=1))) == ["a", "c", "d"]
    assert texts(client.get("/notes", params=params(client, org=2, text="e"))) == ["e"]
    counted = client.get("/notes", params=params(client, org=2, count="true"))
    assert counted.json()["total"] == 2
    # Not a filter: the dependency's own parameter, validated by FastAPI.
    assert client.get("/notes", params=params(client, org=0)).status_code == 422
    assert client.get("/notes", params=params(client)).status_code == 422


def test_an_unknown_parameter_is_still_a_400(client: TestClient) -> None:
    for typo in ["orgg", "tex", "limt", "org__gt"]:
        response = client.get("/notes", params=params(client, org=1, **{typo: "1"}))
        assert response.status_code == 400, typo
        assert response.json()["errors"][0]["field"] == typo


def test_a_repeated_dependency_parameter_is_the_dependencys_business(client: TestClient) -> None:
    # A list-valued parameter of a dependency is sent once per value; a list parameter twice is a 400.
    app: Any = client.app
    if "trace" in app.state.extra:
        assert texts(client.get("/notes?org=2&trace=a&trace=b")) == ["b", "e"]
    assert client.get("/notes", params=params(client, org=2, limit=["1", "2"])).status_code == 400


def test_a_cursor_walk_keeps_the_dependencys_parameters(client: TestClient) -> None:
    url: str | None = "/notes"
    seen: list[str] = []
    response = client.get("/notes", params=params(client, org=1, limit=1))
    while True:
        seen += texts(response)
        link = response.headers.get("link")
        if link is None:
            break
        url = link.partition("<")[2].partition(">")[0]
        assert "org=1" in url
        for name, value in params(client).items():
            assert f"{name}={value}" in url
        response = client.get(url)
    assert seen == ["a", "c", "d"]
    # A cursor of org 1 is no cursor of org 2.
    first = client.get("/notes", params=params(client, org=1, limit=1)).json()["next_cursor"]
    assert client.get("/notes", params=params(client, org=2, cursor=first)).status_code == 404


def test_item_routes_take_them_as_before(client: TestClient) -> None:
    rows = client.get("/notes", params=params(client, org=2)).json()["items"]
    assert client.get(f"/notes/{rows[0]['id']}", params=params(client, org=2)).status_code == 200
    assert client.get(f"/notes/{rows[0]['id']}", params=params(client, org=1)).status_code == 404


def test_openapi_documents_each_parameter_once(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/notes"]["get"]
    names = [parameter["name"] for parameter in operation["parameters"]]
    assert names.count("org") == 1
    assert len(names) == len(set(names))
    app: Any = client.app
    if "trace" in app.state.extra:
        assert "trace" in names


async def by_limit(limit: Annotated[int, Query()]) -> ormgate.Scope:
    return ormgate.Scope({"rank": limit})


async def by_text(text: Annotated[str, Query()]) -> ormgate.Scope:
    return ormgate.Scope({"rank": len(text)})


async def sorting(sort: str = Query("id")) -> None:
    """A router's dependency reading the list's own ``sort``."""


@pytest.mark.parametrize("dependency", [by_limit, by_text])
def test_a_scope_reading_a_lists_parameter_is_refused_at_start_up(db: SQLAlchemyAdapter, dependency: Any) -> None:
    name = "limit" if dependency is by_limit else "text"
    with pytest.raises(ValueError, match=f"'{name}'"):
        ormgate.Resource(Note, db, scope=dependency).install(FastAPI())
    with pytest.raises(ValueError, match=f"'{name}'"):
        FastAPI().include_router(ormgate.Resource(Note, db, scope=dependency).router)


def test_a_routers_dependency_reading_a_lists_parameter_is_refused_at_start_up(db: SQLAlchemyAdapter) -> None:
    with pytest.raises(ValueError, match="'sort'"):
        ormgate.Resource(Note, db).install(APIRouter(dependencies=[Depends(sorting)]))
    with pytest.raises(ValueError, match="'sort'"):
        ormgate.Resource(Note, db).install(FastAPI(dependencies=[Depends(sorting)]))
    # FastAPI (0.16x) builds an included router's routes when it first needs them: the first
    # request or the OpenAPI document refuses it, never serving the list.
    for first in ["request", "openapi"]:
        app = FastAPI()
        app.include_router(ormgate.Resource(Note, db).router, dependencies=[Depends(sorting)])
        with pytest.raises(ValueError, match="'sort'"):
            TestClient(app).get("/notes") if first == "request" else app.openapi()


async def team_of(team: Annotated[int, Query()]) -> ormgate.Scope:
    return ormgate.Scope({"team": team})


def test_an_included_resources_scope_reads_the_query_too(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from tests.conformance.relations import sqlalchemy as models

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'relations.sqlite3'}")
    models.Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(models.Author), [{"id": 1, "username": "ada", "team": 1}, {"id": 2, "username": "bob", "team": 2}]
        )
        conn.execute(
            sa.insert(models.Post), [{"id": 1, "title": "x", "author_id": 1}, {"id": 2, "title": "y", "author_id": 2}]
        )
    db = SQLAlchemyAdapter(engine)
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    authors = ormgate.Resource(models.Author, db, path="/authors", scope=team_of)
    ormgate.Resource(models.Post, db, path="/posts", includes={"author": authors}).install(app)
    client = TestClient(app)
    embedded = client.get("/posts?team=1&include=author")
    assert embedded.status_code == 200, embedded.text
    assert [post["author"] for post in embedded.json()["items"]] == [
        {"id": 1, "username": "ada", "team": 1, "email": None},
        None,
    ]
    assert [post["title"] for post in client.get("/posts?team=1&title=y").json()["items"]] == ["y"]
    assert client.get("/posts?team=1&teem=1").status_code == 400
    assert client.get("/posts?team=1&include=author&teem=1").status_code == 400
    assert client.get("/posts?include=author").status_code == 422  # the scope's parameter is required


class Paging(BaseModel):
    page_token: str = ""
    region: str = Field("eu", alias="zone")


async def aliased(
    org: Annotated[int, Query(alias="organisation")],
    choice: Annotated[str, Query(validation_alias=AliasChoices("tenant", "t"))] = "",
) -> None:
    """Sent under its alias; under either of its choices."""


async def modelled(paging: Annotated[Paging, Query()], deeper: Annotated[None, Depends(aliased)]) -> None:
    """A parameter model (each field a parameter) and a sub-dependency."""


async def keyed_deeper(key: Annotated[str, Depends(api_key)], more: Annotated[None, Depends(modelled)]) -> None:
    """An APIKeyQuery's parameter."""


def test_the_names_a_dependency_reads_are_those_fastapi_reads() -> None:
    async def endpoint(own: str, ran: Annotated[None, Depends(keyed_deeper)]) -> None:
        """``own``: the endpoint's own, not a dependency's."""

    names = query_names(get_dependant(path="/", call=endpoint))
    assert names == {"api_key", "page_token", "zone", "organisation", "tenant", "t"}


def test_the_installed_list_stays_lean(client: TestClient) -> None:
    app: Any = client.app
    lists = [route for route in app.router.routes if isinstance(route, LeanRoute) and route.name == "Note.list"]
    if app.state.extra or not lists:  # FastAPI's handler (other dependencies); or an included router's
        return
    (route,) = lists
    assert route.app.__module__ == "ormgate.access"  # the scope solved alone, not FastAPI's request_response
