"""CSV lists (``Accept: text/csv``) over Chinook on every driver: the same page as JSON, streamed, with ``Link``."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.serve.chinook import ROWS
from tests.serve.conftest import Chinook


def cell(value: Any) -> str:
    """A JSON value as ormgate's CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_csv(c: Chinook, path: str, params: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    response = c.reader.get(path, params=params, headers={"accept": "text/csv"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.content.endswith(b"\r\n")
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    return header, rows


def test_the_csv_of_a_filtered_sorted_page_equals_its_json(chinook: Chinook) -> None:
    n = chinook.n
    path = f"/{n('Track')}"
    params: dict[str, Any] = {
        n("GenreId"): 1,
        f"{n('Composer')}__isnull": "false",
        "sort": f"-{n('Milliseconds')}",
        "limit": 25,
    }
    page = chinook.reader.get(path, params=params).json()
    header, rows = as_csv(chinook, path, params)
    assert header == list(page["items"][0])
    assert rows == [[cell(item[name]) for name in header] for item in page["items"]]
    assert len(rows) == 25
    assert any("," in value or '"' in value for row in rows for value in row)  # quoted as CSV quotes
    # ?fields= picks and orders the columns; a null is an empty cell.
    fields = f"{n('Name')},{n('Composer')},{n('UnitPrice')}"
    header, rows = as_csv(chinook, path, {n("TrackId"): 63, "fields": fields})
    assert header == fields.split(",")
    one = chinook.reader.get(f"{path}/63").json()
    assert rows == [[one[n("Name")], cell(one[n("Composer")]), one[n("UnitPrice")]]]


def test_a_csv_cursor_walk_follows_the_link_header(chinook: Chinook) -> None:
    n = chinook.n
    url: str | None = f"/{n('Track')}?limit=500&fields={n('TrackId')}"
    ids: list[int] = []
    while url is not None:
        response = chinook.reader.get(url, headers={"accept": "text/csv"})
        assert response.status_code == 200
        header, *rows = list(csv.reader(io.StringIO(response.text)))
        assert header == [n("TrackId")]
        ids += [int(row[0]) for row in rows]
        link = response.links.get("next")
        url = None if link is None else link["url"]
    assert len(ids) == len(set(ids)) == ROWS["Track"]


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("application/json", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*", "text/csv"),
        ("TEXT/CSV; charset=utf-8", "text/csv"),
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("application/json;q=0.1, */*;q=0.9", "text/csv"),  # the most specific range gives each its weight
        ("text/csv, */*;q=0", "text/csv"),
        ("text/html, application/xhtml+xml, */*;q=0.8", "application/json"),  # a browser's
        ("application/json;q=0, text/csv;q=0.2", "text/csv"),
    ],
)
def test_accept_negotiation(chinook: Chinook, accept: str | None, media: str) -> None:
    headers = {} if accept is None else {"accept": accept}
    response = chinook.reader.get(f"/{chinook.n('Genre')}", params={"limit": 2}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == media


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "text/csv;q=0", "application/json;q=0, text/csv;q=0", "image/*"]
)
def test_nothing_acceptable_is_a_406_problem(chinook: Chinook, accept: str) -> None:
    response = chinook.reader.get(f"/{chinook.n('Genre')}", headers={"accept": accept})
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"
    assert "application/json, text/csv" in response.json()["detail"]


def test_the_csv_list_is_documented(chinook: Chinook) -> None:
    document = chinook.reader.get("/openapi.json").json()
    listing = document["paths"][f"/{chinook.n('Track')}"]["get"]["responses"]
    assert set(listing["200"]["content"]) == {"application/json", "text/csv"}
    assert "406" in listing


def test_bad_queries_are_problems_whatever_the_accept(chinook: Chinook) -> None:
    response = chinook.reader.get(f"/{chinook.n('Track')}", params={"nope": 1}, headers={"accept": "text/csv"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
