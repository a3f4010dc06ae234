"""Code of the application's own run around a resource's writes, inside their unit of work.

``Resource(..., hooks=Hooks(before_create=..., after_update=...))``: each hook
is a plain function given an ``Event``. It runs in the write's transaction, on
the thread that runs it (a worker thread for a sync ORM, never the event loop;
SQLAlchemy's ``AsyncConnection.run_sync`` for an async engine), after the row
is locked and in scope. A *before* hook may change ``event.values`` (what will
be written) or raise (an ``ormgate`` error or an ``HTTPException`` is answered as
a problem) and nothing is written; an *after* hook sees the row as written and
may write more in the same transaction through ``event.unit`` (an audit row),
or raise, and the write is rolled back. See docs/scoping.md.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from .adapters.base import Hook, Row

Operation = Literal["create", "update", "delete"]


@dataclass(frozen=True, slots=True)
class Event:
    """One hook's call.

    ``values``: before a create or update, what will be written (change it in place); after
    one, the row as written; before and after a delete, the key (``{pk name: pk}``).
    ``unit``: the ORM's handle on the transaction: SQLAlchemy's ``Connection``, Django's
    connection (write with ``Model.objects.using(unit.alias)``), Peewee's ``Database``.
    """

    request: Request
    operation: Operation
    stage: Literal["before", "after"]
    pk: Any  # None before a create
    values: Row
    unit: Any


HookFunction = Callable[[Event], None]


@dataclass(frozen=True, slots=True)
class Hooks:
    before_create: HookFunction | None = None
    after_create: HookFunction | None = None
    before_update: HookFunction | None = None
    after_update: HookFunction | None = None
    before_delete: HookFunction | None = None
    after_delete: HookFunction | None = None

    def bind(self, request: Request, operation: Operation, pk: Any, pk_name: str) -> Hook | None:
        """The store's ``hook`` for one request's write, or None when no hook is set for it."""
        before: HookFunction | None = getattr(self, f"before_{operation}")
        after: HookFunction | None = getattr(self, f"after_{operation}")
        if before is None and after is None:
            return None
        # Run in the request's context (a worker thread does not carry it), as on_write is.
        context = contextvars.copy_context()

        def hook(stage: str, unit: Any, values: Row) -> None:
            function = before if stage == "before" else after
            if function is None:
                return
            key = values.get(pk_name, pk) if stage == "after" else pk
            event = Event(request, operation, "before" if stage == "before" else "after", key, values, unit)
            context.run(function, event)

        return hook
