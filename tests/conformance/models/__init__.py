"""The conformance models, declared once per ORM with the same tables and columns.

categories(id, name unique) and items(every column type ormgate maps, a unique
UUID and a foreign key to categories); ghosts is declared and never created.
"""

import enum
from typing import Any

from fastapi import FastAPI

import ormgate
from examples.users.common import new_app
from ormgate.adapters.base import Adapter


class Status(enum.StrEnum):
    draft = "draft"
    published = "published"
    archived = "archived"


def contract_app(orm: str, db: Adapter, category: Any, item: Any, ghost: Any) -> FastAPI:
    """The conformance app: the three resources on ``db``, categories and items created at startup."""
    app = new_app(orm, lambda: db.create_tables([category, item]))
    # Both ways of mounting a resource, so that each runs on every ORM and database.
    app.include_router(ormgate.Resource(category, db, limits=(20, 100)).router)
    for model in (item, ghost):
        ormgate.Resource(model, db, limits=(20, 100)).install(app)
    return app
