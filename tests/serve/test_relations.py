"""``ormgate serve``'s relations from the reflected foreign keys, through ``?include=``, every driver, against SQL."""

from __future__ import annotations

from ormgate.serve_relations import INCLUDED
from tests.serve.conftest import Chinook


def test_two_levels_of_to_one_on_a_page_equal_sql(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    album, artist = n("Album"), n("Artist")
    page = chinook.reader.get(
        f"/{n('Track')}", params={"include": f"{album}.{artist}", "sort": n("TrackId"), "limit": 30}
    )
    assert page.status_code == 200, page.text
    items = page.json()["items"]
    assert len(items) == 30
    expected = chinook.rows(
        f"SELECT t.{q(n('TrackId'))} AS track, a.{q(n('AlbumId'))} AS album, a.{q(n('Title'))} AS title, "
        f"r.{q(n('ArtistId'))} AS artist, r.{q(n('Name'))} AS name FROM {q(n('Track'))} t "
        f"JOIN {q(album)} a ON a.{q(n('AlbumId'))} = t.{q(n('AlbumId'))} "
        f"JOIN {q(artist)} r ON r.{q(n('ArtistId'))} = a.{q(n('ArtistId'))} ORDER BY t.{q(n('TrackId'))} LIMIT 30"
    )
    got = [
        {
            "track": i[n("TrackId")],
            "album": i[album][n("AlbumId")],
            "title": i[album][n("Title")],
            "artist": i[album][artist][n("ArtistId")],
            "name": i[album][artist][n("Name")],
        }
        for i in items
    ]
    assert got == expected
    # The next page keeps the include.
    cursor = page.json()["next_cursor"]
    following = chinook.reader.get(
        f"/{n('Track')}", params={"include": f"{album}.{artist}", "sort": n("TrackId"), "limit": 30, "cursor": cursor}
    ).json()["items"]
    assert following[0][n("TrackId")] == items[-1][n("TrackId")] + 1
    assert following[0][album][artist][n("Name")]


def test_a_to_many_list_is_capped_and_ordered_by_key(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    track, album = n("Track"), n("Album")
    biggest = chinook.rows(
        f"SELECT {q(n('AlbumId'))} AS id, count(*) AS tracks FROM {q(track)} GROUP BY {q(n('AlbumId'))} "
        f"ORDER BY count(*) DESC, {q(n('AlbumId'))} LIMIT 1"
    )[0]
    assert biggest["tracks"] > INCLUDED
    body = chinook.reader.get(f"/{album}/{biggest['id']}", params={"include": f"{track},{n('Artist')}"}).json()
    ids = [t[n("TrackId")] for t in body[track]]
    expected = chinook.rows(
        f"SELECT {q(n('TrackId'))} AS id FROM {q(track)} WHERE {q(n('AlbumId'))} = :album "
        f"ORDER BY {q(n('TrackId'))} LIMIT {INCLUDED}",
        album=biggest["id"],
    )
    assert ids == [r["id"] for r in expected]
    assert body[n("Artist")][n("ArtistId")] == body[n("ArtistId")]
    # Two levels down a to-many: each track's genre.
    tracks = chinook.reader.get(f"/{album}/1", params={"include": f"{track}.{n('Genre')}"}).json()[track]
    assert len(tracks) == chinook.scalar(f"SELECT count(*) FROM {q(track)} WHERE {q(n('AlbumId'))} = 1")
    assert {t[n("Genre")][n("GenreId")] for t in tracks} == {t[n("GenreId")] for t in tracks}


def test_a_self_reference_has_both_directions_named_apart(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    employee = n("Employee")
    reports = f"{employee}_by_{n('ReportsTo')}"
    body = chinook.reader.get(f"/{employee}/2", params={"include": f"{employee},{reports},{n('Customer')}"})
    assert body.status_code == 200, body.text
    row = body.json()
    assert row[employee][n("EmployeeId")] == row[n("ReportsTo")] == 1
    expected = chinook.rows(
        f"SELECT {q(n('EmployeeId'))} AS id FROM {q(employee)} WHERE {q(n('ReportsTo'))} = 2 "
        f"ORDER BY {q(n('EmployeeId'))}"
    )
    assert [e[n("EmployeeId")] for e in row[reports]] == [r["id"] for r in expected] != []
    assert row[n("Customer")] == []  # the sales manager supports no customer
    top = chinook.reader.get(f"/{employee}/1", params={"include": employee}).json()
    assert top[employee] is None  # no manager: null


def test_an_include_not_made_is_a_400_naming_the_parameter(chinook: Chinook) -> None:
    n = chinook.n
    for include in (f"{n('Album')}.{n('Artist')}.{n('Album')}", "Nothing", n("AlbumId")):
        answer = chinook.reader.get(f"/{n('Track')}", params={"include": include})
        assert answer.status_code == 400, (include, answer.text)
        assert answer.json()["errors"][0]["field"] == "include"
    # A table without foreign keys either way takes no include parameter.
    assert chinook.reader.get("/Gadget", params={"include": "x"}).status_code == 400
    schema = chinook.reader.get("/openapi.json").json()
    parameters = schema["paths"][f"/{n('Track')}"]["get"]["parameters"]
    assert any(p["name"] == "include" for p in parameters)
