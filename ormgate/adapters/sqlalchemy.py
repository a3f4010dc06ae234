"""SQLAlchemy 2.x declarative models, on a sync ``Engine`` or an ``AsyncEngine``.

Resource operations run on Core connections: they select labelled columns and
return dicts, never ORM objects. Each operation is written once against a sync
``Connection``; an async engine runs the same function through
``AsyncConnection.run_sync``, a sync engine in one worker thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import types
import typing
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from .. import redaction
from ..errors import NotFound
from ..model import JSON, MISSING, FieldInfo, ModelInfo, int_range
from ..plan import LIKE, Across, And, Condition, In, IsNull, Match, Not, Or, Order, Plan, Planner, shape
from ..query import Query
from ..scope import condition as scope_condition
from ..scope import parameters as scope_parameters
from ..scope import shape as scope_shape
from ..waiting import DEFAULT_WAITING, Waiting
from ._collation import exact_collation, states_charset
from ._drivers import classify, dropped, unwrapped_unavailable
from ._sa_across import exists as across
from ._sa_fast import AsyncReads, Compiled, SyncReads, compile_read, driver_refusal
from ._sa_groups import grouped
from ._sa_relations import relations
from ._sa_times import whole_seconds
from ._sqlite import TEXT_TIME
from ._sqlite import prepare as prepare_sqlite
from ._threaded import Gate, ThreadedStore, one_writer, pool_size, run_sync
from .base import IN_MEMORY_SQLITE, Check, Hook, OnWrite, Page, Row, ShapeCache, Where, memory_sqlite

T = TypeVar("T")


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


def _binary(column: Any) -> Any:
    return column


def _utf8_bytes(column: Any) -> Any:
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    return sa.cast(sa.cast(column, mysql.CHAR(charset="utf8mb4")), sa.LargeBinary)


# Per-dialect differences, as data. MySQL/MariaDB compare strings with a
# case-insensitive collation by default (see _collation): case-sensitive patterns
# match under a binary one (LIKE does not pad), equality compares the bytes too
# (beside the plain comparison, so that an index still helps).
_BINARY: dict[str, Any] = {
    "mysql": lambda column: column.collate("utf8mb4_bin"),
    "mariadb": lambda column: column.collate("utf8mb4_bin"),
}
_IDENTICAL: dict[str, Any] = {"mysql": _utf8_bytes, "mariadb": _utf8_bytes}
# Databases in the process itself: a read costs microseconds and never waits on the network.
_IN_PROCESS = frozenset({"sqlite"})
# PostgreSQL sorts NULL as the largest value; ormgate's order has it smallest everywhere.
_NULLS_LARGEST = frozenset({"postgresql"})
# Where switching a connection to autocommit is a client-side flag, a one-statement
# read runs without BEGIN and COMMIT: two round trips fewer. (PyMySQL would spend
# a round trip on the switch itself.)
_AUTOCOMMIT_READS = frozenset({"postgresql"})
# How a unit of work that writes begins, where the driver's own BEGIN would not lock enough.
# pysqlite and aiosqlite begin no transaction before a SELECT, and SQLite has no row locks
# (FOR UPDATE is dropped): without the write lock taken first, a write from another
# process could land between an If-Match check and the UPDATE, and be overwritten.
_BEGIN_WRITE = {"sqlite": "BEGIN IMMEDIATE"}
# Where a timestamp is text, compared as the instant it names (see _sqlite).
_TEXT_TIMES = frozenset({"sqlite"})
# Where tables ormgate creates are given the exact collation (see _collation).
_TEXT_TABLE_OPTIONS = frozenset({"mysql", "mariadb"})


def _compiler(columns: dict[str, sa.Column[Any]], dialect: str, model: Any = None) -> Callable[[Condition], Any]:
    """Compiles a plan's conditions to SQLAlchemy Core, each parameter a ``bindparam`` of its name;
    a path through ``model``'s relations as an ``EXISTS`` (ormgate.adapters._sa_across)."""
    binary = _BINARY.get(dialect, _binary)
    identical = _IDENTICAL.get(dialect, _binary)
    params: dict[str, Any] = {}

    def param(name: str, type_: Any = None, expanding: bool = False) -> Any:
        # One object per name: the keyset condition uses a0 in its bound and in its first branch.
        if name not in params:
            params[name] = sa.bindparam(name, type_=type_, expanding=expanding)
        return params[name]

    def compile_(c: Condition, columns: dict[str, Any] = columns, model: Any = model) -> Any:
        if isinstance(c, And):
            return sa.and_(*(compile_(i, columns, model) for i in c.items)) if c.items else sa.true()
        if isinstance(c, Or):
            return sa.or_(*(compile_(i, columns, model) for i in c.items)) if c.items else sa.false()
        if isinstance(c, Not):
            return sa.not_(compile_(c.item, columns, model))
        if isinstance(c, Across):
            return across(model, c.relation, columns, lambda target, related: compile_(c.where, target, related))
        if len(c.path) > 1:
            rest = dataclasses.replace(c, path=c.path[1:])
            return across(model, c.path[0], columns, lambda target, related: compile_(rest, target, related))
        column = columns[c.path[-1]]
        if isinstance(c, IsNull):
            return column.is_(None) if c.null else column.is_not(None)
        if isinstance(c, Match):
            target = sa.func.lower(column) if c.folded else column
            return binary(target).like(param(c.param), escape=LIKE.escape)
        exact = identical(column) if c.exact and isinstance(_stored(column.type), sa.String) else column
        if isinstance(c, In):
            value = param(c.param, column.type, expanding=True)
            return sa.and_(column.in_(value), exact.in_(value)) if exact is not column else column.in_(value)
        value = param(c.param, column.type)
        if dialect in _TEXT_TIMES and isinstance(_stored(column.type), (sa.DateTime, sa.Time)):
            # A timestamp kept as text: each bound compares as the instant, whatever its text (see _sqlite).
            bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
            met = sa.and_(*(_COMPARE[op](column, getattr(sa.func, bound)(value)) for op, bound in bounds))
            return sa.not_(met) if c.op == "ne" else met
        if c.op == "eq" and exact is not column:  # the plain comparison stays, so that an index still serves it
            return sa.and_(column == value, exact == value)
        return _COMPARE[c.op](exact if c.op == "ne" else column, value)

    return compile_


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}


# The primary key's parameter in an UPDATE whose SET comes from the other parameters' keys.
_KEY = "ormgate_key"


class _Shape:
    """The statements of one query shape, and the page statement compiled for the fast path once needed."""

    __slots__ = ("count", "fast", "page", "patterns")

    def __init__(self, page: Any, count: Any, plan: Plan) -> None:
        self.page = page
        self.count = count
        self.patterns = plan.patterns
        self.fast: Compiled | bool | None = False  # False: not compiled yet


class _Scoped:
    """The statement by key of one scope shape (ormgate.scope), its locking twin, and its fast-path form."""

    __slots__ = ("by_pk", "fast", "locked")

    def __init__(self, by_pk: Any) -> None:
        self.by_pk = by_pk
        self.locked = by_pk.with_for_update()
        self.fast: Compiled | bool | None = False  # False: not compiled yet


class _Operations:
    """The five operations of one model, each on an open sync ``Connection``."""

    def __init__(self, model: type[Any], fields: Sequence[str]) -> None:
        self.model = model
        self.info = describe(model)
        self.columns = _columns(model)
        self.table = sa.inspect(model).local_table
        self.pk = self.columns[self.info.pk.name]
        # A single-table-inheritance subclass: its rows only, and its discriminator on insert.
        # Equalities rather than IN: an expanding parameter would keep reads off the fast path.
        single = _single_table(model)
        self.only: list[Any] = [] if single is None else [sa.or_(*(single[0] == value for value in single[2]))]
        self.fixed: dict[str, Any] = {} if single is None else {single[0].key: single[1]}
        self.read = [self.columns[name].label(name) for name in fields]
        # A mapper keyed by several columns (ormgate serve maps a composite key so): ``pk`` is then a list of
        # one tuple of their values in key order, for the statements' expanding parameter (a row value).
        key = list(sa.inspect(model).primary_key)
        self.composite = len(key) > 1
        self.key_fields = [c.key for c in key]
        is_key = self._composite_key(key) if self.composite else lambda name: self.pk == sa.bindparam(name)
        self.by_pk = sa.select(*self.read).where(is_key("pk"), *self.only)
        self.insert_plain = sa.insert(self.table)
        self.insert_returning = self.insert_plain.returning(*self.read)
        self.update_plain = sa.update(self.table).where(is_key(_KEY), *self.only)
        self.delete_by_pk = sa.delete(self.table).where(is_key("pk"), *self.only)
        self.update_returning = self.update_plain.returning(*self.read)
        self._cache: ShapeCache[_Shape] = ShapeCache()
        self._scoped: ShapeCache[_Scoped] = ShapeCache()
        self.planner = Planner(self.info)
        field_of_column = {column.name: key for key, column in self.columns.items()}
        self.constraint_fields = {
            **field_of_column,
            **{name: field_of_column.get(col, col) for name, col in _unique_constraints(self.table).items()},
        }

    def _key_after(self, pk: Any, values: Row) -> Any:
        """The row's key once ``values`` are written: a write may change a key the client sets."""
        if self.composite:
            return [tuple(values.get(name, old) for name, old in zip(self.key_fields, pk[0], strict=True))]
        return values.get(self.info.pk.name, pk)

    @staticmethod
    def _composite_key(key: list[sa.Column[Any]]) -> Callable[[str], Any]:
        return lambda name: sa.tuple_(*key).in_(sa.bindparam(name, expanding=True))

    @staticmethod
    def _rows(result: sa.CursorResult[Any]) -> list[Row]:
        keys = list(result.keys())
        # all() fetches in one call; iterating the result fetches row by row. Not strict:
        # the keys are the row's own, and the check doubles the cost of this line.
        return [dict(zip(keys, row, strict=False)) for row in result.all()]

    def statements(self, dialect: str, query: Query) -> _Shape:
        """The page and count statements of the query's shape, built once and reused."""
        key = shape(query)
        return self._cache.get((dialect, key), lambda: self._build(dialect, self.planner.plan(query, key)))

    def _build(self, dialect: str, plan: Plan) -> _Shape:
        compile_ = _compiler(self.columns, dialect, self.model)
        where = [*self.only, *map(compile_, plan.where.items)]
        count = sa.select(sa.func.count()).select_from(self.table).where(*where)
        if plan.after is not None:
            where.append(compile_(plan.after))

        def ordered(column: Any, term: Order) -> Any:
            by = column.desc() if term.descending else column.asc()
            if term.nulls is not None and dialect in _NULLS_LARGEST:
                by = by.nulls_first() if term.nulls == "first" else by.nulls_last()
            return by

        if plan.group is not None:  # the first rows of each group (ormgate.adapters._sa_groups)
            return _Shape(grouped(self.columns, plan, where, ordered), None, plan)
        order = [ordered(self.columns[term.path[-1]], term) for term in plan.order]
        page = (
            sa.select(*(self.columns[name].label(name) for name in plan.columns))
            .where(*where)
            .order_by(*order)
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )
        if plan.offset:
            page = page.offset(sa.bindparam("offset", type_=sa.Integer()))
        return _Shape(page, count if plan.count else None, plan)

    @staticmethod
    def parameters(query: Query, shape: _Shape) -> dict[str, Any]:
        """The values of a list statement's parameters."""
        params = Planner.values(query)
        for name, kind in shape.patterns:
            params[name] = LIKE.pattern(kind, params[name])
        return params

    def list(self, conn: sa.Connection, query: Query) -> Page:
        shape = self.statements(conn.dialect.name, query)
        params = self.parameters(query, shape)
        rows = self._rows(conn.execute(shape.page, params))
        total = None if shape.count is None else conn.execute(shape.count, params).scalar_one()
        return Page(rows, total)

    def fast_list(self, dialect: sa.Dialect, query: Query) -> tuple[Compiled, dict[str, Any]] | None:
        """The page statement of the query compiled for the fast path and its parameters, or None
        when it cannot take it."""
        shape = self.statements(dialect.name, query)
        if shape.fast is False:
            shape.fast = compile_read(shape.page, dialect)
        assert not isinstance(shape.fast, bool)
        return None if shape.fast is None else (shape.fast, self.parameters(query, shape))

    def scoped(self, dialect: str, where: Where) -> tuple[_Scoped | None, dict[str, Any]]:
        """The statements by key with ``where``'s conditions (built once per scope shape), and their parameters."""
        if not where:
            return None, {}
        names = scope_shape(where)

        def build() -> _Scoped:
            condition = scope_condition(where)[0]
            return _Scoped(self.by_pk.where(_compiler(self.columns, dialect)(condition)))

        return self._scoped.get((dialect, names), build), scope_parameters(where)

    def fast_get(self, dialect: sa.Dialect, pk: Any, where: Where) -> tuple[Compiled | None, dict[str, Any]] | None:
        """A scoped GET compiled for the fast path and its parameters; None without a scope."""
        scoped, values = self.scoped(dialect.name, where)
        if scoped is None:
            return None
        if scoped.fast is False:
            scoped.fast = compile_read(scoped.by_pk, dialect)
        assert not isinstance(scoped.fast, bool)
        return scoped.fast, {**values, "pk": pk}

    def get(self, conn: sa.Connection, pk: Any, where: Where = None) -> Row | None:
        scoped, values = self.scoped(conn.dialect.name, where)
        statement = self.by_pk if scoped is None else scoped.by_pk
        rows = self._rows(conn.execute(statement, {**values, "pk": pk}))
        return rows[0] if rows else None

    def _values(self, values: Row) -> dict[str, Any]:
        """Written values as parameters of the statements built once: keyed by column key."""
        return {self.columns[name].key: value for name, value in values.items()}

    @staticmethod
    def _begin_write(conn: sa.Connection) -> None:
        begin = _BEGIN_WRITE.get(conn.dialect.name)
        if begin is not None:
            conn.exec_driver_sql(begin)

    def create(self, conn: sa.Connection, values: Row, hook: Hook | None = None) -> Row:
        self._begin_write(conn)
        if hook is None:
            return self._insert(conn, values)
        values = dict(values)  # the hook's to change; a retried unit of work starts from the request's
        hook("before", conn, values)
        row = self._insert(conn, values)
        hook("after", conn, row)
        return row

    def _insert(self, conn: sa.Connection, values: Row) -> Row:
        # The statements are built once; the parameters' keys make the column list, and
        # SQLAlchemy caches the compiled form per key set (building one per request was
        # most of a write's own CPU).
        params = {**self._values(values), **self.fixed}
        if conn.dialect.insert_returning:
            return self._rows(conn.execute(self.insert_returning, params))[0]
        result = conn.execute(self.insert_plain, params)
        assert result.inserted_primary_key is not None
        key = result.inserted_primary_key
        row = self.get(conn, [tuple(key)] if self.composite else key[0])
        assert row is not None
        return row

    def _lock(self, conn: sa.Connection, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is None and not where:
            return
        scoped, values = self.scoped(conn.dialect.name, where)
        statement = self.by_pk.with_for_update() if scoped is None else scoped.locked
        row = self._rows(conn.execute(statement, {**values, "pk": pk}))
        if not row:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if check is not None:
            check(row[0])

    def update(
        self,
        conn: sa.Connection,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        self._begin_write(conn)
        self._lock(conn, pk, check, where)
        if hook is None:
            return self._write(conn, pk, values)
        values = dict(values)
        hook("before", conn, values)
        row = self._write(conn, pk, values)
        hook("after", conn, row)
        return row

    def _write(self, conn: sa.Connection, pk: Any, values: Row) -> Row:
        if values:
            params = {**self._values(values), _KEY: pk}
            if conn.dialect.update_returning:
                rows = self._rows(conn.execute(self.update_returning, params))
                if not rows:
                    raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
                return rows[0]
            # Rows matched (SQLAlchemy asks MySQL for found rather than changed rows): none is no such row.
            if conn.execute(self.update_plain, params).rowcount == 0:
                raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        row = self.get(conn, self._key_after(pk, values))
        if row is None:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        return row

    def delete(
        self, conn: sa.Connection, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None
    ) -> None:
        self._begin_write(conn)
        self._lock(conn, pk, check, where)
        if hook is not None:
            hook("before", conn, {self.info.pk.name: pk})
        if conn.execute(self.delete_by_pk, {"pk": pk}).rowcount == 0:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if hook is not None:
            hook("after", conn, {self.info.pk.name: pk})


# What may reach an adapter's boundary from the database: the driver's errors wrapped by
# SQLAlchemy, the pool's timeout, and a socket error a driver raises as it is (asyncpg's
# connection refused).
_DATABASE_ERRORS = (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError)


@contextlib.contextmanager
def _translated(constraint_fields: dict[str, str], *, deleting: bool = False) -> Iterator[None]:
    try:
        yield
    except _DATABASE_ERRORS as exc:
        error = classify(exc, constraint_fields, deleting=deleting)
        if error is None:
            raise
        raise error from exc
    except Exception as exc:
        # A driver's own error that SQLAlchemy let through unwrapped: asyncpg's "connection is
        # closed" reached a session route whose connection the server ended (seen under load,
        # never in isolation). Only an unavailable database is translated; anything else is not ours.
        error = unwrapped_unavailable(exc)
        if error is None:
            raise
        raise error from exc


def _pool_timeout(exc: sa.exc.TimeoutError) -> Exception:
    """The 503 for a fast read that found no pooled connection in time."""
    error = classify(exc)
    return exc if error is None else error


def _hide_parameters(exc: BaseException) -> None:
    # A StatementError writes its statement's bound parameters (a password's hash among them) into its text.
    if isinstance(exc, sa.exc.StatementError):
        exc.hide_parameters = True


redaction.HIDE_PARAMETERS.append(_hide_parameters)


def _retry(exc: sa.exc.DBAPIError, attempt: int, committing: bool) -> bool:
    # SQLAlchemy flags an error that showed the connection was dead, and then
    # recycles every older pooled connection. Found before COMMIT, nothing was
    # written, so the unit of work runs once more on a fresh connection; a drop
    # during COMMIT is not retried, since the write may have landed.
    return attempt == 0 and exc.connection_invalidated and not committing


E = TypeVar("E", sa.Engine, AsyncEngine)


def _reader(engine: E) -> E:
    """The engine one-statement reads use: ``engine`` itself, or its autocommit twin."""
    if engine.dialect.name in _AUTOCOMMIT_READS:
        return engine.execution_options(isolation_level="AUTOCOMMIT")
    return engine


class _SyncStore:
    def __init__(self, engine: sa.Engine, operations: _Operations) -> None:
        self.engine = engine
        self.ops = operations
        self.info = operations.info
        self.in_process = engine.dialect.name in _IN_PROCESS  # see _threaded.may_run_inline
        self.reader = _reader(engine)
        fast = driver_refusal(engine.dialect) is None
        self.fast = SyncReads(engine, operations.constraint_fields) if fast else None
        self.fast_get = compile_read(operations.by_pk, engine.dialect) if fast else None

    def _run(self, operation: Callable[..., T], *args: Any, read: bool = False, deleting: bool = False) -> T:
        engine = self.reader if read else self.engine
        with _translated(self.ops.constraint_fields, deleting=deleting):
            for attempt in range(2):
                committing = False
                try:
                    with engine.begin() as conn:
                        result = operation(conn, *args)
                        committing = True
                    return result
                except sa.exc.DBAPIError as exc:
                    if not _retry(exc, attempt, committing):
                        raise
        raise AssertionError("unreachable")

    def list(self, query: Query) -> Page:
        # With a count, rows and total come from one transaction's snapshot.
        if self.fast is not None and not query.count:
            compiled = self.ops.fast_list(self.engine.dialect, query)
            try:
                rows = None if compiled is None else self.fast.rows(*compiled)
            except sa.exc.TimeoutError as exc:
                raise _pool_timeout(exc) from exc
            if rows is not None:
                return Page(rows, None)
        return self._run(self.ops.list, query, read=not query.count)

    def list_on_loop(self, query: Query) -> Page | None:
        """The page, read on the event loop within ``LOOP_BUDGET`` (SQLite's fast path, no count), or None."""
        if self.fast is None or query.count:
            return None
        compiled = self.ops.fast_list(self.engine.dialect, query)
        rows = None if compiled is None else self.fast.rows(*compiled, on_loop=True)
        return None if rows is None else Page(rows, None)

    def get(self, pk: Any, where: Where = None) -> Row | None:
        if self.fast is not None and self.fast_get is not None:
            scoped = self.ops.fast_get(self.engine.dialect, pk, where)
            compiled, params = (self.fast_get, {"pk": pk}) if scoped is None else scoped
            try:
                rows = None if compiled is None else self.fast.rows(compiled, params)
            except sa.exc.TimeoutError as exc:
                raise _pool_timeout(exc) from exc
            if rows is not None:
                return rows[0] if rows else None
        return self._run(self.ops.get, pk, where, read=True)

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        return self._run(self.ops.create, values, hook)

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        return self._run(self.ops.update, pk, values, check, where, hook)

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        self._run(self.ops.delete, pk, check, where, hook, deleting=True)


class _AsyncStore:
    def __init__(self, engine: AsyncEngine, operations: _Operations, gate: Gate, writes: Gate) -> None:
        self.engine = engine
        self.gate = gate
        self.writes = writes
        self.ops = operations
        self.info = operations.info
        self.reader = _reader(engine)
        dialect = engine.sync_engine.dialect
        fast = driver_refusal(dialect) is None
        self.fast = AsyncReads(engine, operations.constraint_fields) if fast else None
        self.fast_get = compile_read(operations.by_pk, dialect) if fast else None

    async def _run(self, operation: Callable[..., T], *args: Any, read: bool = False, deleting: bool = False) -> T:
        engine, gate = (self.reader, self.gate) if read else (self.engine, self.writes)
        with _translated(self.ops.constraint_fields, deleting=deleting):
            for attempt in range(2):
                committing = False
                try:
                    async with gate(), engine.begin() as conn:
                        result = await conn.run_sync(operation, *args)
                        committing = True
                    return result
                except sa.exc.DBAPIError as exc:
                    if not _retry(exc, attempt, committing):
                        raise
        raise AssertionError("unreachable")

    async def list(self, query: Query) -> Page:
        if self.fast is not None and not query.count:
            compiled = self.ops.fast_list(self.engine.sync_engine.dialect, query)
            rows = None
            if compiled is not None:
                async with self.gate():
                    try:
                        rows = await self.fast.rows(*compiled)
                    except sa.exc.TimeoutError as exc:
                        raise _pool_timeout(exc) from exc
            if rows is not None:
                return Page(rows, None)
        return await self._run(self.ops.list, query, read=not query.count)

    async def get(self, pk: Any, where: Where = None) -> Row | None:
        if self.fast is not None and self.fast_get is not None:
            scoped = self.ops.fast_get(self.engine.sync_engine.dialect, pk, where)
            compiled, params = (self.fast_get, {"pk": pk}) if scoped is None else scoped
            rows = None
            if compiled is not None:
                async with self.gate():
                    try:
                        rows = await self.fast.rows(compiled, params)
                    except sa.exc.TimeoutError as exc:
                        raise _pool_timeout(exc) from exc
            if rows is not None:
                return rows[0] if rows else None
        return await self._run(self.ops.get, pk, where, read=True)

    # on_write may be slow (a password hash): a worker thread makes the values, outside the gate.

    # A hook runs inside run_sync, as the operation does: SQLAlchemy's greenlet on the event loop,
    # whose database calls through the sync Connection wait without blocking it.

    async def create(self, values: Row, on_write: OnWrite | None = None, hook: Hook | None = None) -> Row:
        if on_write is not None:
            values = await run_sync(on_write, values)
        return await self._run(self.ops.create, values, hook)

    async def update(
        self,
        pk: Any,
        values: Row,
        check: Check | None = None,
        on_write: OnWrite | None = None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        if on_write is not None:
            values = await run_sync(on_write, values)
        return await self._run(self.ops.update, pk, values, check, where, hook)

    async def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        await self._run(self.ops.delete, pk, check, where, hook, deleting=True)


def _prepare_sqlite(dbapi_connection: Any) -> None:
    # SQLite's LIKE ignores ASCII case unless asked otherwise (see _sqlite.prepare for the rest).
    prepare_sqlite(dbapi_connection, pragmas=("PRAGMA case_sensitive_like=ON",))


def _prepare_read_only_sqlite(dbapi_connection: Any) -> None:
    # A file opened read-only (``mode=ro`` in a URI filename) keeps its journal mode: no WAL switch.
    prepare_sqlite(dbapi_connection, pragmas=("PRAGMA case_sensitive_like=ON",), wal=False)


def _read_only_sqlite(url: sa.URL) -> bool:
    """Whether the URL opens its SQLite file read-only (``sqlite:///file:path?mode=ro&uri=true``)."""
    return url.query.get("mode") == "ro" and str(url.query.get("uri", "")).lower() in ("true", "1")


# What each DBAPI connection needs before its first use, by dialect.
_PREPARE = {"sqlite": _prepare_sqlite}
_PREPARED = "ormgate_prepared"  # the mark in a pool record's info, which the pool clears on reconnecting


def _on_checkout(prepare: Callable[[Any], None]) -> Callable[[Any, Any, Any], None]:
    # At checkout rather than connect: an engine used before the adapter existed (tables
    # created, a query run) has pooled connections that were opened without it.
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if _PREPARED not in record.info:
            prepare(dbapi_connection)
            record.info[_PREPARED] = True

    return checkout


def _sqlite_name(url: sa.URL) -> str:
    options = "&".join(f"{key}={value}" for key, value in url.query.items())
    return f"{url.database or ''}?{options}"


def _create_all_on(engine: sa.Engine, tables: list[sa.Table]) -> None:
    with engine.begin() as conn:
        _create_all(conn, tables)


def _create_all(conn: sa.Connection, tables: list[sa.Table]) -> None:
    """``create_all`` for ``tables``, whose text compares as on SQLite and PostgreSQL (see _collation).

    The options are the dialect's table keywords (``mysql_collate``), lent to the
    tables that choose no character set or collation of their own for the time of
    the DDL: the user's ``Table`` is left as it was.
    """
    lent: list[tuple[sa.Table, str]] = []
    if conn.dialect.name in _TEXT_TABLE_OPTIONS:
        prefix = conn.dialect.name
        collation = exact_collation(getattr(conn.dialect, "is_mariadb", False))
        options = {f"{prefix}_charset": "utf8mb4", f"{prefix}_collate": collation}
        for table in tables:
            if not states_charset(key for key in table.dialect_kwargs if key.startswith(f"{prefix}_")):
                for key, value in options.items():
                    table.dialect_kwargs[key] = value
                    lent.append((table, key))
    types = _fractional_seconds(conn.dialect, tables)
    try:
        tables[0].metadata.create_all(conn, tables)
    finally:
        for table, key in lent:
            del table.dialect_kwargs[key]
        for column, type_ in types:
            column.type = type_


def _fractional_seconds(dialect: sa.Dialect, tables: list[sa.Table]) -> list[tuple[sa.Column[Any], Any]]:
    """On MySQL/MariaDB, the generic ``DateTime`` and ``Time`` columns made with microseconds, as Django makes them.

    The dialect's ``DATETIME`` keeps whole seconds unless given ``fsp``: a timestamp
    written with microseconds would come back without them. The types are lent for
    the time of the DDL; a column typed ``mysql.DATETIME(fsp=...)`` keeps its own.
    Returns the columns and their own types, to be put back.
    """
    if dialect.name not in _TEXT_TABLE_OPTIONS:
        return []
    lent: list[tuple[sa.Column[Any], Any]] = []
    for table in tables:
        for column in table.columns:
            own = column.type
            if type(own) in (sa.DateTime, sa.DATETIME):
                assert isinstance(own, sa.DateTime)
                lent.append((column, own))
                column.type = mysql.DATETIME(timezone=own.timezone, fsp=6)
            elif type(own) in (sa.Time, sa.TIME):
                assert isinstance(own, sa.Time)
                lent.append((column, own))
                column.type = mysql.TIME(timezone=own.timezone, fsp=6)
    return lent


# One listener per kind of preparation, so that a second adapter on the engine does not add another.
_CHECKOUT = {prepare: _on_checkout(prepare) for prepare in (*_PREPARE.values(), _prepare_read_only_sqlite)}


class SQLAlchemyAdapter:
    """ormgate on a SQLAlchemy ``Engine`` or ``AsyncEngine``.

    No more operations run at once than the pool keeps connections (``pool_size``);
    the others wait for one within the bounds of ``waiting``, or are answered 503.
    """

    def __init__(self, engine: sa.Engine | AsyncEngine, *, waiting: Waiting = DEFAULT_WAITING) -> None:
        self.engine = engine
        sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        if sync_engine.dialect.name == "sqlite" and memory_sqlite(_sqlite_name(sync_engine.url)):
            raise ValueError(IN_MEMORY_SQLITE)
        # Shared by this adapter's stores; the pool is looked up each time, as dispose() replaces it.
        self.waiting = waiting
        self.gate = Gate(lambda: pool_size(sync_engine.pool), waiting)
        self.writes = one_writer(waiting) if sync_engine.dialect.name in _IN_PROCESS else self.gate
        if sync_engine.dialect.name in _TEXT_TIMES:
            whole_seconds(sync_engine.dialect)
        prepare = _PREPARE.get(sync_engine.dialect.name)
        if prepare is not None and sync_engine.dialect.name == "sqlite" and _read_only_sqlite(sync_engine.url):
            prepare = _prepare_read_only_sqlite
        if prepare is not None and not sa.event.contains(sync_engine.pool, "checkout", _CHECKOUT[prepare]):
            sa.event.listen(sync_engine.pool, "checkout", _CHECKOUT[prepare])

    def describe(self, model: type[Any]) -> ModelInfo:
        return describe(model, self.engine.dialect)

    def store(self, model: type[Any], fields: Sequence[str]) -> _AsyncStore | ThreadedStore:
        operations = _Operations(model, fields)
        if any(r.kind == "many_to_many" for r in operations.info.relations):
            from ._sa_links import LinkedOperations  # imports this module

            operations = LinkedOperations(model, fields)
        if isinstance(self.engine, AsyncEngine):
            return _AsyncStore(self.engine, operations, self.gate, self.writes)
        return ThreadedStore(_SyncStore(self.engine, operations), self.gate, self.writes)

    async def create_tables(self, models: Sequence[type[Any]]) -> None:
        tables = [sa.inspect(model).local_table for model in models]
        if isinstance(self.engine, AsyncEngine):
            async with self.engine.begin() as conn:
                await conn.run_sync(_create_all, tables)
        else:
            await run_sync(_create_all_on, self.engine, tables)

    def session(self) -> Iterator[Session]:
        """FastAPI dependency: a ``Session`` in a transaction, committed when the endpoint returns.

        Use it with ``Depends(db.session, scope="function")`` so that the commit,
        and any conflict it raises, happens before the response is sent. Its
        connection is opened before the endpoint runs, once more if the database
        was down; a database that is unavailable (down, dropped the connection,
        busy) is a 503 with ``Retry-After``, never a 500.
        """
        assert isinstance(self.engine, sa.Engine), "use async_session with an AsyncEngine"
        with _translated({}), Session(self.engine, expire_on_commit=False) as session:
            for attempt in range(2):
                try:
                    session.connection()  # begins the transaction, as session.begin() would
                    break
                except sa.exc.DBAPIError as exc:
                    session.rollback()
                    if attempt or not dropped(exc):
                        raise
            yield session
            session.commit()

    async def async_session(self) -> AsyncIterator[AsyncSession]:
        """The ``AsyncSession`` twin of ``session``."""
        assert isinstance(self.engine, AsyncEngine), "use session with a sync Engine"
        with _translated({}):
            async with AsyncSession(self.engine, expire_on_commit=False) as session:
                for attempt in range(2):
                    try:
                        await session.connection()
                        break
                    except (sa.exc.DBAPIError, OSError) as exc:
                        await session.rollback()
                        if attempt or not dropped(exc):
                            raise
                yield session
                await session.commit()
