"""Django's relations as ``RelationInfo``: forward keys, their reverse accessors, many-to-many fields."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.models import ForeignKey, ManyToManyField, OneToOneField

from ..model import RelationInfo, RelationKind


def relations(model: Any) -> tuple[RelationInfo, ...]:
    """The model's relations, named as Django names them (a reverse one by its accessor, ``related_name``)."""
    found: list[RelationInfo] = []
    for f in model._meta.get_fields():
        if isinstance(f, ForeignKey):  # OneToOneField too
            found.append(RelationInfo(f.name, "to_one", f.related_model, f.attname, f.target_field.attname))
        elif isinstance(f, ManyToManyField):
            through: Any = f.remote_field.through
            target: Any = f.related_model
            found.append(
                RelationInfo(
                    f.name,
                    "many_to_many",
                    target,
                    model._meta.pk.attname,
                    target._meta.pk.attname,
                    through=through,
                    through_local=through._meta.get_field(f.m2m_field_name()).attname,
                    through_remote=through._meta.get_field(f.m2m_reverse_field_name()).attname,
                )
            )
    return (*found, *_reverse(model))


def _reverse(model: Any) -> list[RelationInfo]:
    """The foreign keys of other models that point at ``model``, by their accessor (``related_name``).

    Django lists them among ``get_fields()`` only for models of an installed app: ormgate's
    standalone models belong to none (docs/adapters.md), so every registered model is read.
    """
    found: list[RelationInfo] = []
    for other in (m for label in list(apps.all_models.values()) for m in list(label.values())):
        for m2m in other._meta.local_many_to_many:
            if m2m.related_model is not model or m2m.remote_field.hidden:
                continue
            name = m2m.remote_field.get_accessor_name()
            through: Any = m2m.remote_field.through
            if name is None or any(r.name == name for r in found):
                continue
            found.append(
                RelationInfo(
                    name,
                    "many_to_many",
                    other,
                    model._meta.pk.attname,
                    other._meta.pk.attname,
                    through=through,
                    through_local=through._meta.get_field(m2m.m2m_reverse_field_name()).attname,
                    through_remote=through._meta.get_field(m2m.m2m_field_name()).attname,
                )
            )
        for f in other._meta.local_fields:
            if not isinstance(f, ForeignKey) or f.related_model is not model or f.remote_field.hidden:
                continue
            name = f.remote_field.get_accessor_name()
            if name is None or any(r.name == name for r in found):
                continue
            kind: RelationKind = "to_one" if isinstance(f, OneToOneField) else "to_many"
            found.append(RelationInfo(name, kind, other, f.target_field.attname, f.attname))
    return found
