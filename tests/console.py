"""The installed ``ormgate`` console script, run as a user runs it: one command, or a server until it answers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import NOT_TESTED
from tests.databases import REQUIRED, unavailable

ORMGATE = Path(sys.executable).parent / "ormgate"


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    assert ORMGATE.exists(), f"the console script is not installed at {ORMGATE}"
    return subprocess.run(
        [str(ORMGATE), *args], capture_output=True, text=True, timeout=60, cwd=cwd, env={**os.environ, **(env or {})}
    )


def error(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The error lines, after checking what every user error has in common."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("error: ")
    return lines


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(database: str) -> None:
    why = unavailable(database)
    if why is not None:
        if REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)


@contextlib.contextmanager
def running(
    *args: str, banner_end: str, ready: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], str, int]]:
    """``ormgate *args --port N`` running until its banner (through ``banner_end``) is out and GET ``ready``
    answers (200, or 401 behind a token): the process, the banner and the port."""
    port = closed_port()
    proc = subprocess.Popen(
        [str(ORMGATE), *args, "--port", str(port)],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
    )
    try:
        banner = ""
        assert proc.stdout is not None
        while banner_end not in banner:
            line = proc.stdout.readline()
            assert line, f"ormgate {args[0]} stopped: {banner}"
            banner += line
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=2).status_code in (200, 401):
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, banner
            time.sleep(0.1)
        yield proc, banner, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()
