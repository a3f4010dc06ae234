"""A SQLAlchemy model's ``ModelInfo``, read from its mapper and its columns' types."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import mysql

from ..model import JSON, MISSING, FieldInfo, ModelInfo, int_range
from ._sa_relations import relations


def _stored(type_: sa.types.TypeEngine[Any], dialect: sa.Dialect | None = None) -> sa.types.TypeEngine[Any]:
    """The type a column stores, seen through ``TypeDecorator``s (SQLModel's ``AutoString`` is one).

    Its length, integer range and kind are those of this type. With a dialect, the
    decorator's impl on that dialect (``AutoString()`` is ``VARCHAR(255)`` on MySQL).
    """
    while isinstance(type_, sa.TypeDecorator):
        impl = type_ if dialect is None else type_.dialect_impl(dialect)
        type_ = impl.impl_instance if isinstance(impl, sa.TypeDecorator) else impl
    return type_


# What a TypeDecorator overrides when it converts values between Python and the database.
_CONVERTERS = ("process_bind_param", "process_result_value", "bind_processor", "result_processor")


def _python_type(type_: sa.types.TypeEngine[Any]) -> type[Any]:
    if isinstance(type_, sa.TypeDecorator) and type(type_).python_type is sa.TypeDecorator.python_type:
        # A decorator that names no Python type holds the values of the type it stores,
        # unless it converts them (PickleType): then their type is unknown.
        converts = any(getattr(type(type_), name) is not getattr(sa.TypeDecorator, name) for name in _CONVERTERS)
        return object if converts else _python_type(type_.impl_instance)
    # Enum first: its python_type is the enum class only when one was given.
    if isinstance(type_, sa.Enum) and type_.enum_class is not None:
        return type_.enum_class
    if isinstance(type_, sa.JSON):  # any JSON value, where SQLAlchemy says object
        return JSON
    try:
        return type_.python_type
    except NotImplementedError:
        return object  # refused by derive(), unless excluded or annotated


def _annotated_as(model: type[Any], key: str, stored: type[Any]) -> bool:
    """Whether a Pydantic model (a SQLModel table model) annotates ``key`` as values of ``stored``, None aside.

    A refinement counts (``AwareDatetime`` validates to a ``datetime``): Pydantic's own schemas compare.
    """
    field = getattr(model, "model_fields", {}).get(key)
    annotation = getattr(field, "annotation", None)
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    kinds = [kind for kind in (typing.get_args(annotation) if union else (annotation,)) if kind is not type(None)]
    if field is None or stored is object or len(kinds) != 1:
        return False
    return bool(TypeAdapter(kinds[0]).core_schema["type"] == TypeAdapter(stored).core_schema["type"])


def _item_type(type_: sa.types.TypeEngine[Any]) -> type[Any] | None:
    if not isinstance(type_, sa.ARRAY):
        return None
    return _python_type(type_.item_type) if type_.dimensions in (None, 1) else object


# Integer widths by type; order matters: the specific before the general (BIGINT is an Integer).
_INT_BITS: tuple[tuple[type[Any], int], ...] = (
    (sa.BigInteger, 64),
    (sa.SmallInteger, 16),
    (mysql.TINYINT, 8),
    (mysql.MEDIUMINT, 24),
    (sa.Integer, 32),
)


def _int_range(type_: sa.types.TypeEngine[Any]) -> tuple[int, int] | None:
    bits = next((b for t, b in _INT_BITS if isinstance(type_, t)), None)
    return None if bits is None else int_range(bits, unsigned=bool(getattr(type_, "unsigned", False)))


def _field(
    model: type[Any], key: str, column: sa.Column[Any], unique: set[str], dialect: sa.Dialect | None
) -> FieldInfo:
    type_ = _stored(column.type, dialect)
    python_type = _python_type(column.type)
    if python_type is object and isinstance(column.type, sa.TypeDecorator):
        # A decorator converting values without naming their type (SQLModel's UTCDateTime):
        # a SQLModel's field annotation may say they are still those of the stored type.
        stored = _python_type(type_)
        python_type = stored if _annotated_as(model, key, stored) else object
    # An integer primary key with autoincrement left at "auto" is filled by the database.
    autoincrement = (
        column.primary_key
        and column.autoincrement in ("auto", True)
        and isinstance(type_, sa.Integer)
        and len(column.table.primary_key.columns) == 1
    )
    # What the database fills in when an INSERT leaves the column out.
    server_value = column.server_default is not None or isinstance(column.default, sa.Sequence)
    # Read-only: a key the database makes, an identity or computed column. Any other
    # server-filled column is optional on create and writable.
    generated = bool(
        autoincrement
        or (column.primary_key and server_value)
        or column.identity is not None
        or column.computed is not None
    )
    default: Any = MISSING
    if column.default is not None and isinstance(column.default, sa.ColumnDefault):
        default = column.default.arg  # a literal, or a callable that makes one
    choices: tuple[Any, ...] | None = None
    if isinstance(type_, sa.Enum):
        choices = tuple(type_.enum_class) if type_.enum_class else tuple(type_.enums)
    fk = next(iter(column.foreign_keys), None)
    return FieldInfo(
        name=key,
        python_type=python_type,
        nullable=bool(column.nullable) and not column.primary_key,
        primary_key=column.primary_key,
        generated=generated,
        server_default=server_value and not generated,
        default=default,
        max_length=getattr(type_, "length", None) if isinstance(type_, sa.String) else None,
        unique=bool(column.unique) or column.name in unique,
        choices=choices,
        foreign_key=f"{fk.column.table.name}.{fk.column.name}" if fk else None,
        item_type=_item_type(type_),
        int_range=_int_range(type_),
        timezone=isinstance(type_, sa.DateTime) and bool(type_.timezone),
    )


def _columns(model: type[Any]) -> dict[str, sa.Column[Any]]:
    mapper = sa.inspect(model)
    return {attr.key: attr.columns[0] for attr in mapper.column_attrs}


def _unique_constraints(table: sa.Table) -> dict[str, str]:
    """Names of single-column unique constraints and indexes -> column name."""
    names: dict[str, str] = {}
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and len(constraint.columns) == 1:
            names[str(constraint.name or next(iter(constraint.columns)).name)] = next(iter(constraint.columns)).name
    for index in table.indexes:
        if index.unique and len(index.columns) == 1:
            names[str(index.name)] = next(iter(index.columns)).name
    return names


def _single_table(model: type[Any]) -> tuple[sa.Column[Any], Any, tuple[Any, ...]] | None:
    """For a subclass in single-table inheritance: its discriminator column, its own value, its rows' values.

    None for a model that is no such subclass; a subclass whose columns span tables is refused.
    """
    mapper = sa.inspect(model)
    if mapper.inherits is None or mapper.concrete:  # concrete: a whole table of its own
        return None
    if not mapper.single:
        tables = ", ".join(sorted(str(table) for table in mapper.tables))
        raise ValueError(
            f"{model.__name__} uses joined-table inheritance (its columns span {tables}) and ormgate "
            "serves one table per resource: serve the base class, or single-table inheritance"
        )
    on = mapper.polymorphic_on
    if not isinstance(on, sa.Column) or mapper.polymorphic_identity is None:
        raise ValueError(
            f"{model.__name__}: ormgate serves a single-table subclass by its discriminator, "
            "which needs polymorphic_on to be a column and a polymorphic_identity of its own"
        )
    # Its own rows and those of its subclasses, as select(model) reads them.
    values = tuple(m.polymorphic_identity for m in mapper.self_and_descendants if m.polymorphic_identity is not None)
    return on, mapper.polymorphic_identity, values


def describe(model: type[Any], dialect: sa.Dialect | None = None) -> ModelInfo:
    """The model's description; with ``dialect``, its columns' types as they are on that dialect."""
    columns = _columns(model)
    table = sa.inspect(model).local_table
    assert isinstance(table, sa.Table)
    unique = set(_unique_constraints(table).values())
    fields = [_field(model, key, column, unique, dialect) for key, column in columns.items()]
    single = _single_table(model)
    if single is not None:  # the subclass sets its discriminator: clients read it, never write it
        fields = [dataclasses.replace(f, generated=True) if columns[f.name] is single[0] else f for f in fields]
    return ModelInfo(name=model.__name__, table=table.name, fields=tuple(fields), relations=relations(model))
