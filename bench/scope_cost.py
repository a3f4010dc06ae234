"""What a scope costs, in process: CPU µs per request of a GET and a list, unscoped and scoped, back to back.

    python -m bench.scope_cost                    # SQLAlchemy (sync) on SQLite, 5 rounds of 2,000 requests
    python -m bench.scope_cost --adapter django --requests 500 --rounds 3

A check of ormgate's own cost, not a benchmark (bench/run.py is): three apps over the
same seeded users table (bench/seed.py, a SQLite file of its own), on the adapter the
bench's ormgate app of that ORM makes (bench/apps/ormgate_*.py), are called as ASGI
apps, without a server or HTTP: unscoped; scoped by bench/apps/scoped.py's ``tenant``
dependency, solved by ormgate's plan (``ormgate.solver``); and the same scope solved
by FastAPI's solver (the plan switched off, as before it existed). Each round runs
every app's block of requests in turn, each round starting at another app; the figure is the median over rounds of the
process's CPU time (all threads) per request, and its ratio to the unscoped app's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

from fastapi import FastAPI

import ormgate
from ormgate import access
from ormgate.adapters.base import Adapter

from . import seed
from .apps import scoped

NAME = "ormgate_scope_cost"
ROWS = 10_000
KEY = "ormgate-scope-cost"  # signs the list's cursors
READS = {
    "get": ("/users/{id}", b""),
    "list100": ("/users", b"limit=100&offset=0&age__gte=30&sort=-created_at"),
}


ADAPTERS = ("sa-sync", "sa-async", "django", "peewee")


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scope_cost", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per app, read and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--adapter", choices=ADAPTERS, default="sa-sync")
    args = parser.parse_args(argv)
    seed.check("sqlite", NAME)
    seed.seed("sqlite", NAME, ROWS)
    # The bench's own app module of the ORM makes the adapter (its pool size, its options) on this file.
    os.environ.update({"BENCH_DATABASE": "sqlite", "BENCH_DB_NAME": NAME, "BENCH_SCOPED": "0"})
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
    print(f"CPU µs per request, median of {args.rounds} rounds of {args.requests} ({args.adapter}, SQLite):")
    for read in READS:
        base = median(read, "unscoped")
        for variant in variants:
            cost = median(read, variant)
            spread = ", ".join(f"{v:.0f}" for v in figures[(read, variant)])
            print(f"  {read:8} {variant:26} {cost:7.1f}  {cost / base - 1:+6.1%}   ({spread})")


if __name__ == "__main__":
    main()
