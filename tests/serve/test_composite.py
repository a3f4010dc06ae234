"""A composite primary key written with --allow-writes: ``/PlaylistTrack/{PlaylistId}/{TrackId}``, on every driver."""

from __future__ import annotations

from tests.serve.chinook import ROWS
from tests.serve.conftest import Chinook


def free_track(c: Chinook, playlist: int, *, besides: int = 0) -> int:
    """A track not (yet) in ``playlist``."""
    n, q = c.n, c.q
    taken = {
        row["t"]
        for row in c.rows(
            f"SELECT {q(n('TrackId'))} AS t FROM {q(n('PlaylistTrack'))} WHERE {q(n('PlaylistId'))} = :p", p=playlist
        )
    }
    return next(t for t in range(1, ROWS["Track"] + 1) if t not in taken and t != besides)


def stored(c: Chinook, playlist: int) -> set[int]:
    n, q = c.n, c.q
    sql = f"SELECT {q(n('TrackId'))} AS t FROM {q(n('PlaylistTrack'))} WHERE {q(n('PlaylistId'))} = :p"
    return {row["t"] for row in c.rows(sql, p=playlist)}


def test_create_patch_replace_delete_by_both_segments(chinook: Chinook) -> None:
    n, w = chinook.n, chinook.writer
    path, pl, tr = f"/{n('PlaylistTrack')}", n("PlaylistId"), n("TrackId")
    before = stored(chinook, 18)
    first = free_track(chinook, 18)
    second = free_track(chinook, 18, besides=first)
    created = w.post(path, json={pl: 18, tr: first})
    assert created.status_code == 201, created.text
    assert created.json() == {pl: 18, tr: first}
    assert created.headers["location"] == f"{path}/18/{first}"
    try:
        got = w.get(created.headers["location"])
        assert got.status_code == 200
        assert got.headers["etag"] == created.headers["etag"]
        assert w.get(created.headers["location"], headers={"if-none-match": got.headers["etag"]}).status_code == 304
        # The same pair again: the key is taken. A track that does not exist: a foreign key refuses it.
        assert w.post(path, json={pl: 18, tr: first}).status_code == 409
        missing_fk = w.post(path, json={pl: 18, tr: 999999})
        assert missing_fk.status_code == 409, missing_fk.text
        assert missing_fk.headers["content-type"] == "application/problem+json"
        # If-Match guards the writes by key as it does elsewhere.
        stale = w.patch(f"{path}/18/{first}", json={tr: second}, headers={"if-match": '"stale"'})
        assert stale.status_code == 412
        assert stale.headers["content-type"] == "application/problem+json"
        patched = w.patch(f"{path}/18/{first}", json={tr: second}, headers={"if-match": got.headers["etag"]})
        assert patched.status_code == 200, patched.text
        assert patched.json() == {pl: 18, tr: second}
        assert stored(chinook, 18) == before | {second}
        assert w.get(f"{path}/18/{first}").status_code == 404
        bad = w.patch(f"{path}/18/{second}", json={tr: "x"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == tr
        assert w.patch(f"{path}/18/{second}", content=b"{}", headers={"content-type": "text/plain"}).status_code == 415
        assert w.put(f"{path}/18/{second}", json={pl: 18}).status_code == 422  # PUT wants every key column
        replaced = w.put(f"{path}/18/{second}", json={pl: 18, tr: first})
        assert replaced.status_code == 200, replaced.text
        assert replaced.json() == {pl: 18, tr: first}
        assert stored(chinook, 18) == before | {first}
        assert w.patch(f"{path}/18/{second}", json={tr: first}).status_code == 404
        assert w.delete(f"{path}/18/{first}", headers={"if-match": '"stale"'}).status_code == 412
    finally:
        for track in (first, second):
            w.delete(f"{path}/18/{track}")
    gone = w.delete(f"{path}/18/{first}")
    assert gone.status_code == 404
    assert gone.json()["detail"] == f"no {n('PlaylistTrack')} with {pl}=18, {tr}={first}"
    assert stored(chinook, 18) == before
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(n('PlaylistTrack'))}") == ROWS["PlaylistTrack"]


def test_bad_segments_and_bad_bodies_change_nothing(chinook: Chinook) -> None:
    n, w = chinook.n, chinook.writer
    path, pl, tr = f"/{n('PlaylistTrack')}", n("PlaylistId"), n("TrackId")
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        response = w.request(method, f"{path}/x/1", json={pl: 1, tr: 1})
        assert response.status_code == 422, (method, response.text)
        assert response.json()["errors"][0]["field"] == pl
    assert w.post(path, json={pl: 18}).status_code == 422
    assert w.post(path, json={pl: 18, tr: 1, "extra": 1}).status_code == 422
    assert w.delete(f"{path}/1/999999").status_code == 404
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(n('PlaylistTrack'))}") == ROWS["PlaylistTrack"]


def test_the_writes_by_key_are_documented(chinook: Chinook) -> None:
    n = chinook.n
    document = chinook.writer.get("/openapi.json").json()
    item = document["paths"][f"/{n('PlaylistTrack')}/{{{n('PlaylistId')}}}/{{{n('TrackId')}}}"]
    assert set(item) == {"get", "put", "patch", "delete"}
    names = [p["name"] for p in item["delete"]["parameters"] if p["in"] == "path"]
    assert names == [n("PlaylistId"), n("TrackId")]
    assert set(item["patch"]["responses"]) >= {"200", "404", "409", "412", "415", "422"}
    assert "post" in document["paths"][f"/{n('PlaylistTrack')}"]
    read_only = chinook.reader.get("/openapi.json").json()["paths"]
    assert set(read_only[f"/{n('PlaylistTrack')}/{{{n('PlaylistId')}}}/{{{n('TrackId')}}}"]) == {"get"}
