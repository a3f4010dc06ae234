"""schemathesis (a third-party fuzzer) against the users service, on every ORM and database: no finding.

Every check (``--checks all``) and every phase, the stateful one included,
against the app served by uvicorn on a free loopback port, as a client would
reach it, on a database made for the run and dropped after it. Bounded: a fixed
seed and number of examples per operation, so that a run sends the same
requests each time and takes seconds. What it found was fixed in the server
or in the OpenAPI document (docs/reliability.md lists each finding and its fix); nothing is
excluded or filtered here. The one configuration entry, 412 as an expected
answer to a request carrying If-Match, is justified in schemathesis.toml by
RFC 9110.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import databases
from tests.databases import PAIRS, REQUIRED, Pair, unavailable

# Each request is answered in milliseconds; a minute covers the whole run many times over.
SERVER_START = 60.0
RUN_TIMEOUT = 600
CONFIG = Path(__file__).with_name("schemathesis.toml")
ROOT = Path(__file__).parents[2]
EXAMPLES = 30  # per operation and phase: about a thousand requests a run, ten seconds or so
SEED = 12

# Every ORM on SQLite, PostgreSQL and MariaDB: each driver of tests/databases.py.
APPS = [
    pytest.param(pair, id=pair.id, marks=[getattr(pytest.mark, pair.database), getattr(pytest.mark, pair.orm)])
    for pair in PAIRS
]


@contextlib.contextmanager
def served(orm: str, database_url: str, log: Path) -> Iterator[str]:
    """The users service on ``orm`` and ``database_url``, in its own process (tests/fuzz/serve.py): its base URL."""
    env = {**os.environ, "ORMGATE_SECRET_KEY": "fuzz"}
    command = [sys.executable, "-m", "tests.fuzz.serve", orm, database_url]
    with log.open("w") as errors:
        server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, text=True, env=env, cwd=ROOT)
    try:
        assert server.stdout is not None
        port = server.stdout.readline().strip()
        assert port.isdigit(), f"the server did not start: {log.read_text()}"
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + SERVER_START
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", int(port)), timeout=1):
                break
            assert server.poll() is None, f"the server stopped while starting: {log.read_text()}"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        assert server.stdout is not None
        server.stdout.close()


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
) -> None:
    started = time.monotonic()
    with served(pair.orm, database.url(pair.scheme), tmp_path / "server.log") as url:
        run, generated, passed = run_schemathesis(url, tmp_path)
    report = run.stdout + run.stderr
    # Shown by pytest -rP: the figures docs/reliability.md quotes.
    print(f"schemathesis on {pair.id}: {generated} cases, {passed} passed, {time.monotonic() - started:.1f} s")
    errors = (tmp_path / "server.log").read_text()
    assert run.returncode == 0, report
    # No request raised in the server (an unexpected error is logged there as well as answered 500).
    assert "unhandled error" not in errors, errors
    # Every phase ran and every case passed: a phase that errors or finds nothing to test shows here.
    for phase in ("Coverage", "Fuzzing", "Stateful"):
        assert f"✅ {phase}" in run.stdout, report
    assert generated > 500, report
    assert passed == generated, report
