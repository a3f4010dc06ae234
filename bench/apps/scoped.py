"""The ormgate contenders' scoped variant (``BENCH_SCOPED=1``): the same users resource, scoped by tenant.

Each request names its tenant in an ``x-tenant`` header; the resource's scope
dependency (a realistic one: ``async def``, one validated header) answers with the
rows of that tenant. Every seeded row is tenant 1's and the workloads send
``x-tenant: 1``, so a scoped request reads the same rows as the unscoped one and
answers the same body (``tenant`` is not among the fields served): what differs is
the dependency and the scope's condition in the statement, the cost issue 16 bounds.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from fastapi import FastAPI, Header

import ormgate
from ormgate.adapters.base import Adapter

SCOPED = os.environ.get("BENCH_SCOPED") == "1"
HEADERS = {"x-tenant": "1"}  # what the scoped workloads send


async def tenant(x_tenant: Annotated[int, Header()]) -> ormgate.Scope:
    return ormgate.Scope({"tenant": x_tenant})


def install(app: FastAPI, adapter: Adapter, model: Any, tenant_model: Any) -> None:
    """The users resource on ``app``: of ``model``, or scoped, of ``tenant_model``, with ``BENCH_SCOPED=1``."""
    if not SCOPED:
        ormgate.Resource(model, adapter, path="/users").install(app)
        return
    schemas = ormgate.derive(adapter.describe(tenant_model), exclude=["tenant"])
    ormgate.Resource(tenant_model, adapter, path="/users", scope=tenant, schemas=schemas).install(app)
