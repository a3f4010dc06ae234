"""``ormgate serve`` through the installed console script: the summary, errors, access control, workers, 500 tables."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from tests.console import closed_port, error, run, running
from tests.serve.chinook import DATA, ROWS, extras

SECRET = "a-test-secret-of-at-least-32-bytes-long"

pytestmark = [pytest.mark.sqlite, pytest.mark.sqlalchemy, pytest.mark.xdist_group("serve-cli")]


@pytest.fixture
def chinook_file(tmp_path: Path) -> Path:
    """A copy of Chinook's SQLite file, with the extras (a view, an unserved column, ...)."""
    path = tmp_path / "chinook.sqlite"
    shutil.copyfile(DATA / "Chinook_Sqlite.sqlite", path)
    path.chmod(0o644)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for statement in extras("sqlite"):
            conn.execute(statement)
        conn.commit()
    return path


@contextlib.contextmanager
def serving(*args: str, env: dict[str, str] | None = None, ready: str = "/Genre") -> Iterator[tuple[str, str, int]]:
    """``ormgate serve`` running until it answers: its summary, its base URL and its pid."""
    with running("serve", *args, banner_end="docs  http", ready=ready, env=env) as (proc, summary, port):
        yield summary, f"http://127.0.0.1:{port}", proc.pid


def line_of(summary: str, name: str) -> str:
    return next(line for line in summary.splitlines() if line.startswith(f"│ {name} "))


def test_the_summary_and_a_read_only_api_over_http(chinook_file: Path) -> None:
    with serving("--database", f"sqlite:///{chinook_file}") as (summary, base, _):
        for table, rows in ROWS.items():
            row = line_of(summary, table)
            assert f"/{table}" in row
            assert f"{rows:,}" in row
            assert "read-only" in row
        assert "composite key: /PlaylistTrack/{PlaylistId}/{TrackId}" in line_of(summary, "PlaylistTrack")
        assert "list-only: a view" in line_of(summary, "Album Titles")
        assert "FK ArtistId -> Artist.ArtistId" in line_of(summary, "Album")
        assert "Gadget.Location" in summary
        assert "cannot be served as JSON" in summary
        assert "access: OPEN" in summary
        page = httpx.get(f"{base}/Track", params={"GenreId": 1, "limit": 3}).json()
        assert [t["GenreId"] for t in page["items"]] == [1, 1, 1]
        refused = httpx.post(f"{base}/Genre", json={"Name": "x"})
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD"
        assert httpx.get(f"{base}/docs").status_code == 200


def test_allow_writes_over_http(chinook_file: Path) -> None:
    with serving("--database", f"sqlite:///{chinook_file}", "--allow-writes") as (summary, base, _):
        assert "read-write" in line_of(summary, "Genre")
        assert "read-only" in line_of(summary, "Album Titles")
        created = httpx.post(f"{base}/Genre", json={"Name": "Chiptune"})
        assert created.status_code == 201
        assert httpx.delete(f"{base}/Genre/{created.json()['GenreId']}").status_code == 204
        assert httpx.delete(f"{base}/Artist/1").status_code == 409


def test_only_the_tables_asked_for(chinook_file: Path) -> None:
    args = ("--database", f"sqlite:///{chinook_file}", "--tables", "Album,Nope")
    with serving(*args, ready="/Album") as (summary, base, _):
        # Its foreign key names a table not served: still reported, still filtered on.
        assert "FK ArtistId -> Artist.ArtistId" in line_of(summary, "Album")
        assert "│ Artist " not in summary
        assert "no such table or view" in summary
        assert httpx.get(f"{base}/Artist").status_code == 404
        assert len(httpx.get(f"{base}/Album", params={"ArtistId": 1}).json()["items"]) == 2
    with serving("--database", f"sqlite:///{chinook_file}", "--exclude-tables", "Track") as (summary, base, _):
        assert "│ Track " not in summary
        assert "│ Album " in summary


def test_max_limit(chinook_file: Path) -> None:
    with serving("--database", f"sqlite:///{chinook_file}", "--max-limit", "20") as (_, base, _pid):
        assert httpx.get(f"{base}/Track", params={"limit": 20}).status_code == 200
        assert httpx.get(f"{base}/Track", params={"limit": 21}).status_code == 422
        assert len(httpx.get(f"{base}/Track").json()["items"]) == 20


def token(**claims: Any) -> str:
    return jwt.encode({"sub": "tester", "exp": int(time.time()) + 600, **claims}, SECRET, algorithm="HS256")


def test_a_bearer_jwt_on_every_request(chinook_file: Path) -> None:
    args = ("--database", f"sqlite:///{chinook_file}", "--allow-writes")
    with serving(*args, env={"ORMGATE_JWT_SECRET": SECRET}) as (summary, base, _):
        assert "OPEN" not in summary
        assert "bearer JWT" in summary
        missing = httpx.get(f"{base}/Genre")
        assert missing.status_code == 401
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        assert missing.json()["status"] == 401
        for bad in (
            "not-a-jwt",
            jwt.encode({"sub": "x"}, "another-secret-of-at-least-32-bytes", algorithm="HS256"),
            token(exp=int(time.time()) - 10),
        ):
            response = httpx.get(f"{base}/Genre", headers={"Authorization": f"Bearer {bad}"})
            assert response.status_code == 401, bad
            assert 'error="invalid_token"' in response.headers["www-authenticate"]
        reader = {"Authorization": f"Bearer {token()}"}
        assert httpx.get(f"{base}/Genre", headers=reader).status_code == 200
        forbidden = httpx.post(f"{base}/Genre", json={"Name": "x"}, headers=reader)
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"] == "application/problem+json"
        for grant in ({"ormgate": {"write": True}}, {"scope": "read ormgate:write"}):
            writer = {"Authorization": f"Bearer {token(**grant)}"}
            created = httpx.post(f"{base}/Genre", json={"Name": "x"}, headers=writer)
            assert created.status_code == 201, created.text
            assert httpx.delete(f"{base}/Genre/{created.json()['GenreId']}", headers=writer).status_code == 204
        # The docs and the document hold no row: open, and the document names the scheme.
        assert httpx.get(f"{base}/docs").status_code == 200
        # The document makes every table's routes first (with the include models, about 3 s more on a loaded
        # 2-core machine): more than httpx's default 5 s wait.
        document = httpx.get(f"{base}/openapi.json", timeout=60).json()
        assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tables", "a", "--exclude-tables", "b"], "error: give --tables or --exclude-tables, not both"),
        (["--tables", ","], "error: --tables / --exclude-tables name no table"),
        (["--tables", "Nope"], "error: nothing to serve in sqlite:///"),
    ],
)
def test_user_errors(args: list[str], message: str, chinook_file: Path) -> None:
    lines = error(run("serve", "--database", f"sqlite:///{chinook_file}", "--port", str(closed_port()), *args))
    assert lines[0].startswith(message), lines


def test_a_database_url_that_cannot_be_used(tmp_path: Path) -> None:
    lines = error(run("serve", "--database", "oracle://x/y"))
    assert lines[0] == "error: unknown database 'oracle' in 'oracle://x/y'"
    lines = error(run("serve", "--database", "sqlite:///missing.sqlite", cwd=tmp_path))
    assert lines[0] == "error: no SQLite database at 'missing.sqlite'"
    assert not (tmp_path / "missing.sqlite").exists()  # not made empty, as SQLite would
    port = closed_port()
    lines = error(run("serve", "--database", f"postgresql://postgres@127.0.0.1:{port}/x"))
    assert "PostgreSQL" in lines[0] or "connect" in lines[0]


def test_a_busy_port(chinook_file: Path) -> None:
    with serving("--database", f"sqlite:///{chinook_file}") as (_, base, _pid):
        port = base.rpartition(":")[2]
        lines = error(run("serve", "--database", f"sqlite:///{chinook_file}", "--port", port))
        assert lines[0] == f"error: port {port} on 127.0.0.1 is already in use"


# -- workers: uvicorn's processes, one cursor key -------------------------------------------------


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
    return found


def _owner(server_port: int, client_port: int, pids: list[int]) -> int | None:
    """The process holding the server's end of the connection from ``client_port``."""
    inode = None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = int(fields[1].rpartition(":")[2], 16), int(fields[2].rpartition(":")[2], 16)
            if local == server_port and remote == client_port:
                inode = fields[9]
    if inode is None:
        return None
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) == f"socket:[{inode}]":
                        return pid
    return None


def _get(port: int, path: str, workers: list[int]) -> tuple[int, dict[str, Any]]:
    """GET over a new connection, with a token: the worker that answered, and the body."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token()}"})
        response = conn.getresponse()
        body = json.loads(response.read())
        assert response.status == 200, body
        assert conn.sock is not None
        owner = _owner(port, conn.sock.getsockname()[1], workers)
        assert owner is not None
        return owner, body
    finally:
        conn.close()


def test_two_workers_share_the_cursor_key(chinook_file: Path) -> None:
    # The parent makes the cursor key; the workers inherit it, and the JWT secret too.
    env = {key: value for key, value in os.environ.items() if key != "ORMGATE_SECRET_KEY"}
    env["ORMGATE_JWT_SECRET"] = SECRET
    with serving("--database", f"sqlite:///{chinook_file}", "--workers", "2", env=env) as (summary, base, pid):
        assert "2 worker(s)" in summary
        assert httpx.get(f"{base}/Track").status_code == 401
        port = int(base.rpartition(":")[2])
        workers: list[int] = []
        deadline = time.monotonic() + 30
        while len(workers) < 2:
            workers = [p for child in _children(pid) for p in [child, *_children(child)]]
            assert time.monotonic() < deadline, "uvicorn did not start two workers"
            time.sleep(0.1)
        path, ids, answered_by, crossed = "/Track?limit=500", [], [], 0
        previous = None
        while path:
            # A new connection until the other worker takes it: every page on another worker than the last.
            for _ in range(200):
                worker, body = _get(port, path, workers)
                if worker != previous:
                    break
            assert worker != previous, "the kernel gave every connection to one worker"
            crossed += previous is not None
            previous = worker
            answered_by.append(worker)
            ids += [row["TrackId"] for row in body["items"]]
            path = f"/Track?limit=500&cursor={body['next_cursor']}" if body["next_cursor"] else ""
    assert len(set(answered_by)) == 2
    assert crossed == len(answered_by) - 1 >= 7  # each cursor was read by the worker that did not make it
    assert len(ids) == len(set(ids)) == ROWS["Track"]


# -- a large schema -------------------------------------------------------------------------------


def test_500_tables_start_in_reasonable_time(tmp_path: Path) -> None:
    path = tmp_path / "wide.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        for i in range(500):
            ref = f', parent_id INTEGER REFERENCES "t{i - 1:03}" (id)' if i else ""
            conn.execute(
                f'CREATE TABLE "t{i:03}" (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL, '
                f"price NUMERIC(10, 2), made TIMESTAMP{ref})"
            )
            conn.execute(f"INSERT INTO \"t{i:03}\" (name) VALUES ('row of t{i:03}')")
        conn.commit()
    started = time.monotonic()
    with serving("--database", f"sqlite:///{path}", ready="/t499") as (summary, base, _):
        elapsed = time.monotonic() - started
        assert "(500 resources" in summary
        assert httpx.get(f"{base}/t499", params={"parent_id": 1}).json()["items"] == []
        assert httpx.get(f"{base}/t250/1").json()["name"] == "row of t250"
    print(f"500 tables: serving after {elapsed:.1f} s")
    assert elapsed < 60


# -- the servers: Chinook as the suite loaded it ----------------------------------------------------


@pytest.mark.parametrize(
    "database",
    [
        pytest.param("postgresql", marks=[pytest.mark.postgresql, pytest.mark.xdist_group("serve-postgresql")]),
        pytest.param("mysql", marks=[pytest.mark.mysql, pytest.mark.xdist_group("serve-mysql")]),
    ],
)
def test_the_summary_on_a_server(
    database: str, chinook_databases: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from tests.databases import MY, PG
    from tests.serve.chinook import Names
    from tests.serve.conftest import loaded

    db = loaded(chinook_databases, database, tmp_path_factory.getbasetemp())
    n = Names(database)
    # PostgreSQL's trust authentication takes any password, and the summary must not show it.
    user, host = (PG if database == "postgresql" else MY).split("@")
    secret = ":n0t-shown" if database == "postgresql" else ""
    url = f"{'postgres' if database == 'postgresql' else 'mariadb'}://{user}{secret}@{host}/{db.name}"
    with serving("--database", url, ready=f"/{n('Genre')}") as (summary, base, _):
        assert "n0t-shown" not in summary
        assert ("***" in summary) == bool(secret)
        for table in ROWS:
            assert f"/{n(table)}" in line_of(summary, n(table))
        assert "Gadget.Location" in summary
        assert "list-only: a view" in line_of(summary, "Album Titles")
        body = httpx.get(f"{base}/{n('Track')}", params={"count": "true", "limit": 1}).json()
        assert body["total"] == ROWS["Track"]
        assert httpx.post(f"{base}/{n('Genre')}", json={n("Name"): "x"}).status_code == 405


@pytest.mark.postgresql
@pytest.mark.xdist_group("serve-postgresql")
def test_another_schema(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from tests.console import need
    from tests.databases import TestDatabase

    need("postgresql")
    db = TestDatabase("postgresql", "serve_schema", tmp_path)
    try:
        engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql('CREATE SCHEMA "Shop"')
            conn.exec_driver_sql('CREATE TABLE "Shop"."Item" ("Id" SERIAL PRIMARY KEY, "Name" TEXT NOT NULL)')
            conn.exec_driver_sql('INSERT INTO "Shop"."Item" ("Name") VALUES (\'kettle\')')
            conn.exec_driver_sql("CREATE TABLE public.elsewhere (id INT PRIMARY KEY)")
        engine.dispose()
        args = ("--database", db.sync_url, "--schema", "Shop", "--allow-writes")
        with serving(*args, ready="/Item") as (summary, base, _):
            assert "│ Item " in summary
            assert "elsewhere" not in summary
            assert httpx.get(f"{base}/Item").json()["items"] == [{"Id": 1, "Name": "kettle"}]
            created = httpx.post(f"{base}/Item", json={"Name": "pan"})
            assert created.json() == {"Id": 2, "Name": "pan"}
    finally:
        db.drop()
