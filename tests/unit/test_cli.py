"""The installed ``ormgate`` console script: each user error is a line or two on stderr and exit 1, no traceback."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import textwrap
import uuid
from pathlib import Path

import httpx
import pytest

import ormgate
from tests import databases
from tests.console import closed_port, error, need, run, running
from tests.databases import MY, PG

NO_SUCH_DATABASE = f"ormgate_missing_{uuid.uuid4().hex[:8]}"


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0
    assert result.stdout == f"ormgate {ormgate.__version__}\n"


# -- ormgate demo: the database URL ---------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "message", "hint"),
    [
        ("localhost/app", "error: cannot read the database URL 'localhost/app'", "expected dialect[+driver]://"),
        (
            "oracle://scott:tiger@db/app",
            "error: unknown database 'oracle' in 'oracle://scott:***@db/app'",
            "ormgate opens sqlite://, postgresql://, postgres://, mysql://, mariadb://",
        ),
        (
            "postgresql+pg8000://u:pw@db/app",
            "error: unknown PostgreSQL driver 'pg8000' in 'postgresql+pg8000://u:***@db/app'",
            "use postgresql+psycopg:// or postgresql+asyncpg://",
        ),
        (
            "postgres://u@db:fivefour/app",
            "error: cannot read the port in the database URL 'postgres://u@db:fivefour/app'",
            "expected",
        ),
        ("mysql://root@db", "error: the database URL 'mysql://root@db' names no database", "expected"),
        ("sqlite://", "error: cannot read the SQLite URL 'sqlite://'", "expected sqlite:///relative"),
        (
            "sqlite:///no/such/folder/app.sqlite3",
            "error: cannot open the SQLite database 'no/such/folder/app.sqlite3': "
            "the directory 'no/such/folder' does not exist",
            None,
        ),
    ],
)
def test_a_database_url_that_cannot_be_used(url: str, message: str, hint: str | None, tmp_path: Path) -> None:
    lines = error(run("demo", "--database", url, "--port", str(closed_port()), cwd=tmp_path))
    assert lines[0] == message
    if hint is None:
        assert len(lines) == 1
    else:
        assert hint in lines[1]
    assert "tiger" not in lines[0]
    assert ":pw@" not in lines[0]


def test_django_and_peewee_need_a_sync_driver() -> None:
    for orm in ("django", "peewee"):
        lines = error(run("demo", "--orm", orm, "--database", "postgresql+asyncpg://u@127.0.0.1/app"))
        assert lines == [
            f"error: --orm {orm} runs on sync drivers, not asyncpg",
            "  use postgresql://… (or postgresql+psycopg://…)",
        ]


def test_an_unknown_orm_is_a_usage_error() -> None:
    result = run("demo", "--orm", "pony")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "Error: Invalid value for '--orm': 'pony' is not one of 'sqlalchemy', 'django', 'peewee'." in result.stderr


@pytest.mark.parametrize(
    ("url", "orm", "hidden", "message", "install"),
    [
        (
            "postgresql+asyncpg://u@127.0.0.1/app",
            "sqlalchemy",
            "asyncpg",
            "the PostgreSQL driver asyncpg",
            "postgresql",
        ),
        ("postgres://u@127.0.0.1/app", "peewee", "psycopg", "the PostgreSQL driver psycopg", "postgresql"),
        ("mariadb://root@127.0.0.1/app", "django", "pymysql", "the MySQL/MariaDB driver pymysql", "mysql"),
        ("sqlite:///app.sqlite3", "django", "django", "the django ORM (package django)", "django"),
        ("sqlite+aiosqlite:///app.sqlite3", "sqlalchemy", "aiosqlite", "the SQLite driver aiosqlite", "sqlalchemy"),
        ("sqlite:///app.sqlite3", "peewee", "pwdlib", "the demo's password hashing (pwdlib)", "users"),
    ],
)
def test_a_missing_driver_names_the_extra_that_brings_it(
    url: str, orm: str, hidden: str, message: str, install: str, tmp_path: Path
) -> None:
    # The package is installed here: a module of the same name, first on the path, hides it.
    missing = f"No module named {hidden!r}"
    (tmp_path / f"{hidden}.py").write_text(f"raise ModuleNotFoundError({missing!r}, name={hidden!r})\n")
    lines = error(run("demo", "--orm", orm, "--database", url, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}))
    assert lines[0] == f"error: {message} is not installed (No module named '{hidden}')"
    assert lines[1] == f"  install it with: pip install 'ormgate[{install}]'"


@pytest.mark.parametrize(
    ("scheme", "label"),
    [
        ("postgresql", "PostgreSQL"),
        ("postgres", "PostgreSQL"),
        ("postgresql+asyncpg", "PostgreSQL"),
        ("mysql", "MySQL/MariaDB"),
        ("mariadb+aiomysql", "MySQL/MariaDB"),
    ],
)
def test_an_unreachable_database(scheme: str, label: str) -> None:
    port = closed_port()
    lines = error(run("demo", "--database", f"{scheme}://someone:s3cret@127.0.0.1:{port}/app"))
    assert lines[0].startswith(f"error: cannot reach the {label} server at 127.0.0.1:{port}: ")
    assert "refused" in lines[0].lower() or "can't connect" in lines[0].lower()
    assert lines[1].startswith("  is it running, and is this its address?")
    assert "s3cret" not in lines[1]
    assert "someone:***@" in lines[1]


@pytest.mark.parametrize(
    ("scheme", "label"), [("postgres", "PostgreSQL"), ("postgresql+asyncpg", "PostgreSQL"), ("mysql", "MySQL/MariaDB")]
)
def test_an_unknown_host(scheme: str, label: str) -> None:
    lines = error(run("demo", "--database", f"{scheme}://someone@no-such-host.invalid/app"))
    assert lines[0].startswith(f"error: cannot reach the {label} server at no-such-host.invalid: ")
    assert "Name or service not known" in lines[0] or "resolve" in lines[0]


def test_a_setting_the_driver_refuses() -> None:
    # The URL's libpq settings apply to the check as to the app: refused before the banner.
    url = f"postgresql://someone:s3cret@127.0.0.1:{closed_port()}/app?sslmode=bogus"
    lines = error(run("demo", "--database", url))
    masked = url.replace("s3cret", "***").replace("postgresql:", "postgresql+psycopg:")
    assert lines == [f'error: cannot connect to {masked}: connection is bad: invalid sslmode value: "bogus"']


@pytest.mark.mysql
def test_a_refused_login() -> None:
    need("mysql")
    host = MY.partition("@")[2]
    lines = error(run("demo", "--database", f"mariadb://nobody_{NO_SUCH_DATABASE}:s3cret@{host}/mysql"))
    assert lines[0].startswith(f"error: cannot connect to mysql+pymysql://nobody_{NO_SUCH_DATABASE}:***@{host}/mysql: ")
    assert "Access denied" in lines[0]


@pytest.mark.postgresql
@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg", "postgresql+asyncpg"])
def test_a_missing_postgresql_database(scheme: str) -> None:
    need("postgresql")
    for orm in ("sqlalchemy", "django", "peewee") if "asyncpg" not in scheme else ("sqlalchemy",):
        lines = error(run("demo", "--orm", orm, "--database", f"{scheme}://{PG}/{NO_SUCH_DATABASE}"))
        host = PG.partition("@")[2]
        assert lines == [
            f"error: database '{NO_SUCH_DATABASE}' does not exist on the PostgreSQL server at {host}",
            f"  create it first: createdb -h {host.partition(':')[0]} -U postgres {NO_SUCH_DATABASE}",
        ]


@pytest.mark.mysql
@pytest.mark.parametrize("scheme", ["mysql", "mariadb", "mysql+aiomysql"])
def test_a_missing_mariadb_database(scheme: str) -> None:
    need("mysql")
    lines = error(run("demo", "--database", f"{scheme}://{MY}/{NO_SUCH_DATABASE}"))
    host = MY.partition("@")[2]
    assert lines == [
        f"error: database '{NO_SUCH_DATABASE}' does not exist on the MySQL/MariaDB server at {host}",
        f"  create it first: mysql -h {host.partition(':')[0]} -u root -e 'CREATE DATABASE {NO_SUCH_DATABASE}'",
    ]


def test_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        lines = error(run("demo", "--port", str(port), "--database", f"sqlite:///{tmp_path}/demo.sqlite3"))
    assert lines == [
        f"error: port {port} on 127.0.0.1 is already in use",
        "  stop what serves there, or pick another --port",
    ]


# -- ormgate demo: serving -----------------------------------------------------------------


def serve(*args: str, cwd: Path) -> contextlib.AbstractContextManager[tuple[subprocess.Popen[str], str, int]]:
    """``ormgate demo`` running until its banner is out and it answers: the process, the banner and the port."""
    return running("demo", *args, banner_end="docs", ready="/users", cwd=cwd)


def test_the_demo_serves_on_sqlite(tmp_path: Path) -> None:
    with serve("--database", "sqlite:///demo.sqlite3", cwd=tmp_path) as (proc, banner, port):
        assert "users API on sqlalchemy / sqlite:///demo.sqlite3 (SQLite)" in banner
        assert f"docs  http://127.0.0.1:{port}/docs" in banner
        assert httpx.get(f"http://127.0.0.1:{port}/docs").status_code == 200
        assert proc.poll() is None
    assert (tmp_path / "demo.sqlite3").exists()


@pytest.mark.postgresql
@pytest.mark.parametrize("orm", ["sqlalchemy", "django", "peewee"])
def test_the_banner_never_shows_the_password(orm: str, tmp_path: Path) -> None:
    need("postgresql")
    db = databases.TestDatabase("postgresql", orm, tmp_path)
    try:
        # Trust authentication: the server takes any password, the banner must not print it.
        user, host = PG.split("@")
        url = f"postgres://{user}:n0t-shown@{host}/{db.name}"
        with serve("--orm", orm, "--database", url, cwd=tmp_path) as (_, banner, port):
            assert "n0t-shown" not in banner
            assert f"postgresql+psycopg://{user}:***@{host}/{db.name} (PostgreSQL)" in banner
            assert httpx.get(f"http://127.0.0.1:{port}/users").json()["items"] == []
    finally:
        db.drop()


# -- ormgate openapi / routes: an app found as uvicorn finds it ----------------------------

SHOP = """
from fastapi import FastAPI

app = FastAPI(title="shop")


@app.get("/items")
def items() -> list[str]:
    return []


def create_app(title: str = "made", *, path: str = "/made") -> FastAPI:
    made = FastAPI(title=title)
    made.get(path)(items)
    return made


not_an_app = 3
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "shop.py").write_text(textwrap.dedent(SHOP))
    (tmp_path / "broken.py").write_text("import not_installed_anywhere\n")
    return tmp_path


def test_openapi_and_routes_find_a_module_in_the_current_directory(project: Path) -> None:
    result = run("openapi", "shop:app", cwd=project)
    assert result.returncode == 0, result.stderr
    assert '"title": "shop"' in result.stdout
    assert '"/items"' in result.stdout
    result = run("routes", "shop:app", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "/items" in result.stdout
    assert "GET" in result.stdout
    result = run("routes", "shop:app", "--app-dir", str(project))  # from elsewhere
    assert result.returncode == 0, result.stderr
    assert "/items" in result.stdout


def test_an_app_factory_with_and_without_arguments(project: Path) -> None:
    result = run("openapi", "shop:create_app", "--factory", cwd=project)
    assert result.returncode == 0, result.stderr
    assert '"title": "made"' in result.stdout
    result = run("openapi", "shop:create_app('custom', path='/custom')", cwd=project)
    assert result.returncode == 0, result.stderr
    assert '"title": "custom"' in result.stdout
    assert '"/custom"' in result.stdout
    result = run("routes", 'shop:create_app("x", path="/x")', "--factory", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "/x" in result.stdout


@pytest.mark.parametrize(
    ("target", "options", "lines"),
    [
        ("nowhere:app", [], ["error: no module 'nowhere' in {project} or on the Python path"]),
        ("broken:app", [], ["error: importing 'broken' failed: No module named 'not_installed_anywhere'"]),
        ("shop:nope", [], ["error: module 'shop' has no attribute 'nope'", "  it has: app"]),
        (
            "shop:create_app",
            [],
            ["error: shop:create_app is a function, not a FastAPI app", "  if it makes one, add --factory"],
        ),
        ("shop:not_an_app", [], ["error: shop:not_an_app is a int, not a FastAPI app"]),
        (
            "shop:not_an_app",
            ["--factory"],
            ["error: shop:not_an_app is not callable, so not an app factory", "  drop --factory"],
        ),
        (
            "shop:create_app(title=open)",
            [],
            ["error: cannot read the factory call in 'shop:create_app(title=open)'"],
        ),
    ],
)
@pytest.mark.parametrize("command", ["openapi", "routes"])
def test_an_app_that_cannot_be_loaded(
    command: str, target: str, options: list[str], lines: list[str], project: Path
) -> None:
    got = error(run(command, target, *options, cwd=project))
    expected = [line.format(project=project) for line in lines]
    assert got[: len(expected)] == expected


@pytest.mark.mysql
@pytest.mark.parametrize("orm", ["sqlalchemy", "django", "peewee"])
def test_the_demo_serves_on_a_mariadb_url(orm: str, tmp_path: Path) -> None:
    need("mysql")
    db = databases.TestDatabase("mysql", orm, tmp_path)
    try:
        with serve("--orm", orm, "--database", f"mariadb://{MY}/{db.name}", cwd=tmp_path) as (_, banner, port):
            assert f"mysql+pymysql://{MY}/{db.name} (MySQL/MariaDB)" in banner
            assert httpx.get(f"http://127.0.0.1:{port}/users").json()["items"] == []
    finally:
        db.drop()
