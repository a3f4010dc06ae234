"""Many-to-many lists written together with hooks, on every SQLAlchemy pair (sync and async engines).

The SQLAlchemy operations take the lists out of the written values before the *before* hook
(which sees the row's columns only) and write them before the *after* hook, in the same unit of
work (``ormgate/adapters/_sa_operations.py``): a hook that raises, or a list naming no row,
writes nothing, the hook's own writes included.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import ormgate
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.demo.common import new_app
from ormgate.demo.sqlalchemy_app import create_engine
from tests.conformance.relations.sqlalchemy import Author, Comment, Post, PostTag, Tag
from tests.conformance.sa_pairs import fresh_database, pair_params
from tests.databases import Pair


@dataclass
class Blog:
    client: TestClient
    seen: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (operation, stage, values)

    def post(self, path: str, **body: Any) -> dict[str, Any]:
        response = self.client.post(path, json=body)
        assert response.status_code == 201, response.text
        row: dict[str, Any] = response.json()
        return row

    def tags_of(self, post_id: int) -> list[str]:
        return [t["name"] for t in self.client.get(f"/posts/{post_id}?include=tags").json()["tags"]]

    def authors(self) -> list[str]:
        return [a["username"] for a in self.client.get("/authors?limit=100").json()["items"]]


@pytest.fixture(params=pair_params())
def blog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Blog]:
    pair: Pair = request.param
    with fresh_database(pair, tmp_path, "sqlalchemy_links_hooks") as db:
        adapter = SQLAlchemyAdapter(create_engine(db.url(pair.scheme)))
        app = new_app("sqlalchemy", lambda: adapter.create_tables([Author, Tag, Post, PostTag, Comment]))
        seen: list[tuple[str, str, dict[str, Any]]] = []

        def before(event: ormgate.Event) -> None:
            seen.append((event.operation, "before", dict(event.values)))
            if isinstance(event.values.get("title"), str):
                event.values["title"] = event.values["title"].upper()

        def after(event: ormgate.Event) -> None:
            seen.append((event.operation, "after", dict(event.values)))
            # A write of the hook's own, in the write's unit of work: an author named after the post.
            event.unit.execute(sa.insert(Author).values(username=f"audit {event.values['id']} {len(seen)}"))
            if event.values["title"] == "FAIL AFTER":
                raise ormgate.Conflict("refused by a hook after the write")

        hooks = ormgate.Hooks(before_create=before, after_create=after, before_update=before, after_update=after)
        ormgate.Resource(Author, adapter, path="/authors", limits=(100, 100)).install(app)
        ormgate.Resource(Tag, adapter, path="/tags").install(app)
        ormgate.Resource(Post, adapter, path="/posts", links=["tags"], includes={"tags": 10}, hooks=hooks).install(app)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Blog(client, seen)


def test_create_and_update_run_the_hooks_on_the_columns_and_write_the_lists(blog: Blog) -> None:
    ada = blog.post("/authors", username="ada")
    red, blue = blog.post("/tags", name="red"), blog.post("/tags", name="blue")
    row = blog.post("/posts", title="hello", author_id=ada["id"], tags=[blue["id"], red["id"]])
    assert row["title"] == "HELLO"  # the before hook's change was written
    assert blog.tags_of(row["id"]) == ["red", "blue"]
    assert [(op, stage) for op, stage, _ in blog.seen] == [("create", "before"), ("create", "after")]
    assert all("tags" not in values for _, _, values in blog.seen)  # the hooks see the row's columns only
    assert blog.seen[1][2]["id"] == row["id"]

    patched = blog.client.patch(f"/posts/{row['id']}", json={"title": "again", "tags": [red["id"]]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["title"] == "AGAIN"
    assert blog.tags_of(row["id"]) == ["red"]
    assert [(op, stage) for op, stage, _ in blog.seen[2:]] == [("update", "before"), ("update", "after")]
    assert blog.seen[2][2] == {"title": "again"}
    assert blog.authors() == ["ada", f"audit {row['id']} 2", f"audit {row['id']} 4"]


def test_a_hook_that_raises_or_a_missing_id_writes_neither_row_nor_lists_nor_the_hooks_writes(blog: Blog) -> None:
    ada = blog.post("/authors", username="ada")
    red, blue = blog.post("/tags", name="red"), blog.post("/tags", name="blue")
    row = blog.post("/posts", title="kept", author_id=ada["id"], tags=[red["id"]])
    authors = blog.authors()

    refused = blog.client.patch(f"/posts/{row['id']}", json={"title": "fail after", "tags": [blue["id"]]})
    assert refused.status_code == 409, refused.text
    missing = blog.client.patch(f"/posts/{row['id']}", json={"title": "other", "tags": [blue["id"], 999_999]})
    assert missing.status_code == 409, missing.text
    assert [e["field"] for e in missing.json()["errors"]] == ["tags"]
    created = blog.client.post("/posts", json={"title": "new", "author_id": ada["id"], "tags": [999_999]})
    assert created.status_code == 409, created.text

    assert blog.client.get(f"/posts/{row['id']}").json()["title"] == "KEPT"
    assert blog.tags_of(row["id"]) == ["red"]
    assert [p["id"] for p in blog.client.get("/posts").json()["items"]] == [row["id"]]
    assert blog.authors() == authors  # the after hook's write went with the rest
    # A list naming no row fails before the after hook: it sees only what was written.
    assert [(op, stage) for op, stage, _ in blog.seen][-2:] == [("update", "before"), ("create", "before")]
