"""What the ``ormgate`` command checks before it serves, each failure as a short message, not a traceback.

A database URL is read once here, for every ORM: ``postgres://`` and ``postgresql://`` are
PostgreSQL, ``mysql://`` and ``mariadb://`` MySQL/MariaDB, and a URL without a driver gets
the one ormgate's extras install (psycopg, PyMySQL). The URL handed to the ORM spells the
driver out, which SQLAlchemy, Django and Peewee all accept.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

URL_SHAPE = "dialect[+driver]://user[:password]@host[:port]/database, or sqlite:///path/to/file.sqlite3"
CONNECT_TIMEOUT = 5  # seconds


class Problem(Exception):
    """A user error: its message (one line) and an optional hint (a second line)."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Driver:
    module: str  # what to import
    extra: str | None  # the ormgate extra that installs it (None: the standard library)
    is_async: bool


@dataclass(frozen=True)
class Dialect:
    name: str  # the scheme SQLAlchemy, Django and Peewee read
    label: str
    default: str  # the driver when the URL names none
    drivers: dict[str, Driver]


DIALECTS = {
    "sqlite": Dialect(
        "sqlite",
        "SQLite",
        "pysqlite",
        {"pysqlite": Driver("sqlite3", None, False), "aiosqlite": Driver("aiosqlite", "sqlalchemy", True)},
    ),
    "postgresql": Dialect(
        "postgresql",
        "PostgreSQL",
        "psycopg",
        {"psycopg": Driver("psycopg", "postgresql", False), "asyncpg": Driver("asyncpg", "postgresql", True)},
    ),
    "mysql": Dialect(
        "mysql",
        "MySQL/MariaDB",
        "pymysql",
        {"pymysql": Driver("pymysql", "mysql", False), "aiomysql": Driver("aiomysql", "mysql", True)},
    ),
}
# The schemes people write, as most tools read them.
SCHEMES = {
    "sqlite": "sqlite",
    "postgresql": "postgresql",
    "postgres": "postgresql",
    "mysql": "mysql",
    "mariadb": "mysql",
}
# Each ORM's package and extra; Django and Peewee run on sync drivers only.
ORMS = {"sqlalchemy": ("sqlalchemy", True), "django": ("django", False), "peewee": ("peewee", False)}

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")


def masked(url: str) -> str:
    """``url`` with its password, if any, shown as ``***``: for banners and error messages."""
    return _PASSWORD.sub(r"\1***@", url)


@dataclass(frozen=True)
class DatabaseURL:
    dialect: Dialect
    driver_name: str
    parts: SplitResult
    rest: str  # what follows "://", as written (urlunsplit would drop sqlite:///'s empty host)

    @property
    def driver(self) -> Driver:
        return self.dialect.drivers[self.driver_name]

    @property
    def url(self) -> str:
        """The URL with its driver spelled out, for the ORM (the password kept)."""
        scheme = self.dialect.name if self.driver_name == "pysqlite" else f"{self.dialect.name}+{self.driver_name}"
        return f"{scheme}://{self.rest}"

    @property
    def shown(self) -> str:
        return masked(self.url)

    @property
    def database(self) -> str:
        return unquote(self.parts.path[1:])

    @property
    def where(self) -> str:
        host = self.parts.hostname or "localhost"
        return f"{host}:{self.parts.port}" if self.parts.port else host


def parse(url: str) -> DatabaseURL:
    """Read a database URL, or say what is wrong with it."""
    shown = masked(url)
    if "://" not in url:
        raise Problem(f"cannot read the database URL {shown!r}", f"expected {URL_SHAPE}")
    parts = urlsplit(url)
    scheme, _, driver = parts.scheme.lower().partition("+")
    if not scheme or scheme not in SCHEMES:
        known = ", ".join(f"{s}://" for s in SCHEMES)
        raise Problem(
            f"unknown database {parts.scheme or url.split('://')[0]!r} in {shown!r}", f"ormgate opens {known}"
        )
    dialect = DIALECTS[SCHEMES[scheme]]
    driver = driver or dialect.default
    if driver not in dialect.drivers:
        choices = " or ".join(f"{dialect.name}+{d}://" for d in dialect.drivers)
        raise Problem(f"unknown {dialect.label} driver {driver!r} in {shown!r}", f"use {choices}")
    try:
        parts.port  # noqa: B018 (reading it is the check)
    except ValueError:
        raise Problem(f"cannot read the port in the database URL {shown!r}", f"expected {URL_SHAPE}") from None
    if dialect.name != "sqlite" and not parts.path.strip("/"):
        raise Problem(f"the database URL {shown!r} names no database", f"expected {URL_SHAPE}")
    if dialect.name == "sqlite" and (parts.netloc or not parts.path.strip("/")):
        raise Problem(
            f"cannot read the SQLite URL {shown!r}", "expected sqlite:///relative/path.sqlite3 or sqlite:////absolute"
        )
    return DatabaseURL(dialect, driver, parts, url.partition("://")[2])


def require(module: str, extra: str | None, what: str) -> None:
    """Import ``module`` or say which ``pip install`` brings it."""
    try:
        importlib.import_module(module)
    except ImportError as exc:
        install = f"pip install 'ormgate[{extra}]'" if extra else f"pip install {module}"
        raise Problem(f"{what} is not installed ({exc})", f"install it with: {install}") from None


def check_drivers(db: DatabaseURL, orm: str) -> None:
    """The ORM and the driver the URL needs are installed, and go together."""
    package, takes_async = ORMS[orm]
    if db.driver.is_async and not takes_async:
        sync = next(name for name, d in db.dialect.drivers.items() if not d.is_async)
        raise Problem(
            f"--orm {orm} runs on sync drivers, not {db.driver_name}",
            f"use {db.dialect.name}://… (or {db.dialect.name}+{sync}://…)",
        )
    require(package, orm, f"the {orm} ORM (package {package})")
    require(db.driver.module, db.driver.extra, f"the {db.dialect.label} driver {db.driver_name}")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) for the server, or why it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise Problem(f"cannot listen on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Problem(
                f"port {port} on {host} is already in use", "stop what serves there, or pick another --port"
            ) from None
        raise Problem(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


# -- a real connection, before the banner says the API is up ---------------------------------


def _pg_login(db: DatabaseURL) -> dict[str, Any]:
    """The server and login a PostgreSQL URL names, as psycopg's and asyncpg's ``connect`` take them."""
    p = db.parts
    return {
        "host": p.hostname,
        "port": p.port,
        "user": unquote(p.username or "") or None,
        "password": unquote(p.password or "") or None,
    }


def _psycopg(db: DatabaseURL) -> None:
    import psycopg

    # The URL's libpq settings (sslmode=require, ...) apply to this connection as to the app's;
    # an ORM's own options (Peewee's max_connections) are not libpq's and stay out.
    libpq = {d.keyword.decode() for d in psycopg.pq.Conninfo.get_defaults()}
    settings: dict[str, Any] = {key: value for key, value in parse_qsl(db.parts.query) if key in libpq}
    conn = psycopg.connect(**settings, **_pg_login(db), dbname=db.database, connect_timeout=CONNECT_TIMEOUT)
    conn.close()


def _asyncpg(db: DatabaseURL) -> None:
    import asyncpg  # type: ignore[import-untyped]

    async def connect() -> None:
        conn = await asyncpg.connect(**_pg_login(db), database=db.database, timeout=CONNECT_TIMEOUT)
        await conn.close()

    asyncio.run(connect())


def _mysql_options(db: DatabaseURL) -> dict[str, Any]:
    p = db.parts
    options: dict[str, Any] = {
        "host": p.hostname or "localhost",
        "user": unquote(p.username or "") or None,
        "password": unquote(p.password or ""),
        "connect_timeout": CONNECT_TIMEOUT,
    }
    return {**options, "port": p.port} if p.port else options


def _pymysql(db: DatabaseURL) -> None:
    import pymysql

    pymysql.connect(database=db.database, **_mysql_options(db)).close()


def _aiomysql(db: DatabaseURL) -> None:
    import aiomysql

    async def connect() -> None:
        conn = await aiomysql.connect(db=db.database, **_mysql_options(db))
        conn.close()

    asyncio.run(connect())


def _sqlite(db: DatabaseURL) -> None:
    # SQLite makes the file; it cannot make the directory.
    folder = Path(db.database).parent
    if not folder.is_dir():
        raise Problem(f"cannot open the SQLite database {db.database!r}: the directory {str(folder)!r} does not exist")


PROBES: dict[str, Callable[[DatabaseURL], None]] = {
    "pysqlite": _sqlite,
    "aiosqlite": _sqlite,
    "psycopg": _psycopg,
    "asyncpg": _asyncpg,
    "pymysql": _pymysql,
    "aiomysql": _aiomysql,
}

_NO_DATABASE = re.compile(r'database "[^"]*" does not exist')


def _codes(exc: BaseException) -> tuple[Any, Any]:
    args = getattr(exc, "args", ())
    return getattr(exc, "sqlstate", None), args[0] if args and isinstance(args[0], int) else None


def connect(db: DatabaseURL) -> None:
    """Open and close one connection, or say why it cannot be opened."""
    try:
        PROBES[db.driver_name](db)
    except Problem:
        raise
    except Exception as exc:
        raise _connection_problem(db, exc) from None


def _connection_problem(db: DatabaseURL, exc: Exception) -> Problem:
    sqlstate, code = _codes(exc)
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    # pymysql and aiomysql: (code, message); psycopg: "connection failed: ... failed: <why>".
    reason = str(exc.args[1]) if code is not None and len(exc.args) > 1 else first.split("failed: ")[-1].strip()
    if isinstance(exc, socket.gaierror):  # asyncpg, an unknown host
        reason = f"cannot resolve the host: {exc.strerror}"
    elif isinstance(exc, OSError) and exc.errno:  # asyncpg: "Connect call failed (...)"
        reason = os.strerror(exc.errno)
    label = db.dialect.label
    if sqlstate == "3D000" or code == 1049 or _NO_DATABASE.search(first):
        host, user = db.parts.hostname or "localhost", db.parts.username
        if db.dialect.name == "postgresql":
            create = f"createdb -h {host} -U {user or 'postgres'} {db.database}"
        else:
            create = f"mysql -h {host} -u {user or 'root'} -e 'CREATE DATABASE {db.database}'"
        return Problem(
            f"database {db.database!r} does not exist on the {label} server at {db.where}", f"create it first: {create}"
        )
    # No server answered (psycopg: "connection failed: ... Connection refused"), rather than
    # one that answered no (FATAL: password authentication failed) or a setting it refused.
    silent = "FATAL" not in first and ("connection failed" in first or "resolve host" in first)
    unreachable = isinstance(exc, OSError) or code in (2003, 2005) or (sqlstate is None and code is None and silent)
    if unreachable:
        return Problem(
            f"cannot reach the {label} server at {db.where}: {reason}",
            "is it running, and is this its address? (the URL was " + db.shown + ")",
        )
    return Problem(f"cannot connect to {db.shown}: {reason}")
