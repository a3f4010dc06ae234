"""`ormgate demo --orm X` answers the README's session byte for byte alike, apart from timestamps."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from ormgate.cli import _users_app

ADA = {"username": "ada", "email": "ada@example.com", "password": "correct horse"}
STAMP = re.compile(rb'"created_at":"[^"]+"')


def session(orm: str, database: str) -> list[tuple[int, str | None, str | None, bytes]]:
    with TestClient(_users_app(orm, database)) as client:
        responses = [
            client.post("/users", json=ADA),
            client.post("/users", json=ADA),
            client.get("/users/1"),
            client.get("/users/999"),
            client.post("/users", json={**ADA, "email": "nope", "password": "short"}),
            client.get("/users?username=ada&fields=id,username"),
            # Posts by users, with tags: the README's ?include= session.
            client.post("/tags", json={"name": "orm"}),
            client.post("/posts", json={"title": "Hello", "author_id": 1, "tags": [1]}),
            client.post("/posts", json={"title": "Orphan", "author_id": 99}),
            client.get("/posts?include=author,tags&fields=id,title,author.username,tags.name"),
            client.get("/tags?include=posts.author"),
        ]
    return [
        (r.status_code, r.headers.get("content-type"), r.headers.get("location"), STAMP.sub(b"<stamp>", r.content))
        for r in responses
    ]


def test_every_orm_answers_the_readme_session_alike(tmp_path: Path) -> None:
    answers = {orm: session(orm, f"sqlite:///{tmp_path / orm}.sqlite3") for orm in ("sqlalchemy", "django", "peewee")}
    assert [status for status, *_ in answers["sqlalchemy"]] == [201, 409, 200, 404, 422, 200, 201, 201, 409, 200, 200]
    embedded = answers["sqlalchemy"][-2][3]
    assert embedded == (
        b'{"items":[{"id":1,"title":"Hello","author":{"username":"ada"},"tags":[{"name":"orm"}]}],'
        b'"next_cursor":null,"total":null}'
    )
    assert b"password" not in answers["sqlalchemy"][-1][3]
    assert answers["django"] == answers["sqlalchemy"]
    assert answers["peewee"] == answers["sqlalchemy"]


def test_every_orm_documents_the_same_api(tmp_path: Path) -> None:
    specs = {}
    for orm in ("sqlalchemy", "django", "peewee"):
        with TestClient(_users_app(orm, f"sqlite:///{tmp_path / orm}.sqlite3")) as client:
            spec = client.get("/openapi.json").json()
        specs[orm] = (spec["paths"], spec["components"])
    assert specs["django"] == specs["sqlalchemy"]
    assert specs["peewee"] == specs["sqlalchemy"]
