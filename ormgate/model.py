"""The ORM-neutral description of a model: what every other layer reads."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, JsonValue
from pydantic_core import CoreSchema


class _Missing(enum.Enum):
    MISSING = "MISSING"


MISSING = _Missing.MISSING
"""Sentinel: a field has no Python-side default."""


class JSON:
    """The ``python_type`` of a JSON column: any JSON value, not only objects.

    As an annotation it validates as Pydantic's ``JsonValue``.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler(JsonValue)


def int_range(bits: int, *, unsigned: bool = False) -> tuple[int, int]:
    """The values of a ``bits``-wide integer column."""
    return (0, 2**bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One column of a model, as ormgate sees it."""

    name: str
    python_type: type[Any]
    nullable: bool = False
    primary_key: bool = False
    # The database fills the value in and clients may not write it: an identity,
    # autoincrement or sequence key, a computed column.
    generated: bool = False
    # The database fills the value in when an INSERT omits it (DEFAULT ..., a
    # sequence): optional on create, writable all the same.
    server_default: bool = False
    default: Any = MISSING
    max_length: int | None = None
    unique: bool = False
    choices: tuple[Any, ...] | None = None
    foreign_key: str | None = None  # "table.column"
    item_type: type[Any] | None = None  # the elements' type, when python_type is list (an array column)
    # The values an integer column holds (SMALLINT, INTEGER, BIGINT, unsigned): a value
    # beyond them is a 422 before any SQL, whatever the database or driver would do with it.
    int_range: tuple[int, int] | None = None
    # A datetime column that keeps the offset (timestamptz, USE_TZ): its values are aware.
    # Any other datetime column holds naive values, taken as UTC.
    timezone: bool = False

    @property
    def required(self) -> bool:
        """Whether a create request must carry this field."""
        return not (self.nullable or self.generated or self.server_default or self.default is not MISSING)


RelationKind = Literal["to_one", "to_many", "many_to_many"]


@dataclass(frozen=True, slots=True)
class RelationInfo:
    """A relation of a model to another, as its ORM declares it (see docs/relationships.md).

    ``to_one``: this model's ``local`` field holds the target's ``remote`` field (a foreign key).
    ``to_many``: the target's ``remote`` field (its foreign key) holds this model's ``local`` one.
    ``many_to_many``: rows of ``through`` (a join model, or a table) pair this model's ``local``
    field, held in ``through_local``, with the target's ``remote`` field, held in ``through_remote``.
    ``target`` (and ``through``) are the ORM's own classes, as its adapter takes them.
    """

    name: str
    kind: RelationKind
    target: Any
    local: str
    remote: str
    through: Any = None
    through_local: str = ""
    through_remote: str = ""

    @property
    def many(self) -> bool:
        return self.kind != "to_one"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model: its name, table and fields, in declaration order."""

    name: str
    table: str
    fields: tuple[FieldInfo, ...]
    # A resource's path when not given: "/" + the table's name, unless the adapter says
    # otherwise (Django: a table name it made up, "<app>_<model>", is "/<model>").
    default_path: str = ""
    # Its relations to other models, by name; none for a model the adapter describes without them.
    relations: tuple[RelationInfo, ...] = ()
    by_name: Mapping[str, FieldInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})
        keys = [f for f in self.fields if f.primary_key]
        if len(keys) != 1:
            raise ValueError(f"{self.name}: ormgate needs exactly one primary key column, found {len(keys)}")

    @property
    def pk(self) -> FieldInfo:
        return next(f for f in self.fields if f.primary_key)
