"""Resource behaviour that does not depend on the ORM: run once, on SQLAlchemy over SQLite."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.orm import Mapped, mapped_column

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.resource import JSONRoute
from tests.docs_models import Base, Note, notes


class Renamed(Base):
    __tablename__ = "renamed"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column("label_text", sa.String(20))


def require_token(request: Request) -> None:
    if request.headers.get("x-token") != "secret":
        raise HTTPException(401, "a token is required")


@pytest.fixture
def db(tmp_path: Path) -> SQLAlchemyAdapter:
    return notes(tmp_path)


def included_with_dependencies(app: FastAPI, resource: ormgate.Resource) -> None:
    app.include_router(resource.router, dependencies=[Depends(require_token)])


def installed_on_a_router_with_dependencies(app: FastAPI, resource: ormgate.Resource) -> None:
    router = APIRouter(dependencies=[Depends(require_token)])
    resource.install(router)
    app.include_router(router)


@pytest.mark.parametrize("mount", [included_with_dependencies, installed_on_a_router_with_dependencies])
def test_router_dependencies_run_on_every_generated_route(
    db: SQLAlchemyAdapter, mount: Callable[[FastAPI, ormgate.Resource], None]
) -> None:
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    mount(app, ormgate.Resource(Note, db))
    with TestClient(app) as client:
        for method, url in [("GET", "/notes"), ("GET", "/notes/1"), ("POST", "/notes"), ("DELETE", "/notes/1")]:
            response = client.request(method, url, json={"text": "x"})
            assert response.status_code == 401, (method, url)
            assert response.headers["content-type"] == "application/problem+json"
        created = client.post("/notes", json={"text": "hi"}, headers={"x-token": "secret"})
        assert created.status_code == 201
        assert client.get(created.headers["location"], headers={"x-token": "secret"}).json()["text"] == "hi"
        bad = client.post("/notes", json={"text": 5}, headers={"x-token": "secret"})
        assert bad.status_code == 422


@pytest.mark.parametrize("install", [True, False])
def test_app_dependencies_run_too(db: SQLAlchemyAdapter, install: bool) -> None:
    app = FastAPI(dependencies=[Depends(require_token)])
    ormgate.install_problem_handlers(app)
    resource = ormgate.Resource(Note, db)
    if install:
        resource.install(app)
    else:
        app.include_router(resource.router)
    with TestClient(app) as client:
        assert client.get("/notes").status_code == 401
        assert client.get("/notes/1").status_code == 401
        assert client.get("/notes", headers={"x-token": "secret"}).status_code == 200


def test_install_and_include_router_serve_and_document_the_same_api(db: SQLAlchemyAdapter) -> None:
    installed, included = FastAPI(), FastAPI()
    for app in (installed, included):
        ormgate.install_problem_handlers(app)
    ormgate.Resource(Note, db).install(installed)
    included.include_router(ormgate.Resource(Note, db).router)
    assert installed.openapi() == included.openapi()
    with TestClient(installed) as a, TestClient(included) as b:
        for client in (a, b):
            assert client.post("/notes", json={"text": "same"}).status_code == 201
        for method, url, body in [
            ("GET", "/notes", None),
            ("GET", "/notes/1", None),
            ("GET", "/notes/x", None),
            ("PATCH", "/notes/1", {"text": "changed"}),
            ("PUT", "/notes/1", {"text": 3}),
            ("DELETE", "/notes/9", None),
            ("POST", "/notes/1", None),
        ]:
            ours, theirs = a.request(method, url, json=body), b.request(method, url, json=body)
            assert (ours.status_code, ours.content) == (theirs.status_code, theirs.content), (method, url)
            assert ours.headers.get("etag") == theirs.headers.get("etag")
            assert ours.headers.get("allow") == theirs.headers.get("allow")


def test_the_next_link_keeps_the_query_as_sent_and_drops_any_offset(db: SQLAlchemyAdapter) -> None:
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    ormgate.Resource(Note, db).install(app)
    with TestClient(app) as client:
        for text in ["a&b 1", "a&b 2", "a&b 3", "other"]:
            assert client.post("/notes", json={"text": text}).status_code == 201
        # "%6Fffset" is "offset", encoded: it goes too, or the next page would be a 400.
        first = client.get("/notes?text__startswith=a%26b+&limit=1&%6Fffset=1&sort=-text")
        assert first.status_code == 200
        assert [n["text"] for n in first.json()["items"]] == ["a&b 2"]
        link = first.headers["link"]
        url = link[link.index("<") + 1 : link.index(">")]
        cursor = first.json()["next_cursor"]
        assert url == f"http://testserver/notes?text__startswith=a%26b+&limit=1&sort=-text&cursor={cursor}"
        second = client.get(url)
        assert second.status_code == 200
        assert [n["text"] for n in second.json()["items"]] == ["a&b 1"]
        assert "link" not in second.headers


def test_lean_and_dependency_paths_give_the_same_errors(db: SQLAlchemyAdapter) -> None:
    lean, full = FastAPI(), FastAPI()
    for app in (lean, full):
        ormgate.install_problem_handlers(app)
    lean.include_router(ormgate.Resource(Note, db).router)
    full.include_router(ormgate.Resource(Note, db).router, dependencies=[Depends(lambda: None)])
    requests = [
        ("POST", "/notes", b'{"text": 5, "id": 3, "x": 1}'),
        ("POST", "/notes", b"{not json"),
        ("POST", "/notes", b'{"text": "' + b"y" * 30 + b'"}'),
        ("PATCH", "/notes/abc", b"{}"),
        ("GET", "/notes/abc", b""),
        ("GET", "/notes/77", b""),
        ("PUT", "/notes/1", b'{"text": null}'),
    ]
    with TestClient(lean) as a, TestClient(full) as b:
        for method, url, body in requests:
            ours = a.request(method, url, content=body, headers={"content-type": "application/json"})
            theirs = b.request(method, url, content=body, headers={"content-type": "application/json"})
            assert ours.status_code == theirs.status_code, (method, url)
            # FastAPI locates a JSON syntax error by its offset; ormgate says "body".
            assert [
                (e["type"], e["field"] if e["type"] != "json_invalid" else "") for e in ours.json().get("errors", [])
            ] == [
                (e["type"], e["field"] if e["type"] != "json_invalid" else "") for e in theirs.json().get("errors", [])
            ], (method, url)


MEDIA_TYPES = [
    None,
    "text/plain",
    "application/x-www-form-urlencoded",
    "application/json; charset=utf-8",
    "application/merge-patch+json",
    "application/jsonp",
]


def test_lean_and_dependency_paths_refuse_the_same_media_types(db: SQLAlchemyAdapter) -> None:
    lean, full = FastAPI(), FastAPI()
    for app in (lean, full):
        ormgate.install_problem_handlers(app)
    lean.include_router(ormgate.Resource(Note, db).router)
    full.include_router(ormgate.Resource(Note, db).router, dependencies=[Depends(lambda: None)])
    with TestClient(lean) as a, TestClient(full) as b:
        for client in (a, b):
            assert client.post("/notes", json={"text": "first"}).status_code == 201
        for content_type in MEDIA_TYPES:
            headers = {"content-type": content_type} if content_type else {}
            for method, url in [("POST", "/notes"), ("PUT", "/notes/1"), ("PATCH", "/notes/1")]:
                for body in (b'{"text": "x"}', b""):
                    ours = a.request(method, url, content=body, headers=headers)
                    theirs = b.request(method, url, content=body, headers=headers)
                    case = (method, content_type, body)
                    assert ours.status_code == theirs.status_code, case
                    if ours.status_code >= 400:
                        assert ours.json() == theirs.json(), case
                    json = content_type in ("application/json; charset=utf-8", "application/merge-patch+json")
                    expected = (201 if method == "POST" else 200) if json else 415
                    assert ours.status_code == (expected if body else 422), case


@pytest.mark.parametrize("install", [True, False])
def test_a_body_without_a_media_type_is_json_where_fastapi_is_told_so(db: SQLAlchemyAdapter, install: bool) -> None:
    app = FastAPI(strict_content_type=False)
    ormgate.install_problem_handlers(app)
    resource = ormgate.Resource(Note, db)
    if install:
        resource.install(app)
    else:
        app.include_router(resource.router)
    with TestClient(app) as client:
        assert client.post("/notes", content=b'{"text": "bare"}').status_code == 201
        assert (
            client.post("/notes", content=b'{"text": "plain"}', headers={"content-type": "text/plain"}).status_code
            == 415
        )


class Echo(BaseModel):
    text: str


def test_hand_written_routes_of_a_json_route_class_refuse_other_media_types() -> None:
    app = FastAPI()
    app.router.route_class = JSONRoute
    ormgate.install_problem_handlers(app)

    @app.post("/echo")
    def echo(body: Echo) -> Echo:
        return body

    with TestClient(app) as client:
        assert client.post("/echo", json={"text": "a"}).json() == {"text": "a"}
        refused = client.post("/echo", content=b'{"text": "a"}', headers={"content-type": "text/plain"})
        assert (refused.status_code, refused.headers["content-type"]) == (415, "application/problem+json")


def test_unknown_route_option_is_refused(db: SQLAlchemyAdapter) -> None:
    with pytest.raises(ValueError, match="unknown route"):
        ormgate.Resource(Note, db, routes=["list", "explode"])


def test_filters_on_unreadable_fields_are_refused(db: SQLAlchemyAdapter) -> None:
    schemas = ormgate.derive(db.describe(Note), write_only=["text"])
    with pytest.raises(ValueError, match="not a readable field"):
        ormgate.Resource(Note, db, schemas=schemas, filters={"text": ["eq"]})


def test_a_column_named_apart_from_its_attribute_is_written_under_the_attribute(db: SQLAlchemyAdapter) -> None:
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    ormgate.Resource(Renamed, db).install(app)
    with TestClient(app) as client:
        assert client.post("/renamed", json={"label": "a"}).json() == {"id": 1, "label": "a"}
        assert client.patch("/renamed/1", json={"label": "b"}).json() == {"id": 1, "label": "b"}
        assert client.put("/renamed/1", json={"label": "c"}).json() == {"id": 1, "label": "c"}
        assert client.get("/renamed?label=c").json()["items"] == [{"id": 1, "label": "c"}]
