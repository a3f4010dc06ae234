"""Adapters by name, imported only when asked for, so each ORM stays an optional extra."""

from __future__ import annotations

import importlib
from typing import Any

from ..errors import MissingExtra

ADAPTERS = {
    "sqlalchemy": "ormgate.adapters.sqlalchemy:SQLAlchemyAdapter",
    "django": "ormgate.adapters.django:DjangoAdapter",
    "peewee": "ormgate.adapters.peewee:PeeweeAdapter",
}


def load(orm: str) -> Any:
    """The adapter class for ``orm``; a missing ORM names the extra to install."""
    try:
        module_name, _, attr = ADAPTERS[orm].partition(":")
    except KeyError:
        raise ValueError(f"unknown ORM {orm!r}; choose from {', '.join(ADAPTERS)}") from None
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MissingExtra(f"ormgate's {orm} adapter needs: pip install 'ormgate[{orm}]' ({exc})") from exc
    return getattr(module, attr)
