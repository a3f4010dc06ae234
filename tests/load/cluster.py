"""A PostgreSQL server of the test's own: initdb into a temporary directory, on a free loopback port.

The load test stops and restarts it, which it must never do to a server anything
else uses. Trust authentication, the socket in the same directory; removed after.
Run as root, the server runs as the ``postgres`` user (PostgreSQL refuses root).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg

# Where Debian and Ubuntu put the server's binaries; ORMGATE_TEST_PG_BIN overrides.
BINARIES = ("/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin")
# Sized for 3 workers, each with its pool or a connection per thread. fsync=off: the test stops the
# server, never the machine, so what was committed is in the OS's cache either way; commits are
# still synchronous (an acknowledged commit is in the WAL the server reads back).
SETTINGS = "-c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=32MB -c fsync=off"


def binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    for place in filter(None, (os.environ.get("ORMGATE_TEST_PG_BIN"), *BINARIES)):
        if (Path(place) / "pg_ctl").exists():
            return Path(place)
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Cluster:
    """A running server: ``url(scheme, name)`` reaches a database on it."""

    def __init__(self, bin_dir: Path, home: Path) -> None:
        self.bin_dir = bin_dir
        self.home = home
        self.data = home / "data"
        self.port = free_port()
        # PostgreSQL will not run as root: its tools run as the postgres user then.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        command = [*self.as_user, str(self.bin_dir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0 or not check, f"{' '.join(command)}: {done.stdout}{done.stderr}"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.home} {SETTINGS}"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast", *, check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=check)

    def url(self, scheme: str, name: str) -> str:
        return f"{scheme}://postgres@127.0.0.1:{self.port}/{name}"

    def connect(self, name: str = "postgres") -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=name, autocommit=True)

    def create_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f"CREATE DATABASE {name}")

    def terminate(self, name: str) -> int:
        """End every session on database ``name``: how many there were."""
        with self.connect() as conn:
            ended = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return len(ended)

    def log(self) -> str:
        return (self.home / "server.log").read_text(errors="replace")


@contextlib.contextmanager
def cluster(bin_dir: Path) -> Iterator[Cluster]:
    """A new server, started; stopped and removed at the end."""
    home = Path(tempfile.mkdtemp(prefix="ormgate-load-pg-"))
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(home, user.pw_uid, user.pw_gid)
        server = Cluster(bin_dir, home)
        server.init()
        server.start()
        try:
            yield server
        finally:
            server.stop("immediate", check=False)  # it may be down already
    finally:
        shutil.rmtree(home, ignore_errors=True)
