"""A read-only ``ormgate serve`` changes nothing in the database it serves (see docs/serve.md, "Read-only").

SQLite: the file is opened read-only (no WAL switch, no -wal/-shm left, servable from a
read-only file in a read-only directory). PostgreSQL and MariaDB: the served sessions are
read-only at the database, so a write through the engine is refused by the server itself.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from ormgate.serve import ServedAPI, ServeOptions, build
from tests.serve.chinook import DATA
from tests.serve.conftest import KEY, Chinook
from tests.serve.test_cli import serving

# Bytes 18 and 19 of a SQLite file's header: 1 for a rollback journal (DELETE, TRUNCATE, ...), 2 for WAL.
ROLLBACK = b"\x01\x01"


def journal_mode(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return str(conn.execute("PRAGMA journal_mode").fetchone()[0])


def side_files(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


@pytest.fixture
def chinook_copy(tmp_path: Path) -> Iterator[Path]:
    """Chinook's SQLite file alone in a directory of its own, in rollback-journal (DELETE) mode."""
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "chinook.sqlite"
    shutil.copyfile(DATA / "Chinook_Sqlite.sqlite", path)
    path.chmod(0o644)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
    assert path.read_bytes()[18:20] == ROLLBACK
    assert side_files(path) == []
    yield path
    folder.chmod(0o755)
    path.chmod(0o644)


def requests(client: TestClient | httpx.Client) -> None:
    """A few reads of every kind: a list with a count, an item, a filter, a cursor page, the document."""
    page = client.get("/Track", params={"limit": 5, "count": "true", "sort": "-Milliseconds"})
    assert page.status_code == 200, page.text
    assert page.json()["total"] == 3503
    second = client.get("/Track", params={"limit": 5, "sort": "-Milliseconds", "cursor": page.json()["next_cursor"]})
    assert second.status_code == 200, second.text
    assert client.get("/Album/1").json()["Title"] == "For Those About To Rock We Salute You"
    assert client.get("/PlaylistTrack/1/3402").status_code == 200
    assert len(client.get("/Album", params={"ArtistId": 90}).json()["items"]) > 1
    assert client.get("/openapi.json").status_code == 200
    assert client.post("/Genre", json={"Name": "x"}).status_code == 405


def shut(client: TestClient, api: ServedAPI) -> None:
    engine = api.engine
    if isinstance(engine, AsyncEngine):
        assert client.portal is not None
        client.portal.call(engine.dispose)
    elif engine is not None:
        engine.dispose()
    client.__exit__(None, None, None)


def serve_and_read(path: Path, scheme: str) -> ServedAPI:
    api = build(ServeOptions(f"{scheme}:///{path}"), cursor_key=KEY, count_rows=True)
    client = TestClient(api.app, raise_server_exceptions=False).__enter__()
    try:
        requests(client)
        assert side_files(path) == []  # no -wal, -shm or -journal while serving either
    finally:
        shut(client, api)
    return api


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
@pytest.mark.xdist_group("serve-cli")
@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite"])
def test_a_read_only_serve_leaves_the_sqlite_file_byte_for_byte(chinook_copy: Path, scheme: str) -> None:
    before = chinook_copy.read_bytes()
    serve_and_read(chinook_copy, scheme)
    assert chinook_copy.read_bytes() == before
    assert journal_mode(chinook_copy) == "delete"
    assert side_files(chinook_copy) == []


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
@pytest.mark.xdist_group("serve-cli")
@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+aiosqlite"])
def test_a_read_only_file_in_a_read_only_directory_is_served(chinook_copy: Path, scheme: str) -> None:
    before = chinook_copy.read_bytes()
    chinook_copy.chmod(0o444)
    chinook_copy.parent.chmod(0o555)
    serve_and_read(chinook_copy, scheme)
    assert chinook_copy.read_bytes() == before
    assert side_files(chinook_copy) == []


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
@pytest.mark.xdist_group("serve-cli")
def test_a_write_through_the_read_only_sqlite_engine_is_refused(chinook_copy: Path) -> None:
    api = build(ServeOptions(f"sqlite:///{chinook_copy}"), cursor_key=KEY)
    assert isinstance(api.engine, sa.Engine)
    try:
        with pytest.raises(sa.exc.OperationalError, match="readonly database"), api.engine.begin() as conn:
            conn.execute(sa.text("UPDATE Genre SET Name = 'changed' WHERE GenreId = 1"))
        with api.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT Name FROM Genre WHERE GenreId = 1")).scalar() == "Rock"
    finally:
        api.engine.dispose()
    assert side_files(chinook_copy) == []


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
@pytest.mark.xdist_group("serve-cli")
def test_the_console_script_leaves_the_file_as_it_was(chinook_copy: Path) -> None:
    before = chinook_copy.read_bytes()
    with serving("--database", f"sqlite:///{chinook_copy}", ready="/Track") as (_, base, _pid):
        with httpx.Client(base_url=base, timeout=60) as client:
            requests(client)
        assert side_files(chinook_copy) == []
    assert chinook_copy.read_bytes() == before
    assert journal_mode(chinook_copy) == "delete"
    assert side_files(chinook_copy) == []


@pytest.mark.sqlite
@pytest.mark.sqlalchemy
@pytest.mark.xdist_group("serve-cli")
def test_allow_writes_puts_the_file_in_wal_mode(chinook_copy: Path) -> None:
    api = build(ServeOptions(f"sqlite:///{chinook_copy}", allow_writes=True), cursor_key=KEY)
    client = TestClient(api.app, raise_server_exceptions=False).__enter__()
    try:
        created = client.post("/Genre", json={"Name": "Written"})
        assert created.status_code == 201, created.text
    finally:
        shut(client, api)
    assert journal_mode(chinook_copy) == "wal"  # as documented: --allow-writes is the mode that may change the file


def _write(engine: sa.Engine | AsyncEngine | None, sql: str, client: TestClient) -> Any:
    """Run ``sql`` in a transaction of the served engine, on the app's own event loop for an async one."""
    if isinstance(engine, AsyncEngine):

        async def write() -> None:
            async with engine.begin() as conn:
                await conn.execute(sa.text(sql))

        assert client.portal is not None
        return client.portal.call(write)
    assert isinstance(engine, sa.Engine)
    with engine.begin() as conn:
        conn.execute(sa.text(sql))


def test_the_database_refuses_a_write_through_the_read_only_engine(chinook: Chinook) -> None:
    n, q = chinook.n, chinook.q
    genre = f"UPDATE {q(n('Genre'))} SET {q(n('Name'))} = 'changed' WHERE {q(n('GenreId'))} = 1"
    refused = {
        "sqlite": "readonly database",
        "postgresql": "read-only transaction",
        "mysql": "READ ONLY transaction",
    }[chinook.database]
    with pytest.raises(sa.exc.DBAPIError, match=refused):
        _write(chinook.read.engine, genre, chinook.reader)
    assert chinook.scalar(f"SELECT {q(n('Name'))} FROM {q(n('Genre'))} WHERE {q(n('GenreId'))} = 1") == "Rock"
    # The read-only API still reads, after the refusal, on the same pool.
    assert chinook.reader.get(f"/{n('Genre')}/1").json()[n("Name")] == "Rock"
    # --allow-writes is not read-only: the same statement (undone at once) passes.
    undo = f"UPDATE {q(n('Genre'))} SET {q(n('Name'))} = 'Rock' WHERE {q(n('GenreId'))} = 1"
    _write(chinook.write.engine, genre, chinook.writer)
    _write(chinook.write.engine, undo, chinook.writer)
