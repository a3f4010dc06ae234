"""Limits and cursor keys as options of a resource: run once, on SQLAlchemy over SQLite.

The defaults are checked through HTTP on every pair in tests/conformance/test_limits.py.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate
from ormgate import query_cursor
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from tests.docs_models import Note, notes


@pytest.fixture
def db(tmp_path: Path) -> SQLAlchemyAdapter:
    adapter = notes(tmp_path)
    assert isinstance(adapter.engine, sa.Engine)
    with adapter.engine.begin() as conn:
        conn.execute(sa.insert(Note), [{"text": t, "rank": i % 2} for i, t in enumerate("abcde")])
    return adapter


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No key anywhere, and no random key made yet in this process."""
    monkeypatch.delenv("ORMGATE_SECRET_KEY", raising=False)
    query_cursor._process_key.cache_clear()
    yield
    query_cursor._process_key.cache_clear()


def serve(*resources: ormgate.Resource) -> TestClient:
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    for resource in resources:
        resource.install(app)
    return TestClient(app)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


# -- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{"limit": 0}, {"sort_keys": 0}, {"filters": 0}, {"in_values": 0}, {"query_length": 0}, {"limit": 501}],
)
def test_limits_refuse_values_that_make_no_sense(options: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="Limits"):
        ormgate.Limits(**options)


def test_a_pair_is_the_default_and_maximum_limit(db: SQLAlchemyAdapter) -> None:
    assert ormgate.Resource(Note, db, limits=(2, 3)).query.limits == ormgate.Limits(limit=2, max_limit=3)
    client = serve(ormgate.Resource(Note, db, limits=(2, 3)))
    assert len(client.get("/notes").json()["items"]) == 2
    assert len(client.get("/notes?limit=3").json()["items"]) == 3
    assert problem(client.get("/notes?limit=4"), 422)["errors"][0]["field"] == "limit"


def test_each_cap_is_an_option_of_the_resource(db: SQLAlchemyAdapter) -> None:
    limits = ormgate.Limits(sort_keys=1, filters=2, in_values=3, query_length=60)
    client = serve(ormgate.Resource(Note, db, limits=limits))
    assert client.get("/notes?sort=-rank").status_code == 200
    assert problem(client.get("/notes?sort=-rank,text"), 400)["errors"][0] == {
        "field": "sort",
        "message": "at most 1 sort keys",
        "maximum": 1,
    }
    assert client.get("/notes?rank=1&text__ne=a").status_code == 200
    assert problem(client.get("/notes?rank=1&text__ne=a&id__gt=0"), 400)["errors"][0]["field"] == "id__gt"
    assert client.get("/notes?text__in=a,b,c").status_code == 200
    assert problem(client.get("/notes?text__in=a,b,c,d"), 400)["errors"][0]["maximum"] == 3
    # 60 bytes as sent, 10 characters (the column takes 20): "ä" is 6 bytes percent-encoded.
    assert client.get("/notes?text__contains=" + "%C3%A4" * 7 + "xxx").status_code == 200
    assert problem(client.get("/notes?text__contains=" + "%C3%A4" * 7 + "xxxx"), 400)["errors"][0]["field"] == (
        "query_string"
    )
    description = client.get("/openapi.json").json()["paths"]["/notes"]["get"]["description"]
    assert "at most 1 sort keys" in description
    assert "at most 2 filters" in description
    assert "at most 3 values" in description
    assert "60 bytes" in description


def test_caps_left_to_the_document_are_what_it_admits(db: SQLAlchemyAdapter) -> None:
    resource = ormgate.Resource(Note, db, limits=ormgate.Limits(filters=None, query_length=None, in_values=3))
    parser = resource.query
    assert parser.max_filters == len(parser.parameters) == 22  # id and rank: 7 operators each; text: 8
    longest = parser.longest_query()
    assert longest is not None
    assert parser.max_query == longest
    client = serve(resource)
    description = client.get("/openapi.json").json()["paths"]["/notes"]["get"]["description"]
    assert f"at most {len(parser.parameters)} filters" in description
    assert f"at most {longest} bytes" in description
    # Every filter at once, each at its longest: within the cap.
    every = {p: "-2147483648" for p, (name, op) in parser.parameters.items() if name != "text" and op != "in"}
    assert client.get("/notes", params=every).status_code == 200


def test_a_bad_value_without_the_problem_handlers_is_fastapis_own_422(db: SQLAlchemyAdapter) -> None:
    app = FastAPI()
    ormgate.Resource(Note, db).install(app)
    response = TestClient(app).get("/notes?rank=high")
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["query", "rank"]]


# -- cursor keys ------------------------------------------------------------------------------------


def first_cursor(client: TestClient) -> str:
    cursor: str = client.get("/notes?sort=text&limit=2").json()["next_cursor"]
    assert cursor
    return cursor


def test_workers_sharing_a_key_accept_each_others_cursors(db: SQLAlchemyAdapter, no_key: None) -> None:
    one = serve(ormgate.Resource(Note, db, cursor_key="shared secret"))
    other = serve(ormgate.Resource(Note, db, cursor_key=b"shared secret"))
    stranger = serve(ormgate.Resource(Note, db, cursor_key="another secret"))
    cursor = first_cursor(one)
    assert [r["text"] for r in other.get(f"/notes?sort=text&cursor={cursor}").json()["items"]] == ["c", "d", "e"]
    assert problem(stranger.get(f"/notes?sort=text&cursor={cursor}"), 404)["errors"][0]["field"] == "cursor"


def test_the_environment_variable_is_the_key_of_every_resource(
    db: SQLAlchemyAdapter, no_key: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ORMGATE_SECRET_KEY", "from the environment")
    caplog.set_level(logging.WARNING, logger="ormgate")
    one = serve(ormgate.Resource(Note, db))
    explicit = serve(ormgate.Resource(Note, db, cursor_key="from the environment"))
    assert explicit.get(f"/notes?sort=text&cursor={first_cursor(one)}").status_code == 200
    assert caplog.records == []


def test_without_a_key_a_random_one_is_made_once_per_process_with_a_warning(
    db: SQLAlchemyAdapter, no_key: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ormgate")
    one = serve(ormgate.Resource(Note, db))
    other = serve(ormgate.Resource(Note, db))
    warnings = [r for r in caplog.records if r.name == "ormgate" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ORMGATE_SECRET_KEY" in warnings[0].getMessage()
    cursor = first_cursor(one)
    assert other.get(f"/notes?sort=text&cursor={cursor}").status_code == 200
    # A restart makes another key: the old cursors no longer open.
    query_cursor._process_key.cache_clear()
    restarted = serve(ormgate.Resource(Note, db))
    assert problem(restarted.get(f"/notes?sort=text&cursor={cursor}"), 404)["errors"][0]["field"] == "cursor"
