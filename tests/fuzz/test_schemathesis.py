"""schemathesis (a third-party fuzzer) against the users service, on every ORM and database: no finding.

Every check (``--checks all``) and every phase, the stateful one included,
against the app served by uvicorn on a free loopback port, as a client would
reach it, on a database made for the run and dropped after it. Bounded: a fixed
seed and number of examples per operation, so that a run sends the same
requests each time and takes seconds. What it found was fixed in the server
or in the OpenAPI document (docs/reliability.md lists each finding); nothing is
excluded or filtered here. The one configuration entry, 412 as an expected
answer to a request carrying If-Match, is justified in schemathesis.toml by
RFC 9110.
"""

from __future__ import annotations

import contextlib
import importlib
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from examples.users import common
from tests import databases
from tests.databases import PAIRS, REQUIRED, Pair, unavailable

# Each request is answered in milliseconds; a minute covers the whole run many times over.
SERVER_START = 60.0
RUN_TIMEOUT = 600
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 30  # per operation and phase: about a thousand requests a run, ten seconds or so
SEED = 12

# Every ORM on SQLite, PostgreSQL and MariaDB: each driver of tests/databases.py.
APPS = [
    pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)])
    for pair in PAIRS
]


@contextlib.contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` on uvicorn in a thread of this process, on a free loopback port: its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", ws="none", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[databases.TestDatabase]:
    """A fresh database for the pair under test, dropped after the run."""
    pair: Pair = request.node.callspec.params["pair"]
    why = unavailable(pair.database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        # The same words as tests/conftest.py, so that the summary lists the database as NOT tested.
        pytest.skip(f"DATABASE NOT TESTED: {why}")
    db = databases.TestDatabase(pair.database, f"fuzz_{pair.orm}", tmp_path)
    yield db
    db.drop()


def run_schemathesis(url: str, where: Path) -> tuple[subprocess.CompletedProcess[str], int, int]:
    """schemathesis against ``url``: the finished process, the test cases it generated and those that passed."""
    command = [
        *(sys.executable, "-c", "import sys; from schemathesis.cli import schemathesis; sys.exit(schemathesis())"),
        *("--config-file", str(CONFIG)),
        *("run", f"{url}/openapi.json", "--checks", "all"),
        *("--phases", "examples,coverage,fuzzing,stateful"),
        *("--max-examples", str(EXAMPLES), "--seed", str(SEED), "--workers", "1"),
        *("--generation-database", "none", "--request-timeout", "30", "--no-color"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, cwd=where, check=False)
    counts = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    generated, passed = (int(counts[1]), int(counts[2])) if counts else (0, 0)
    return run, generated, passed


@pytest.mark.parametrize("pair", APPS)
def test_schemathesis_finds_nothing(
    pair: Pair,
    database: databases.TestDatabase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Any,
) -> None:
    # Argon2 at the recommended cost takes a quarter of a second a hash and the fuzzer creates
    # hundreds of users: the same hasher, at its cheapest, keeps the run short. Hashing is not under test.
    monkeypatch.setattr(common, "hasher", PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),)))
    monkeypatch.setenv("ORMGATE_SECRET_KEY", "fuzz")
    app = importlib.import_module(f"examples.users.{pair.orm}_app").create_app(database.url(pair.scheme))
    started = time.monotonic()
    with served(app) as url:
        run, generated, passed = run_schemathesis(url, tmp_path)
    report = run.stdout + run.stderr
    record_property("schemathesis", f"{generated} cases in {time.monotonic() - started:.1f} s")
    assert run.returncode == 0, report
    # Every phase ran and every case passed: a phase that errors or finds nothing to test shows here.
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, report
    assert generated > 500, report
    assert passed == generated, report
