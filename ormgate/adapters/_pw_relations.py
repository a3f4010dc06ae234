"""Peewee's relations as ``RelationInfo``: foreign keys, their back-references, ManyToManyFields."""

from __future__ import annotations

from typing import Any

import peewee as pw

from ..model import RelationInfo


def _api_name(f: Any) -> str:
    # As the adapter names fields: a foreign key by its column ("author_id").
    return str(f.column_name if isinstance(f, pw.ForeignKeyField) else f.name)


def relations(model: Any) -> tuple[RelationInfo, ...]:
    """The model's relations, named as Peewee names them (a back-reference by ``backref``, else ``<model>_set``)."""
    meta = model._meta
    found: list[RelationInfo] = []
    for f in meta.sorted_fields:
        if isinstance(f, pw.ForeignKeyField):
            found.append(RelationInfo(f.name, "to_one", f.rel_model, _api_name(f), _api_name(f.rel_field)))
    for fk in meta.backrefs:
        if fk.backref in ("+", "!") or fk.backref is None:
            continue
        found.append(RelationInfo(fk.backref, "to_many", fk.model, _api_name(fk.rel_field), _api_name(fk)))
    for name, m2m in meta.manytomany.items():
        through = m2m.through_model
        src = through._meta.model_refs[model][0]
        dest = through._meta.model_refs[m2m.rel_model][0]
        found.append(
            RelationInfo(
                name,
                "many_to_many",
                m2m.rel_model,
                _api_name(src.rel_field),
                _api_name(dest.rel_field),
                through=through,
                through_local=_api_name(src),
                through_remote=_api_name(dest),
            )
        )
    return tuple(found)
