"""A Peewee model as ``ModelInfo``: its fields by API name, their types, server values and unique indexes."""

from __future__ import annotations

import sys
from typing import Any

import peewee as pw
from playhouse.pydantic_utils import get_field_type

from ..model import JSON, MISSING, FieldInfo, ModelInfo, int_range
from ._pw_relations import relations

# Column constraints whose SQL makes the database fill the value in: when an INSERT
# leaves it out (optional and writable), or always (read-only).
_SERVER_DEFAULT = "DEFAULT"
_SERVER_GENERATED = "GENERATED"


def _api_fields(model: Any) -> dict[str, Any]:
    """API name -> Peewee field, in declaration order (primary key first)."""
    # A foreign key travels as its column ("category_id"), as playhouse.pydantic_utils names it.
    return {f.column_name if isinstance(f, pw.ForeignKeyField) else f.name: f for f in model._meta.sorted_fields}


def _unique_indexes(model: Any) -> dict[str, str]:
    """Names of single-column unique indexes (``unique=True`` and ``Meta.indexes``) -> API name."""
    api = {f.name: name for name, f in _api_fields(model).items()}
    return {
        str(index._name): api[index._expressions[0].name]
        for index in model._meta.fields_to_index()
        if index._unique and len(index._expressions) == 1 and isinstance(index._expressions[0], pw.Field)
    }


def _server_values(f: Any) -> tuple[bool, bool]:
    """Whether the database fills the field in (generated), and whether only when an INSERT omits it."""
    server_sql = [c.sql.lstrip().upper() for c in f.constraints or () if isinstance(c, pw.SQL)]
    default = bool(
        f.sequence
        or isinstance(f.default, pw.Node)  # fn.now(), SQL("..."): computed by the database
        or any(sql.startswith(_SERVER_DEFAULT) for sql in server_sql)
    )
    generated = bool(
        f.auto_increment or (f.primary_key and default) or any(sql.startswith(_SERVER_GENERATED) for sql in server_sql)
    )
    return generated, default and not generated


def _python_type(f: Any) -> type[Any]:
    # playhouse.pydantic_utils already maps a key to its target's type and an EnumField to
    # its enum; it answers Any (not a class) for JSON and unknown types.
    if f.field_type in ("JSON", "JSONB"):
        return JSON
    python_type = get_field_type(f)
    # Any is a class on Python 3.11 and later: an unknown type all the same.
    return python_type if isinstance(python_type, type) and python_type is not Any else object


def _item_type(f: Any) -> type[Any] | None:
    # playhouse.postgres_ext's ArrayField, loaded only by a model that has one. Its field_type
    # is its elements'; the element field is private (no accessor), hence the mangled name.
    postgres_ext = sys.modules.get("playhouse.postgres_ext")
    if postgres_ext is None or not isinstance(f, postgres_ext.ArrayField):
        return None
    return _python_type(f._ArrayField__field) if f.dimensions == 1 else object


# By field_type, which a foreign key takes from the field it refers to (an AutoField's as INT).
_INT_RANGES = {
    **dict.fromkeys(["SMALLINT"], int_range(16)),
    **dict.fromkeys(["INT", "AUTO"], int_range(32)),
    **dict.fromkeys(["BIGINT", "BIGAUTO"], int_range(64)),
}
# playhouse.postgres_ext's DateTimeTZField: the one datetime field that keeps the offset.
_AWARE = frozenset({"TIMESTAMPTZ"})


def _field(name: str, f: Any, unique: set[str]) -> FieldInfo:
    target = f.rel_field if isinstance(f, pw.ForeignKeyField) else f
    item_type = _item_type(f)
    python_type = list if item_type is not None else _python_type(f)
    generated, server_default = _server_values(f)
    enum_class = getattr(f, "enum_class", None)
    choices = tuple(enum_class) if enum_class else tuple(v for v, _label in f.choices) if f.choices else None
    default = f.default
    return FieldInfo(
        name=name,
        python_type=python_type,
        nullable=bool(f.null) and not f.primary_key,
        primary_key=bool(f.primary_key),
        generated=generated,
        server_default=server_default,
        default=MISSING if default is None or isinstance(default, pw.Node) else default,
        max_length=getattr(target, "max_length", None),
        unique=bool(f.unique) or name in unique,
        choices=choices,
        foreign_key=f"{f.rel_model._meta.table_name}.{f.rel_field.column_name}" if target is not f else None,
        item_type=item_type,
        int_range=_INT_RANGES.get(f.field_type) if python_type is int else None,
        timezone=f.field_type in _AWARE,
    )


def describe(model: Any) -> ModelInfo:
    unique = set(_unique_indexes(model).values())
    return ModelInfo(
        name=model.__name__,
        table=model._meta.table_name,
        fields=tuple(_field(name, f, unique) for name, f in _api_fields(model).items()),
        relations=relations(model),
    )


def _constraint_fields(model: Any) -> dict[str, str]:
    """Column and unique index names -> API name: what a driver error may name."""
    # MySQL names the index (Peewee calls it "item_code"), PostgreSQL and SQLite the column.
    return {**{f.column_name: name for name, f in _api_fields(model).items()}, **_unique_indexes(model)}
