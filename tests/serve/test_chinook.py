"""``ormgate serve`` over Chinook on SQLite, PostgreSQL and MariaDB, every SQLAlchemy driver, checked against SQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.serve.chinook import ROWS, UNSERVED_TYPE
from tests.serve.conftest import Chinook


def walk(c: Chinook, path: str, limit: int) -> list[dict[str, Any]]:
    """Every row of a list, page by page through its cursor."""
    rows: list[dict[str, Any]] = []
    body = c.reader.get(path, params={"limit": limit}).json()
    while True:
        rows += body["items"]
        if body["next_cursor"] is None:
            return rows
        response = c.reader.get(path, params={"limit": limit, "cursor": body["next_cursor"]})
        assert response.status_code == 200, response.text
        body = response.json()


def test_every_table_is_served_with_its_count(chinook: Chinook) -> None:
    n = chinook.n
    served = {s.table: s for s in chinook.read.served}
    for table, rows in ROWS.items():
        assert f"/{n(table)}" == served[n(table)].path
        body = chinook.reader.get(f"/{n(table)}", params={"count": "true", "limit": 1}).json()
        assert body["total"] == rows == chinook.scalar(f"SELECT count(*) FROM {chinook.q(n(table))}")
    # The summary's estimate: exact on SQLite (counted), and within reach elsewhere.
    assert served[n("Track")].rows is not None


def test_a_filtered_and_sorted_page_equals_sql(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    page = chinook.reader.get(
        f"/{n('Track')}", params={n("GenreId"): 1, "sort": f"-{n('Milliseconds')}", "limit": 10}
    ).json()
    expected = chinook.rows(
        f"SELECT {q(n('TrackId'))} AS id FROM {q(n('Track'))} WHERE {q(n('GenreId'))} = 1 "
        f"ORDER BY {q(n('Milliseconds'))} DESC, {q(n('TrackId'))} DESC LIMIT 10"
    )
    assert [row[n("TrackId")] for row in page["items"]] == [row["id"] for row in expected]
    assert set(page["items"][0]) == {
        n(c) for c in ("TrackId", "Name", "AlbumId", "MediaTypeId", "GenreId", "Composer", "Milliseconds", "Bytes")
    } | {n("UnitPrice")}
    assert Decimal(page["items"][0][n("UnitPrice")]) > 0


def test_a_cursor_walk_of_track_returns_every_row_once(chinook: Chinook) -> None:
    rows = walk(chinook, f"/{chinook.n('Track')}", 500)
    ids = [row[chinook.n("TrackId")] for row in rows]
    assert len(ids) == len(set(ids)) == ROWS["Track"]


def test_a_foreign_key_filter_and_its_documentation(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    albums = chinook.reader.get(f"/{n('Album')}", params={n("ArtistId"): 90}).json()["items"]
    expected = chinook.rows(f"SELECT {q(n('AlbumId'))} AS id FROM {q(n('Album'))} WHERE {q(n('ArtistId'))} = 90")
    assert sorted(a[n("AlbumId")] for a in albums) == sorted(r["id"] for r in expected)
    assert len(albums) > 1
    in_list = chinook.reader.get(f"/{n('Track')}", params={f"{n('AlbumId')}__in": "1,2", "count": "true"}).json()
    assert in_list["total"] == chinook.scalar(f"SELECT count(*) FROM {q(n('Track'))} WHERE {q(n('AlbumId'))} IN (1, 2)")
    tags = {t["name"]: t["description"] for t in chinook.reader.get("/openapi.json").json()["tags"]}
    assert f"`{n('ArtistId')}` references `{n('Artist')}.{n('ArtistId')}`" in tags[n("Album")]
    assert f"`{n('ReportsTo')}` references `{n('Employee')}.{n('EmployeeId')}`" in tags[n("Employee")]


def test_a_composite_key_is_one_path_segment_per_key_column(chinook: Chinook) -> None:
    n = chinook.n
    path = f"/{n('PlaylistTrack')}"
    row = chinook.reader.get(f"{path}/1/3402")
    assert row.status_code == 200, row.text
    assert row.json() == {n("PlaylistId"): 1, n("TrackId"): 3402}
    assert row.headers["etag"]
    missing = chinook.reader.get(f"{path}/1/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"
    assert chinook.reader.get(f"{path}/1/x").status_code == 422
    # Its cursor walk is exact: the order ends with both key columns.
    pairs = [(r[n("PlaylistId")], r[n("TrackId")]) for r in walk(chinook, path, 500)]
    assert len(pairs) == len(set(pairs)) == ROWS["PlaylistTrack"]
    # Read-only without --allow-writes (tests/serve/test_composite.py writes with it).
    assert chinook.reader.post(path, json={n("PlaylistId"): 1, n("TrackId"): 1}).status_code == 405
    assert chinook.reader.delete(f"{path}/1/3402").status_code == 405


def test_views_and_keyless_tables_are_list_only(chinook: Chinook) -> None:
    n = chinook.n
    served = {s.table: s for s in chinook.write.served}
    assert served["Album Titles"].list_only == "a view"
    assert served["Note"].list_only == "no primary key"
    assert not served["Album Titles"].writable
    titles = walk(chinook, "/Album Titles", 100)
    assert len({row[n("AlbumId")] for row in titles}) == len(titles) == ROWS["Album"]
    notes = chinook.reader.get("/Note", params={"limit": 1}).json()
    seen = [notes["items"][0]]
    while notes["next_cursor"]:
        notes = chinook.reader.get("/Note", params={"limit": 1, "cursor": notes["next_cursor"]}).json()
        seen += notes["items"]
    assert sorted((r["Body"], r["Stars"]) for r in seen) == [("a", 1), ("a", 2), ("b", 1)]
    assert chinook.writer.post("/Album Titles", json={n("Title"): "x"}).status_code == 405
    assert chinook.reader.get("/Album Titles/1").status_code == 404


def test_names_that_are_not_identifiers_are_paths_and_keys(chinook: Chinook) -> None:
    rows = chinook.reader.get("/order line", params={"sort": "line id"}).json()["items"]
    assert rows[:2] == [
        {"line id": 1, "unit price": "1.50", "Qty-1": 2},
        {"line id": 2, "unit price": "0.99", "Qty-1": None},
    ]
    assert chinook.reader.get("/order%20line", params={"Qty-1__isnull": "true"}).json()["items"][0]["line id"] == 2
    document = chinook.reader.get("/openapi.json").json()
    assert "/order line" in document["paths"]
    assert "unit price" in document["components"]["schemas"]["order_lineRead"]["properties"]


def test_a_column_that_cannot_be_served_is_left_out_and_reported(chinook: Chinook) -> None:
    skipped = {s.name: s.reason for s in chinook.read.skipped}
    assert "Gadget.Location" in skipped
    assert "cannot be served as JSON" in skipped["Gadget.Location"]
    if UNSERVED_TYPE[chinook.database]:
        assert UNSERVED_TYPE[chinook.database].lower() in skipped["Gadget.Location"].lower()
    response = chinook.reader.get("/Gadget")
    assert response.status_code == 200
    assert response.json()["items"] == [{"GadgetId": 1, "Label": "one"}, {"GadgetId": 2, "Label": "two"}]
    assert chinook.reader.get("/Gadget/2").json() == {"GadgetId": 2, "Label": "two"}
    assert chinook.reader.get("/Gadget", params={"Location": "x"}).status_code == 400


def test_read_only_unless_writes_are_allowed(chinook: Chinook) -> None:
    n = chinook.n
    genre = f"/{n('Genre')}"
    for method, path in (("POST", genre), ("PUT", f"{genre}/1"), ("PATCH", f"{genre}/1"), ("DELETE", f"{genre}/1")):
        response = chinook.reader.request(method, path, json={n("Name"): "x"})
        assert response.status_code == 405, (method, response.text)
        assert response.headers["allow"] == "GET, HEAD"
        assert response.headers["content-type"] == "application/problem+json"
    assert {s.writable for s in chinook.read.served} == {False}
    methods = {m for route in chinook.read.app.routes for m in getattr(route, "methods", ()) or ()}
    assert methods <= {"GET", "HEAD"}
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(n('Genre'))}") == ROWS["Genre"]


def test_a_write_round_trip_on_genre(chinook: Chinook) -> None:
    n = chinook.n
    genre, key, name = f"/{n('Genre')}", n("GenreId"), n("Name")
    if chinook.database == "sqlite":
        # INTEGER PRIMARY KEY: SQLite assigns it; a client may not.
        assert chinook.writer.post(genre, json={key: 900, name: "x"}).status_code == 422
        created = chinook.writer.post(genre, json={name: "Chiptune"})
    else:
        # No default in these scripts: the client must send it.
        missing = chinook.writer.post(genre, json={name: "Chiptune"})
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == key
        created = chinook.writer.post(genre, json={key: 900, name: "Chiptune"})
    assert created.status_code == 201, created.text
    row = created.json()
    assert created.headers["location"] == f"{genre}/{row[key]}"
    try:
        patched = chinook.writer.patch(f"{genre}/{row[key]}", json={name: "Chip music"})
        assert patched.json() == {key: row[key], name: "Chip music"}
        long = chinook.writer.patch(f"{genre}/{row[key]}", json={name: "x" * 121})
        assert long.status_code == 422
        duplicate = chinook.writer.post(genre, json={key: row[key], name: "again"})
        assert duplicate.status_code == (422 if chinook.database == "sqlite" else 409)
    finally:
        assert chinook.writer.delete(f"{genre}/{row[key]}").status_code == 204
    assert chinook.writer.get(f"{genre}/{row[key]}").status_code == 404
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(n('Genre'))}") == ROWS["Genre"]


def test_deleting_an_artist_with_albums_is_a_conflict(chinook: Chinook) -> None:
    n = chinook.n
    response = chinook.writer.delete(f"/{n('Artist')}/1")
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(n('Artist'))}") == ROWS["Artist"]


def test_the_openapi_document_is_valid(chinook: Chinook) -> None:
    from openapi_spec_validator import validate

    document = chinook.reader.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    validate(document)
    assert chinook.reader.get("/docs").status_code == 200


@pytest.mark.parametrize("limit", ["0", "501"])
def test_the_limits_apply(chinook: Chinook, limit: str) -> None:
    response = chinook.reader.get(f"/{chinook.n('Track')}", params={"limit": limit})
    assert response.status_code == 422
