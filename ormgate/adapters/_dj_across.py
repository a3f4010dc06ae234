"""Conditions on a field reached through relations, compiled for Django: ``Exists(OuterRef(...))``.

Django's own ``filter(comments__body=...)`` joins a to-many relation and repeats a row once per
matching related row; a correlated ``EXISTS`` never does, to-one and to-many alike, and each
condition is its own "some related row matches". See docs/relationships.md.

The same ``EXISTS`` compiles a plan's ``Across`` (a relation and a condition on its rows: a
filter's and the related resource's scope, met by one related row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Exists, OuterRef, Q

from ._dj_relations import relations

# Compiles the condition on the related rows, given their model.
Inner = Callable[[Any], Q]


def exists(model: Any, name: str, inner: Inner) -> Q:
    """``EXISTS`` a row of ``model``'s relation ``name`` for which ``inner`` holds."""
    relation = next(r for r in relations(model) if r.name == name)
    target = relation.target
    rows = target._default_manager.filter(inner(target))
    if relation.kind != "many_to_many":
        return Q(Exists(rows.filter(**{relation.remote: OuterRef(relation.local)})))
    through = relation.through._default_manager.filter(
        **{
            relation.through_local: OuterRef(relation.local),
            f"{relation.through_remote}__in": rows.values(relation.remote),
        }
    )
    return Q(Exists(through))
