"""What a scope costs, in process: CPU µs per request of a GET and a list, unscoped and scoped, back to back.

    python -m bench.scope_cost                    # SQLAlchemy (sync) on SQLite, 5 rounds of 2,000 requests
    python -m bench.scope_cost --adapter django --requests 500 --rounds 3
    python -m bench.scope_cost --instructions --adapter peewee   # counted under valgrind, over HTTP
    python -m bench.scope_cost --instructions                    # every adapter: what `make bench` prints

A check of ormgate's own cost, not a benchmark (bench/run.py is): three apps over the
same seeded users table (bench/seed.py, a SQLite file of its own, or ``--database``'s), on the adapter the
bench's ormgate app of that ORM makes (bench/apps/ormgate_*.py), are called as ASGI
apps, without a server or HTTP: unscoped; scoped by bench/apps/scoped.py's ``tenant``
dependency, solved by ormgate's plan (``ormgate.solver``); and the same scope solved
by FastAPI's solver (the plan switched off, as before it existed). Each round runs
every app's block of requests in turn, each round starting at another app; the figure is the median over rounds of the
process's CPU time (all threads) per request, and its ratio to the unscoped app's.
With ``--instructions``, the unscoped and the scoped app are served over HTTP under
valgrind's callgrind instead, and the server's instructions per request counted
(``instructions``): the same figure whatever the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import importlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

from fastapi import FastAPI

import ormgate
from ormgate import access
from ormgate.adapters.base import Adapter

from . import seed, server
from .apps import config, scoped
from .contenders import ORMGATE, SCOPED_OVERHEAD, WORKLOADS

NAME = "ormgate_scope_cost"
ROWS = 10_000
KEY = "ormgate-scope-cost"  # signs the list's cursors
READS = {
    "get": ("/users/{id}", b""),
    "list100": ("/users", b"limit=100&offset=0&age__gte=30&sort=-created_at"),
}


ADAPTERS = tuple(name.removeprefix("ormgate-") for name in ORMGATE)  # sa-sync, sa-async, django, peewee
DATABASES = ("sqlite", "postgresql", "mysql")


def _app(adapter: Adapter, models: tuple[Any, Any], variant: str) -> FastAPI:
    user, tenant_user = models
    app = FastAPI()
    ormgate.install_problem_handlers(app)
    if variant == "unscoped":
        ormgate.Resource(user, adapter, path="/users", cursor_key=KEY).install(app)
        return app
    schemas = ormgate.derive(adapter.describe(tenant_user), exclude=["tenant"])
    resource = ormgate.Resource(
        tenant_user, adapter, path="/users", scope=scoped.tenant, schemas=schemas, cursor_key=KEY
    )
    if variant == "scoped, FastAPI's solver":
        with mock.patch.object(access, "plan", return_value=None):
            resource.install(app)
    else:
        resource.install(app)
    return app


async def _call(app: FastAPI, path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> int:
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    await app(scope, receive, send)  # type: ignore[arg-type]
    return status


async def _block(app: FastAPI, read: str, scoped_: bool, requests: int) -> float:
    """CPU µs per request of ``requests`` reads."""
    path, query = READS[read]
    headers = [(b"x-tenant", b"1")] if scoped_ else []
    ids = [(i * 7919) % ROWS + 1 for i in range(requests)]
    started = time.process_time()
    for pk in ids:
        status = await _call(app, path.format(id=pk), query, headers)
        if status != 200:
            raise RuntimeError(f"{read} answered {status}")
    return (time.process_time() - started) * 1e6 / requests


def _counted(module: str, env: dict[str, str], read: str, requests: int, folder: Path) -> float:
    """Instructions per request the server of ``module`` runs for ``read`` over HTTP, by callgrind.

    Counted from after a warm-up of 200 requests to the last of ``requests``, sent one after another on
    one connection, each with the scoped reads' header (unread by the unscoped app).
    """
    out = folder / f"{module}-{env['BENCH_SCOPED']}-{read}"
    under = ("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p")
    path, query = READS[read]
    with server.serve(module, env, headers=scoped.HEADERS, under=under) as srv:
        conn = http.client.HTTPConnection(srv.url.removeprefix("http://"), timeout=600)

        def send(count: int) -> None:
            for i in range(count):
                url = path.format(id=(i * 7919) % ROWS + 1) + (f"?{query.decode()}" if query else "")
                conn.request("GET", url, headers=scoped.HEADERS)
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"{module} {read} answered {response.status}")

        send(200)
        subprocess.run(["callgrind_control", "--zero", str(srv.pid)], check=True, capture_output=True)
        send(requests)
        subprocess.run(["callgrind_control", "--dump=measured", str(srv.pid)], check=True, capture_output=True)
        conn.close()
    for dump in folder.glob(f"{out.name}.*"):
        text = dump.read_text()
        if "measured" in text:
            found = re.search(r"^summary: (\d+)", text, re.MULTILINE)
            assert found is not None, f"no summary in {dump}"
            return int(found.group(1)) / requests
    raise RuntimeError(f"callgrind wrote no dump for {module} {read}: see {srv.log}")


def instructions(args: argparse.Namespace) -> None:
    """Prints the instructions per request of each read, unscoped and scoped, over HTTP (``--instructions``):
    of each adapter asked for (all by default) on each database asked for (SQLite by default)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        sys.exit("valgrind is missing: apt-get install valgrind")
    for database in args.database:
        why = seed.check(database, NAME)
        if why:
            print(f"{database}: {why}: not counted")
            continue
        seed.seed(database, NAME, ROWS)
        env = {**server.app_env(database, NAME, config.POOL_SIZE), "PYTHONHASHSEED": "0"}
        print(f"Server instructions per HTTP request, {args.requests} requests, {database} (issue 16: scoped ≤ +5%):")
        for adapter in args.adapter or ADAPTERS:
            found = _counts(f"ormgate_{adapter.replace('-', '_')}", env, args.requests)
            for read in READS:
                base, cost = found[(read, "0")], found[(read, "1")]
                extra = cost / base - 1
                print(
                    f"  {adapter:8} {read:8} unscoped {base:11,.0f}   scoped {cost:11,.0f}   "
                    f"{extra:+6.1%} {'✓' if extra <= SCOPED_OVERHEAD else '✗'}"
                )


def _counts(module: str, env: dict[str, str], requests: int) -> dict[tuple[str, str], float]:
    """``_counted`` of each read, unscoped (``"0"``) and scoped (``"1"``), two servers at a time."""
    jobs = [(read, flag) for read in READS for flag in ("0", "1")]
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(os.cpu_count() or 1) as pool:
        counts = pool.map(
            lambda job: _counted(module, {**env, "BENCH_SCOPED": job[1]}, job[0], requests, Path(tmp)), jobs
        )
        return dict(zip(jobs, counts, strict=True))


def _bench_asks(args: argparse.Namespace, bench_args: list[str]) -> bool:
    """Whether bench.run's arguments ask for a scoped read (no --workload, or a scoped one) of an ormgate
    contender (no --contender, or one of those): then ``args`` get their databases and adapters."""
    bench = argparse.ArgumentParser(add_help=False)
    for option in ("--database", "--contender", "--workload"):
        bench.add_argument(option, action="append")
    asked = bench.parse_known_args(bench_args)[0]
    if asked.workload and not any(w in WORKLOADS and WORKLOADS[w].twin for w in asked.workload):
        return False
    if asked.contender:
        ormgate = [c.removeprefix("ormgate-") for c in asked.contender if c in ORMGATE]
        if not ormgate:
            return False
        args.adapter = args.adapter or ormgate
    args.database = args.database or asked.database
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scope_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, help="requests per app, read and round (default 2,000; --instructions: 300)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--adapter", action="append", choices=ADAPTERS, help="default sa-sync (--instructions: repeatable, default all)"
    )
    parser.add_argument(
        "--database", action="append", choices=DATABASES, help="default sqlite (--instructions: repeatable)"
    )
    parser.add_argument(
        "--instructions", action="store_true", help="count the server's instructions over HTTP (valgrind) instead"
    )
    parser.add_argument(
        "--bench-args",
        nargs=argparse.REMAINDER,
        help="bench.run's arguments follow (make bench's BENCH_ARGS): their --database options are counted",
    )
    args = parser.parse_args(argv)
    if args.bench_args is not None and not _bench_asks(args, args.bench_args):
        print("bench.scope_cost: BENCH_ARGS name no scoped workload of an ormgate contender: nothing counted")
        return
    args.database = args.database or ["sqlite"]
    if args.instructions:
        args.requests = args.requests or 300
        instructions(args)
        return
    if len(args.adapter or ()) > 1 or len(args.database) > 1:
        parser.error("timed in process, one --adapter and one --database at a time (--instructions takes several)")
    args.adapter, args.database = (args.adapter or ["sa-sync"])[0], args.database[0]
    why = seed.check(args.database, NAME)
    if why:
        parser.exit(2, f"{args.database}: {why}\n")
    seed.seed(args.database, NAME, ROWS)
    args.requests = args.requests or 2000
    # The bench's own app module of the ORM makes the adapter (its pool size, its options) on this
    # database; config was read on import (by seed), so it is told here, not through the environment.
    config.DATABASE, config.NAME, scoped.SCOPED = args.database, NAME, False
    module = importlib.import_module(f"bench.apps.ormgate_{args.adapter.replace('-', '_')}")
    variants = ("unscoped", "scoped, ormgate's plan", "scoped, FastAPI's solver")
    apps = {variant: _app(module.db, (module.User, module.TenantUser), variant) for variant in variants}

    async def measure() -> dict[tuple[str, str], list[float]]:
        figures: dict[tuple[str, str], list[float]] = {}
        for read in READS:  # a warm-up: statements compiled, connections open
            for variant, app in apps.items():
                await _block(app, read, variant != "unscoped", 200)
        for round_ in range(args.rounds):
            order = list(apps.items())
            order = order[round_ % len(order) :] + order[: round_ % len(order)]  # each app first in turn
            for read in READS:
                for variant, app in order:
                    cost = await _block(app, read, variant != "unscoped", args.requests)
                    figures.setdefault((read, variant), []).append(cost)
        return figures

    figures = asyncio.run(measure())
    median: Callable[[str, str], float] = lambda read, variant: statistics.median(figures[(read, variant)])  # noqa: E731
    print(f"CPU µs per request, median of {args.rounds} rounds of {args.requests} ({args.adapter}, {args.database}):")
    for read in READS:
        base = median(read, "unscoped")
        for variant in variants:
            cost = median(read, variant)
            spread = ", ".join(f"{v:.0f}" for v in figures[(read, variant)])
            print(f"  {read:8} {variant:26} {cost:7.1f}  {cost / base - 1:+6.1%}   ({spread})")


if __name__ == "__main__":
    main()
