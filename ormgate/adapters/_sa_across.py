"""Conditions on a field reached through relations, compiled for SQLAlchemy: a correlated ``EXISTS``.

``?author__username=ada`` on posts is ``EXISTS (SELECT 1 FROM authors AS a WHERE a.id =
posts.author_id AND a.username = :f0)``: to-one and to-many alike, so a to-many path means "some
related row matches" and never duplicates a row. Each level reads an alias of its table, so that a
relation of a model to itself correlates with the right one. See docs/relationships.md.

The same ``EXISTS`` compiles a plan's ``Across`` (a relation and a condition on its rows: a
filter's and the related resource's scope, met by one related row).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from ._sa_relations import relations

# Compiles a condition against (columns by field name, their model).
Inner = Callable[[dict[str, Any], Any], Any]


def _aliased(target: Any) -> tuple[Any, dict[str, Any]]:
    """An alias of ``target``'s table (a mapped class or a bare ``Table``) and its columns by field name."""
    if isinstance(target, sa.Table):
        alias = target.alias()
        return alias, {c.key: c for c in alias.c}
    mapper = sa.inspect(target)
    alias = mapper.local_table.alias()
    return alias, {attr.key: alias.c[attr.columns[0].key] for attr in mapper.column_attrs}


def exists(model: Any, name: str, columns: dict[str, Any], inner: Inner) -> Any:
    """``EXISTS`` a row of ``model``'s relation ``name`` for which ``inner`` holds; ``columns``: the outer row's."""
    relation = next(r for r in relations(model) if r.name == name)
    table, target = _aliased(relation.target)
    condition = inner(target, relation.target)
    if relation.kind != "many_to_many":
        return sa.exists().select_from(table).where(target[relation.remote] == columns[relation.local], condition)
    through, pairs = _aliased(relation.through)
    return (
        sa.exists()
        .select_from(through)
        .where(
            pairs[relation.through_local] == columns[relation.local],
            sa.exists().select_from(table).where(target[relation.remote] == pairs[relation.through_remote], condition),
        )
    )
