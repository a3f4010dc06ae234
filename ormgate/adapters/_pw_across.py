"""Conditions on a field reached through relations, compiled for Peewee: a correlated ``EXISTS``.

To-one and to-many alike, so a to-many path means "some related row matches" and never repeats a
row; each level reads an alias of its model, so that a relation of a model to itself correlates
with the right one. See docs/relationships.md.

The same ``EXISTS`` compiles a plan's ``Across`` (a relation and a condition on its rows: a
filter's and the related resource's scope, met by one related row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw

from ._pw_relations import _api_name, relations

# Compiles a condition against (fields by API name, their model).
Inner = Callable[[dict[str, Any], Any], Any]


def _aliased(model: Any) -> tuple[Any, dict[str, Any]]:
    alias = model.alias()
    return alias, {_api_name(f): getattr(alias, f.name) for f in model._meta.sorted_fields}


def exists(model: Any, name: str, fields: dict[str, Any], inner: Inner) -> Any:
    """``EXISTS`` a row of ``model``'s relation ``name`` for which ``inner`` holds; ``fields``: the outer row's."""
    relation = next(r for r in relations(model) if r.name == name)
    alias, target = _aliased(relation.target)
    condition = inner(target, relation.target)
    if relation.kind != "many_to_many":
        rows = alias.select(pw.SQL("1")).where(target[relation.remote] == fields[relation.local], condition)
        return pw.fn.EXISTS(rows)
    pairs_alias, pairs = _aliased(relation.through)
    related = alias.select(pw.SQL("1")).where(target[relation.remote] == pairs[relation.through_remote], condition)
    rows = pairs_alias.select(pw.SQL("1")).where(
        pairs[relation.through_local] == fields[relation.local], pw.fn.EXISTS(related)
    )
    return pw.fn.EXISTS(rows)
