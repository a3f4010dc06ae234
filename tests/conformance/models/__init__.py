"""The conformance models, declared once per ORM with the same tables and columns.

categories(id, name unique) and items(every column type ormgate maps, a unique
UUID, a foreign key to categories, a column with a server default); ghosts is
declared and never created; arrays (PostgreSQL's array columns) is created on
PostgreSQL only.
"""

import dataclasses
import enum
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Header

import ormgate
from ormgate.adapters.base import Adapter
from ormgate.demo.common import new_app

REVIEWED_MAX_BODY = 4096


class Status(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


def contract_app(orm: str, db: Adapter, category: Any, item: Any, ghost: Any, arrays: Any = None) -> FastAPI:
    """The conformance app: the resources on ``db``, their tables created at startup.

    ``arrays`` is the model of the arrays table, on PostgreSQL only.
    """
    models = [category, item] if arrays is None else [category, item, arrays]
    app = new_app(orm, lambda: db.create_tables(models), db)
    # Both ways of mounting a resource, so that each runs on every ORM and database.
    app.include_router(ormgate.Resource(category, db, limits=(20, 100)).router)
    # A server default alone leaves a column writable: created_at is the database's by declaration.
    items = ormgate.derive(db.describe(item), read_only=["created_at"])
    ormgate.Resource(item, db, schemas=items, limits=(20, 100)).install(app)
    ormgate.Resource(ghost, db, limits=(20, 100)).install(app)
    # The items as a reviewer's client sees them: it may not set the status or the category,
    # nor see the description. A PUT there must keep all three.
    reviewed = ormgate.derive(
        dataclasses.replace(items.info, name="ReviewedItem"),
        read_only=["status", "category_id", "created_at"],
        exclude=["description"],
    )
    # Its own body limit, below the app's 1 MiB (BodyLimit, from new_app).
    ormgate.Resource(
        item, db, schemas=reviewed, path="/reviewed", routes=("get", "replace"), max_body_size=REVIEWED_MAX_BODY
    ).install(app)
    if arrays is not None:
        ormgate.Resource(arrays, db, limits=(20, 100)).install(app)
    return app


def tenant(
    x_tenant: Annotated[int | None, Header()] = None,
    x_role: Annotated[str | None, Header()] = None,
    x_active: Annotated[bool | None, Header()] = None,
) -> ormgate.Scope | None:
    """The scope of the scoped app's items: a tenant is a category, named by X-Tenant; none is an administrator.

    ``X-Role: guest`` may not see the price, nor write the weight. ``X-Active`` narrows the scope
    to the items whose ``active`` is that.
    """
    where: dict[str, object] = {} if x_tenant is None else {"category_id": x_tenant}
    if x_active is not None:
        where["active"] = x_active
    if x_role == "guest":
        return ormgate.Scope(where, hidden={"price"}, read_only={"weight"})
    return ormgate.Scope(where) if where else None


Audit = Callable[[Any, str], None]  # writes a category of this name through a hook's unit of work


def audit_hooks(audit: Audit) -> ormgate.Hooks:
    """Hooks that act only on requests that ask (so that the scoping tests see none):

    ``X-Audit``: every write adds a category "<operation> <key> <X-Audit>" in its transaction;
    ``X-Fail-After``: the after hook raises once it has; a name "refused" is refused before
    a create or update, and ``X-Refuse`` a delete; a name "shout: ..." is written upper-case;
    ``X-Stop``: the before hook has a bug that raises StopIteration (``next()`` of an empty iterator).
    """

    def before(event: ormgate.Event) -> None:
        if event.request.headers.get("x-stop"):
            next(iter(()))
        if event.request.headers.get("x-refuse") or event.values.get("name") == "refused":
            raise ormgate.InvalidData("refused by a hook", field="name")
        name = event.values.get("name")
        if isinstance(name, str) and name.startswith("shout: "):
            event.values["name"] = name.upper()

    def after(event: ormgate.Event) -> None:
        mark = event.request.headers.get("x-audit")
        if mark is not None:
            audit(event.unit, f"{event.operation} {event.pk} {mark}")
        if event.request.headers.get("x-fail-after"):
            raise ormgate.Conflict("refused by a hook after the write")

    return ormgate.Hooks(before, after, before, after, before, after)


def scoped_app(orm: str, db: Adapter, category: Any, item: Any, audit: Audit) -> FastAPI:
    """The items again, each request scoped to its tenant's, with hooks (tests/conformance/test_scoping.py)."""
    app = new_app(orm, lambda: db.create_tables([category, item]), db)
    ormgate.Resource(category, db, limits=(20, 100)).install(app)
    items = ormgate.derive(db.describe(item), read_only=["created_at"])
    hooks = audit_hooks(audit)
    ormgate.Resource(
        item, db, schemas=items, limits=(20, 100), scope=tenant, hooks=hooks, restricted=["price"]
    ).install(app)
    return app
