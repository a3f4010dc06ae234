"""Columns beyond text, numbers and dates: intervals, binary, JSON and PostgreSQL's arrays.

Each is written and read as Pydantic writes and reads its type: an interval as an
ISO 8601 duration, bytes as standard base64, JSON as itself. What is sent comes
back exactly, from POST, GET, a list, PATCH and PUT.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conformance.test_contract import assert_problem, count
from tests.conftest import Served

# Not UTF-8: Pydantic's default (the bytes as text) could not carry it.
BINARY = bytes(range(256))
SENT: dict[str, Any] = {
    "duration": "P1DT2H3M4S",
    "payload": base64.b64encode(BINARY).decode(),
    # Beyond 64 bits: a JSON column holds any integer, and it must be written out too.
    "document": {"list": [1, 2.5, "x", None, True], "nested": {"name": "Ärger"}, "big": 2**70},
}
CHANGED: dict[str, Any] = {
    "duration": "PT30M",
    "payload": base64.b64encode(b"\x00").decode(),
    "document": ["a", 1, {"b": False}],
}
NAMES = ",".join(["id", *SENT])


@pytest.fixture
def api(contract: Served) -> Served:
    contract.clear("items", "categories")
    return contract


def sent_part(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in SENT}


def test_interval_binary_and_json_values_come_back_as_sent(api: Served) -> None:
    created = api.client.post("/items", json={"name": "typed", **SENT})
    assert created.status_code == 201, created.text
    row = created.json()
    assert sent_part(row) == SENT
    url = f"/items/{row['id']}"
    assert api.client.get(url).json() == row
    assert api.client.get(f"/items?fields={NAMES}").json()["items"] == [{"id": row["id"], **SENT}]
    stored = api.scalar("SELECT payload FROM items WHERE id = :id", id=row["id"])
    assert bytes(stored) == BINARY
    patched = api.client.patch(url, json=CHANGED)
    assert patched.status_code == 200, patched.text
    assert sent_part(patched.json()) == CHANGED
    assert sent_part(api.client.get(url).json()) == CHANGED
    replaced = api.client.put(url, json={"name": "typed", **SENT})
    assert replaced.status_code == 200, replaced.text
    assert sent_part(replaced.json()) == SENT
    assert api.client.get(url).json() == replaced.json()


def test_json_scalars_and_nulls(api: Served) -> None:
    for document in ["text", 7, False, None]:
        created = api.client.post("/items", json={"name": "j", "document": document})
        assert created.status_code == 201, created.text
        assert created.json()["document"] == document
        assert api.client.get(f"/items/{created.json()['id']}").json()["document"] == document
    nulls = api.client.post("/items", json={"name": "n", "duration": None, "payload": None})
    assert nulls.status_code == 201, nulls.text
    assert (nulls.json()["duration"], nulls.json()["payload"]) == (None, None)


@pytest.mark.parametrize(
    ("field", "value", "type_"),
    [
        ("payload", "not base64!", "base64"),
        ("payload", "AP8", "base64"),  # padding missing
        ("duration", "soon", "time_delta_parsing"),
    ],
)
def test_bad_values_are_422_naming_the_field(api: Served, field: str, value: Any, type_: str) -> None:
    body = assert_problem(api.client.post("/items", json={"name": "x", field: value}), 422)
    assert [(e["field"], e["type"]) for e in body["errors"]] == [(field, type_)]
    assert count(api) == 0


def test_these_columns_are_neither_filtered_nor_sorted(api: Served) -> None:
    for name in SENT:
        assert_problem(api.client.get(f"/items?{name}=x"), 400)
        assert_problem(api.client.get(f"/items?sort={name}"), 400)


def test_openapi_documents_their_json_form(api: Served) -> None:
    spec = api.client.get("/openapi.json").json()
    read = spec["components"]["schemas"]["ItemRead"]["properties"]
    assert {"type": "string", "contentEncoding": "base64"} in read["payload"]["anyOf"]
    assert {"type": "string", "format": "duration"} in read["duration"]["anyOf"]


def test_postgresql_arrays_come_back_as_sent(api: Served) -> None:
    if api.pair.database != "postgresql":
        # The arrays table is PostgreSQL's alone: elsewhere it has no routes.
        assert api.client.get("/arrays").status_code == 404
        return
    api.clear("arrays")
    sent = {"tags": ["a", "b c", "Ärger"], "scores": [3, -1, 2**31 - 1]}
    created = api.client.post("/arrays", json=sent)
    assert created.status_code == 201, created.text
    row = created.json()
    assert row == {"id": row["id"], **sent}
    url = f"/arrays/{row['id']}"
    assert api.client.get(url).json() == row
    assert api.client.get("/arrays").json()["items"] == [row]
    assert api.client.patch(url, json={"tags": None}).json() == {**row, "tags": None}
    assert api.client.put(url, json={"scores": []}).json() == {"id": row["id"], "tags": None, "scores": []}
    body = assert_problem(api.client.post("/arrays", json={"scores": ["x"]}), 422)
    assert body["errors"][0]["field"] == "scores.0"
    assert_problem(api.client.get("/arrays?sort=scores"), 400)
