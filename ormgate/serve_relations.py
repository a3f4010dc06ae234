"""``ormgate serve``'s relationships: one per reflected foreign key and direction, for ``?include=``.

A foreign key of one column that references its target's (one-column) primary key, both
tables served, becomes two SQLAlchemy ``relationship()``s on the imperatively mapped classes
(viewonly: they are read, never written):

- a to-one on the referencing table, named after the **target table** (``Track.Album``);
- a to-many on the target, named after the **referencing table** (``Album.Track``).

A name is ``<name>_by_<column>`` instead (``Employee.Employee_by_ReportsTo``) when the table
has several foreign keys to the same target, or when the plain name is already a column or a
relation of that table. A name that is not an identifier (``order line``), or that Pydantic's
models use themselves, makes no relation. To-ones are named first, then to-manys, each table's
foreign keys in their reflected order. See docs/serve.md, "Relationships".
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from .relations import Include
from .schemas import ModelSchemas, derive

INCLUDED = 20  # the most rows an included list holds (the first by the target's key)

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_RESERVED = frozenset(dir(pydantic.BaseModel))


@dataclass
class Mapped:
    """A served table as relations need it: its reflected table, mapped class and served columns."""

    table: sa.Table
    cls: type[Any]
    mapped: sa.Table  # the table the class maps (a list-only or composite-key table's is a copy)
    columns: frozenset[str]
    describe: Any = field(repr=False)  # cls -> ModelInfo
    excluded: list[str] = field(default_factory=list)


@dataclass
class Related:
    """The relations made, and the embedded rows' schemas (derived when a resource is first made)."""

    relations: dict[type[Any], list[tuple[str, type[Any]]]] = field(default_factory=dict)
    tables: dict[type[Any], Mapped] = field(default_factory=dict)
    _schemas: dict[type[Any], ModelSchemas] = field(default_factory=dict)

    def schemas(self, cls: type[Any]) -> ModelSchemas:
        made = self._schemas.get(cls)
        if made is None:
            mapped = self.tables[cls]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                made = derive(mapped.describe(cls), exclude=mapped.excluded)
            self._schemas[cls] = made
        return made

    def includes(self, cls: type[Any]) -> dict[str, Include]:
        """The paths ``?include=`` may name on ``cls``'s resource: each relation, and each of its target's."""
        paths: dict[str, Include] = {}
        for name, target in self.relations.get(cls, []):
            paths[name] = Include(schemas=self.schemas(target), max_items=INCLUDED)
            for nested, further in self.relations.get(target, []):
                paths[f"{name}.{nested}"] = Include(schemas=self.schemas(further), max_items=INCLUDED)
        return paths


def relate(tables: Sequence[Mapped], related: Related) -> None:
    """Add the foreign keys' relationships (see the module's docstring) to the classes and ``related``."""
    related.tables.update({m.cls: m for m in tables})
    by_table = {m.table: m for m in tables}
    taken = {m.cls: set(m.columns) for m in tables}
    keys: list[tuple[Mapped, str, Mapped, str]] = []
    for m in tables:
        for constraint in m.table.foreign_key_constraints:
            if len(constraint.elements) != 1:
                continue
            element = constraint.elements[0]
            try:
                target_column = element.column
            except sa.exc.SQLAlchemyError:  # its target was not reflected
                continue
            target = by_table.get(target_column.table)
            if target is None or element.parent.name not in m.columns or target_column.name not in target.columns:
                continue
            if [c.name for c in target.table.primary_key.columns] != [target_column.name]:
                continue
            keys.append((m, element.parent.name, target, target_column.name))
    several = Counter((id(m), id(t)) for m, _, t, _ in keys)

    def name(owner: Mapped, plain: str, column: str, many: bool) -> str | None:
        for candidate in (() if many else (plain,)) + (f"{plain}_by_{column}",):
            if _NAME.match(candidate) and candidate not in _RESERVED and candidate not in taken[owner.cls]:
                taken[owner.cls].add(candidate)
                return candidate
        return None

    for to_one in (True, False):
        for m, key, target, target_key in keys:
            local, remote = m.mapped.columns[key], target.mapped.columns[target_key]
            many = several[(id(m), id(target))] > 1
            if to_one:
                found = name(m, target.table.name, key, many)
                if found is None:
                    continue
                made = relationship(
                    target.cls,
                    primaryjoin=local == remote,
                    foreign_keys=[local],
                    remote_side=[remote],
                    uselist=False,
                    viewonly=True,
                )
                owner, other = m, target
            else:
                found = name(target, m.table.name, key, many)
                if found is None:
                    continue
                made = relationship(
                    m.cls, primaryjoin=local == remote, foreign_keys=[local], remote_side=[local], viewonly=True
                )
                owner, other = target, m
            sa.inspect(owner.cls).add_property(found, made)
            related.relations.setdefault(owner.cls, []).append((found, other.cls))
