"""The users service under ``uvicorn --workers N``, in processes of its own, as it would be deployed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2

from tests.load import app
from tests.load.cluster import free_port

ROOT = Path(__file__).resolve().parents[2]
STARTED = "Application startup complete."
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0


def _environment(orm: str, url: str) -> dict[str, str]:
    return {**os.environ, app.ORM: orm, app.DATABASE: url, "PYTHONPATH": str(ROOT)}


def create_tables(orm: str, url: str) -> None:
    """The table, made once by the service's own start-up, in a process of its own."""
    command = [sys.executable, "-c", "from tests.load.app import create_tables; create_tables()"]
    done = subprocess.run(
        command, env=_environment(orm, url), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


class Workers:
    """A running server: its base URL, its worker processes and its log."""

    def __init__(self, process: subprocess.Popen[bytes], url: str, log: Path, count: int) -> None:
        self.process = process
        self.url = url
        self.log_path = log
        self.count = count

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def pids(self) -> list[int]:
        """The worker processes: the children uvicorn spawned (not multiprocessing's resource tracker)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        pids = []
        for child in map(int, children):
            with contextlib.suppress(FileNotFoundError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    pids.append(child)
        return sorted(pids)

    def rss(self) -> dict[int, int]:
        """Each worker's resident memory (``VmRSS``), in KiB."""
        sizes = {}
        for pid in self.pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes[pid] = int(line.split()[1])
        return sizes

    def wait_started(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while self.log().count(STARTED) < self.count or len(self.pids()) < self.count:
            assert self.process.poll() is None, f"the server exited:\n{self.log()}"
            assert time.monotonic() < deadline, f"the workers did not start:\n{self.log()}"
            time.sleep(0.1)
        with httpx2.Client(base_url=self.url) as client:
            response = client.get("/users?limit=1")
            assert response.status_code == 200, response.text


@contextlib.contextmanager
def serve(orm: str, url: str, count: int, log: Path) -> Iterator[Workers]:
    """``count`` uvicorn workers serving the users service on ``url``; stopped (SIGTERM) at the end."""
    port = free_port()
    command = [
        *(sys.executable, "-m", "uvicorn", "tests.load.app:create_app", "--factory"),
        *("--host", "127.0.0.1", "--port", str(port), "--workers", str(count)),
        *("--log-level", "info", "--no-access-log", "--timeout-graceful-shutdown", "10"),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=_environment(orm, url), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    workers = Workers(process, f"http://127.0.0.1:{port}", log, count)
    try:
        workers.wait_started()
        yield workers
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the group this test started, and nothing else
            process.wait()
