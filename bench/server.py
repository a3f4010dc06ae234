"""Starting a contender under uvicorn, pinned to core 0, and driving it with wrk, pinned to core 1."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LUA = Path(__file__).resolve().parent / "lua"
LOGS = Path(__file__).resolve().parent / ".data" / "logs"
SERVER_CORE = "0"
CLIENT_CORE = "1"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
UVICORN_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning")


def require_tools() -> None:
    """Exit with the command to run when wrk or taskset is missing."""
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if missing:
        packages = {"wrk": "wrk", "taskset": "util-linux"}
        sys.exit(f"missing {', '.join(missing)}: apt-get install {' '.join(packages[t] for t in missing)}")


def app_env(database: str, db_name: str, pool_size: int) -> dict[str, str]:
    return {
        **os.environ,
        "BENCH_DATABASE": database,
        "BENCH_DB_NAME": db_name,
        "BENCH_POOL_SIZE": str(pool_size),
        "PYTHONPATH": str(ROOT),
        # Cursors are signed with it: bench.deep_pages mints them in its own process.
        "ORMGATE_SECRET_KEY": "ormgate-bench",
    }


def probe(module: str, env: Mapping[str, str]) -> str | None:
    """Why ``bench.apps.<module>`` cannot be imported, or None when it can."""
    code = f"import bench.apps.{module}"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {result.returncode}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        """utime + stime of the server process (all its threads), in seconds."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat(5)

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0


@contextlib.contextmanager
def serve(
    module: str,
    env: Mapping[str, str],
    ready_path: str = "/users/1",
    headers: Mapping[str, str] | None = None,
    under: Sequence[str] = (),
) -> Iterator[Server]:
    """``bench.apps.<module>:app`` under one uvicorn worker on core 0, answering, until the block ends.

    It answers when a GET of ``ready_path`` with ``headers`` is a 200. With ``under`` (a command
    such as valgrind's) it runs under that instead, on any core, with a log of its own.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = LOGS / (f"{module}-{port}.log" if under else f"{module}.log")
    command = [
        *(under or ("taskset", "-c", SERVER_CORE)),
        sys.executable, "-m", "uvicorn", f"bench.apps.{module}:app",
        "--host", "127.0.0.1", "--port", str(port), *UVICORN_OPTIONS,
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        _wait_ready(server, ready_path, headers or {}, timeout=600 if under else 60)
        yield server
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(server: Server, path: str, headers: Mapping[str, str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log.read_text(errors="replace").strip().splitlines()[-3:]
            raise RuntimeError(f"server exited with {server.process.returncode}: {' | '.join(tail)}")
        try:
            request = urllib.request.Request(server.url + path, headers=dict(headers))
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not answer {path} within {timeout:.0f}s")


def busy_seconds() -> float:
    """CPU seconds all cores have spent busy since boot (/proc/stat), to see load beside the benchmark."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


# The database servers' CPU is part of the workload, not interference.
DATABASE_PROCESSES = frozenset({"postgres", "mariadbd", "mysqld"})


def database_cpu_seconds() -> float:
    """utime + stime of every PostgreSQL and MariaDB process now alive."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended meanwhile
            continue
        if text[text.index("(") + 1 : text.rindex(")")] in DATABASE_PROCESSES:
            fields = text[text.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


def wait_quiet(max_wait: float, threshold: float = 0.3, sample: float = 0.5) -> tuple[float, float]:
    """Wait (up to ``max_wait`` s) until the machine is nearly idle; (seconds waited, busy cores last seen).

    The benchmark shares the machine: other processes' bursts would land on one contender's run.
    """
    start = time.monotonic()
    while True:
        before = busy_seconds()
        time.sleep(sample)
        busy = (busy_seconds() - before) / sample
        waited = time.monotonic() - start
        if busy < threshold or waited >= max_wait:
            return waited, busy


def wrk(
    url: str,
    script: str,
    duration: float,
    *,
    connections: int = 32,
    extra_env: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """One wrk run on core 1: the JSON its Lua ``done()`` prints."""
    env = {**os.environ, "BENCH_LUA": str(LUA), **(extra_env or {})}
    command = [
        "taskset", "-c", CLIENT_CORE,
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
        "-s", str(LUA / script), url,
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 120, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    for line in result.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
            data["client_cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return data
    raise RuntimeError(f"wrk printed no summary (exit {result.returncode}): {result.stderr.strip()[-300:]}")
