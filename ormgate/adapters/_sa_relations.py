"""SQLAlchemy relationships as ``RelationInfo``: read from the mapper, never from the tables' guesses."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import MANYTOMANY, MANYTOONE, ONETOMANY

from ..model import RelationInfo


def _key(mapper: Any, column: Any) -> str | None:
    """The attribute a mapper reads ``column`` into (the API name of the field), or None."""
    try:
        return str(mapper.get_property_by_column(column).key)
    except sa.orm.exc.UnmappedColumnError:
        return None


def _mapped(mapper: Any, table: Any) -> Any:
    """The class that maps ``table`` (a join table) in the model's registry, or the table itself.

    A mapped one can be read like any model (an include reads its pairs); a bare ``Table`` can only
    be written (a write sets its pairs).
    """
    found = [m.class_ for m in mapper.registry.mappers if m.local_table is table and not m.inherits]
    return found[0] if len(found) == 1 else table


def relations(model: type[Any]) -> tuple[RelationInfo, ...]:
    """The model's relationships joined on one column each (a composite join is left out)."""
    mapper = sa.inspect(model)
    found: list[RelationInfo] = []
    for rel in mapper.relationships:
        target = rel.mapper
        if rel.direction is MANYTOMANY:
            if rel.secondary is None or len(rel.synchronize_pairs) != 1 or len(rel.secondary_synchronize_pairs) != 1:
                continue
            (local_column, through_local), (remote_column, through_remote) = (
                rel.synchronize_pairs[0],
                rel.secondary_synchronize_pairs[0],
            )
            local, remote = _key(mapper, local_column), _key(target, remote_column)
            if local is None or remote is None:
                continue
            found.append(
                RelationInfo(
                    rel.key,
                    "many_to_many",
                    target.class_,
                    local,
                    remote,
                    through=_mapped(mapper, rel.secondary),
                    through_local=through_local.key,
                    through_remote=through_remote.key,
                )
            )
            continue
        if len(rel.local_remote_pairs) != 1:
            continue
        local_column, remote_column = rel.local_remote_pairs[0]
        local, remote = _key(mapper, local_column), _key(target, remote_column)
        if local is None or remote is None:
            continue
        if rel.direction is MANYTOONE:
            found.append(RelationInfo(rel.key, "to_one", target.class_, local, remote))
        elif rel.direction is ONETOMANY:
            # uselist=False: a one-to-one seen from the side the key points at; still one row.
            found.append(RelationInfo(rel.key, "to_many" if rel.uselist else "to_one", target.class_, local, remote))
    return tuple(found)
