"""The users service as the load test serves it: ``uvicorn tests.load.app:create_app --factory --workers N``.

Every worker process builds its own app from the environment: ``ORMGATE_LOAD_ORM``
(sqlalchemy, django or peewee) and ``ORMGATE_LOAD_DATABASE`` (the URL, as
``ormgate demo --database`` takes it; its scheme picks the driver, sync or async).
The table is made once, before the workers start (``create_tables``), so that
several processes never race to create it.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from typing import Any

from fastapi import FastAPI, Request, Response
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from ormgate.demo import common
from ormgate.errors import Unavailable
from ormgate.problems import ormgate_error

ORM = "ORMGATE_LOAD_ORM"
DATABASE = "ORMGATE_LOAD_DATABASE"


def _service() -> Any:
    # Argon2 at the recommended cost takes a quarter of a second of CPU a hash, and the test
    # creates thousands of users on two cores: the same hasher at its cheapest. Hashing is not under test.
    common.hasher = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    return importlib.import_module(f"ormgate.demo.{os.environ[ORM]}_app")


def create_app() -> FastAPI:
    """One worker's app; the table already exists. Each 503 is written to stderr with its cause."""
    app: FastAPI = _service().create_app(os.environ[DATABASE], create_tables=False)
    app.add_exception_handler(Unavailable, _logged)
    return app


async def _logged(request: Request, exc: Exception) -> Response:
    # ormgate answers a 503 without a log line; the load test's report needs to say what was refused.
    route = getattr(request.scope.get("route"), "path", request.url.path)
    causes: list[str] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None and len(causes) < 3:
        causes.append(f"{type(cause).__module__}.{type(cause).__name__}: {cause}".splitlines()[0])
        cause = cause.__cause__ or cause.__context__
    print(f"503 {request.method} {route}: {exc} <- {' <- '.join(causes) or 'no cause'}", file=sys.stderr, flush=True)
    return await ormgate_error(request, exc)


def create_tables() -> None:
    """Create the users table, as the service's own start-up does, once."""
    app: FastAPI = _service().create_app(os.environ[DATABASE])

    async def start_up() -> None:
        async with app.router.lifespan_context(app):
            pass

    asyncio.run(start_up())
