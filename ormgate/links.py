"""Related rows on write (docs/relationships.md): a missing target named in its error, many-to-many ids.

A foreign key is written as the id it holds (``"author_id": 3``); a target that does not exist is a
409 problem naming the field. A many-to-many relation a resource declares in ``links=`` takes a list
of ids on create, replace and patch, written by the adapter after the row, in its transaction.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Collection, Iterator, Mapping
from typing import Any

import pydantic

from .adapters.base import Adapter, Row
from .errors import ForeignKeyViolation
from .model import ModelInfo, RelationInfo
from .schemas import ModelSchemas, _unset, value_annotation


@contextlib.contextmanager
def foreign_keys_named(info: ModelInfo, values: Mapping[str, Any]) -> Iterator[None]:
    """A write of ``values`` whose foreign key violation names the fields (see ``name_foreign_key``)."""
    try:
        yield
    except ForeignKeyViolation as exc:
        raise name_foreign_key(exc, info, values) from exc.__cause__


def name_foreign_key(exc: ForeignKeyViolation, info: ModelInfo, values: Mapping[str, Any]) -> ForeignKeyViolation:
    """``exc`` naming the foreign key fields the write sent, when the database named none (SQLite).

    A write that sent one key (or one list of a many-to-many relation's ids) names it; one that
    sent several names each (the database does not say
    which target is missing). A row still referenced (a key changed under its referrers) is left as is.
    """
    known = exc.field is not None and (exc.field in info.by_name or any(r.name == exc.field for r in info.relations))
    if known or "still referenced" in exc.detail:
        return exc
    sent = [f.name for f in info.fields if f.foreign_key is not None and values.get(f.name) is not None]
    # A many-to-many list: its join table's key (PostgreSQL and MySQL name it) is no field of the model.
    sent += [r.name for r in info.relations if r.kind == "many_to_many" and values.get(r.name)]
    if not sent:
        return exc
    message = "the referenced row does not exist" if len(sent) == 1 else "this or another referenced row does not exist"
    named = ForeignKeyViolation(
        f"{', '.join(sent)}: {message}", field=sent[0], errors=[{"field": name, "message": message} for name in sent]
    )
    named.__cause__ = exc.__cause__
    return named


# -- many-to-many membership, written with the row ------------------------------------------------

Links = dict[RelationInfo, tuple[Any, ...]]


def split_links(info: ModelInfo, values: Row) -> tuple[Row, Links]:
    """The row's column values, and the id lists of its many-to-many relations that the write sets.

    An adapter writes the lists after the row, in its transaction: the join table then holds exactly
    these pairs for the row (a duplicate id counts once).
    """
    links = {
        r: tuple(dict.fromkeys(values[r.name])) for r in info.relations if r.kind == "many_to_many" and r.name in values
    }
    if not links:
        return values, {}
    names = {r.name for r in links}
    return {k: v for k, v in values.items() if k not in names}, links


MAX_LINKS = 100


def missing_link(relation: RelationInfo) -> ForeignKeyViolation:
    """The error of a list of ids naming a row that does not exist (raised from the driver's error)."""
    message = "the referenced row does not exist"
    return ForeignKeyViolation(
        f"{relation.name}: {message}", field=relation.name, errors=[{"field": relation.name, "message": message}]
    )


def with_links(
    schemas: ModelSchemas, adapter: Adapter, names: Collection[str], max_items: int = MAX_LINKS
) -> ModelSchemas:
    """``schemas`` whose create and update bodies take the ids of the many-to-many relations ``names``."""
    info = schemas.info
    relations = {r.name: r for r in info.relations}
    fields: dict[str, Any] = {}
    for name in names:
        relation = relations.get(name)
        if relation is None or relation.kind != "many_to_many":
            known = [r.name for r in info.relations if r.kind == "many_to_many"]
            raise ValueError(f"{info.name}.{name} is no many-to-many relation; those it has: {known}")
        key = value_annotation(adapter.describe(relation.target).pk)
        fields[name] = (
            list[key],  # type: ignore[valid-type]
            pydantic.Field(default_factory=_unset, max_length=max_items, description=f"the ids of its {name}"),
        )
    create = pydantic.create_model(f"{info.name}Create", __base__=schemas.create, **fields)
    update = pydantic.create_model(f"{info.name}Update", __base__=schemas.update, **fields)
    return dataclasses.replace(schemas, create=create, update=update)
