"""Django models described: each field as a ``FieldInfo``, the model as a ``ModelInfo``."""

from __future__ import annotations

import enum
import functools
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Field, ForeignKey, GeneratedField, Model
from django.db.models import UniqueConstraint as Unique
from django.db.models.fields import AutoFieldMixin

from ..model import JSON, MISSING, FieldInfo, ModelInfo
from ._dj_relations import relations

# By Field.get_internal_type() without "Field", which subclasses (EmailField, URLField, ...) inherit.
_PYTHON_TYPES: dict[str, type[Any]] = {
    **dict.fromkeys(["Auto", "BigAuto", "SmallAuto", "Integer", "BigInteger", "SmallInteger"], int),
    **dict.fromkeys(["PositiveInteger", "PositiveBigInteger", "PositiveSmallInteger"], int),
    **dict.fromkeys(["Char", "Text", "Slug", "GenericIPAddress", "FilePath", "File"], str),
    **{"Boolean": bool, "Decimal": Decimal, "Float": float, "Date": date, "DateTime": datetime, "Time": time},
    **{"Duration": timedelta, "UUID": UUID, "Binary": bytes, "JSON": JSON, "Array": list},
}
# Choices become an Enum of their values: a bad value is then the same "enum" error as on other ORMs.
_CHOICE_ENUMS: dict[type[Any], Any] = {str: enum.StrEnum, int: enum.IntEnum}


def _value_field(field: Field[Any, Any]) -> Field[Any, Any]:
    """The field whose type the column's values have."""
    # A foreign key holds its target's value; a generated column has its expression's type.
    if isinstance(field, ForeignKey):
        return _value_field(field.target_field)
    if isinstance(field, GeneratedField) and field.output_field is not None:
        return _value_field(field.output_field)
    return field


def _python_type(field: Field[Any, Any]) -> type[Any]:
    return _PYTHON_TYPES.get(_value_field(field).get_internal_type().removesuffix("Field"), object)


def _int_range(field: Field[Any, Any]) -> tuple[int, int] | None:
    # Imported here: at the top of this module it would be imported before django.db.models, in a cycle.
    from django.db.backends.base.operations import BaseDatabaseOperations

    # Django's own table, by internal type (AutoField, PositiveSmallIntegerField, ...), the same on
    # every database: its backends that narrow it (Oracle, MySQL's unsigned) are not served.
    found = BaseDatabaseOperations.integer_field_ranges.get(_value_field(field).get_internal_type())
    return None if found is None else (int(found[0]), int(found[1]))


def _item_type(field: Field[Any, Any]) -> type[Any] | None:
    # django.contrib.postgres's ArrayField; one of another array is not served.
    base: Field[Any, Any] | None = getattr(field, "base_field", None)
    if base is None or field.get_internal_type() != "ArrayField":
        return None
    return object if base.get_internal_type() == "ArrayField" else _python_type(base)


def _field(model: type[Model], field: Field[Any, Any], unique: set[str]) -> FieldInfo:
    python_type = _python_type(field)
    choices: tuple[Any, ...] | None = tuple(v for v, _ in field.flatchoices if v is not None) or None
    if choices and python_type in _CHOICE_ENUMS:
        name = model.__name__ + field.name.title().replace("_", "")
        python_type = _CHOICE_ENUMS[python_type](name, [(str(v), v) for v in choices])
        choices = tuple(python_type)
    default: Any = field.default if field.has_default() else MISSING
    # blank=True is Django's "optional" for a NOT NULL string: saved as "" when omitted.
    if default is MISSING and field.blank and not field.null and python_type is str:
        default = ""
    target = field.target_field if isinstance(field, ForeignKey) else None
    # Filled in by the database or by Django on save: clients never send these. A
    # db_default only fills in what a create leaves out (optional, writable), except on a key.
    generated = (
        isinstance(field, AutoFieldMixin | GeneratedField)
        or (field.primary_key and field.has_db_default())
        or getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
    )
    return FieldInfo(
        name=field.attname,  # category_id, not category: the column's value, as the API shows it
        python_type=python_type,
        nullable=field.null and not field.primary_key,
        primary_key=field.primary_key,
        generated=generated,
        server_default=field.has_db_default() and not generated,
        default=default,
        max_length=field.max_length if issubclass(python_type, str) else None,
        unique=(field.unique and not field.primary_key) or field.name in unique,
        choices=choices,
        foreign_key=f"{target.model._meta.db_table}.{target.column}" if target else None,
        item_type=_item_type(field),
        int_range=_int_range(field),
        # With USE_TZ (a Django project's setting) every DateTimeField is aware.
        timezone=python_type is datetime and bool(settings.USE_TZ),
    )


@functools.cache  # one ModelInfo, and one choices Enum, per model
def describe(model: type[Model]) -> ModelInfo:
    meta = model._meta
    unique = {c.fields[0] for c in meta.constraints if isinstance(c, Unique) and len(c.fields) == 1 and not c.condition}
    unique |= {together[0] for together in meta.unique_together if len(together) == 1}
    fields = tuple(_field(model, f, unique) for f in meta.concrete_fields)
    return ModelInfo(
        name=model.__name__,
        table=meta.db_table,
        fields=fields,
        default_path=_default_path(model),
        relations=relations(model),
    )


def _default_path(model: type[Model]) -> str:
    """``/<model_name>`` when the table's name is Django's own ``<app_label>_<model_name>``; else "" (the table's)."""
    meta = model._meta
    made_up = f"{meta.app_label}_{meta.model_name}"
    if meta.db_table == made_up:
        return f"/{meta.model_name}"
    return ""
