"""Peewee 4 models, on one ``Database`` per adapter.

Peewee binds a model class to one database for the whole process, and a
process may serve the same models from several databases (the tests run
SQLite, PostgreSQL and MySQL apps side by side). ``Model.bind`` and
``bind_ctx`` rebind the class itself, for every thread at once, so they are
not safe while other threads run units of work. Each adapter therefore works
on its own subclass of every model, bound to its database (``bound``); the
user's classes are never rebound or changed.

Each store operation is one unit of work in one worker thread: a pooled
connection (``connection_context``), a transaction for writes (``atomic``),
selected columns read from the cursor into dicts, never model instances, and
driver errors translated at one boundary.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import operator
import sqlite3
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import peewee as pw
from playhouse import db_url
from playhouse.pool import MaxConnectionsExceeded
from playhouse.pydantic_utils import get_field_type

from ..errors import NotFound, Unavailable
from ..model import JSON, MISSING, FieldInfo, ModelInfo, int_range
from ..plan import (
    GLOB,
    LIKE,
    Across,
    And,
    Condition,
    In,
    IsNull,
    Match,
    Not,
    Or,
    Order,
    PatternSyntax,
    Plan,
    Planner,
    shape,
)
from ..query import Query
from ..scope import condition as scope_condition
from ..scope import shape as scope_shape
from ..waiting import DEFAULT_WAITING, Waiting
from ._collation import exact_collation, states_charset
from ._drivers import classify, dropped
from ._fast import Facts, as_is, refusal
from ._pw_across import exists as across
from ._pw_compiled import Slot, Template
from ._pw_groups import grouped
from ._pw_relations import relations
from ._rows import RowsToDicts, rows_to_dicts
from ._session import UnitOfWork
from ._sqlite import TEXT_TIME
from ._sqlite import prepare as prepare_sqlite
from ._threaded import Gate, ThreadedStore, _pool, loop_budget, one_writer, run_sync
from .base import IN_MEMORY_SQLITE, Check, Hook, Page, Row, ShapeCache, Where, memory_sqlite

T = TypeVar("T")

# SQLAlchemy-style URL scheme -> (playhouse.db_url scheme, default options; the URL's query wins).
# Peewee's pools test a connection when handing it out (a round trip on PostgreSQL, a ping
# on MySQL) and drop it if the server has closed it; the pools ``connect`` makes skip that
# round trip for the generated reads, which retry instead (see ``_Unpinged``).
# "psycopg3+pool" is playhouse.postgres_ext.PooledPsycopg3Database: psycopg 3 even where
# psycopg2 is installed (the plain "postgresql+pool" would prefer psycopg2).
_POOL = {"max_connections": 20, "timeout": 10, "stale_timeout": 300}  # wait up to 10 s for a free connection
_MYSQL = ("mysql+pool", {**_POOL, "charset": "utf8mb4", "sql_mode": "TRADITIONAL"})
_URLS: dict[str, tuple[str, dict[str, Any]]] = {
    "sqlite": (
        "sqlite+pool",
        {
            # Foreign keys are off unless each connection asks; WAL lets reads run beside a write.
            "pragmas": {"foreign_keys": 1, "journal_mode": "wal"},
            "returning_clause": sqlite3.sqlite_version_info >= (3, 35),
            # Pooled too, as opening one costs more than a query: a connection goes to one
            # thread at a time, and the count is bounded by the threads, not by the pool.
            "check_same_thread": False,
            "max_connections": None,
        },
    ),
    "postgresql": ("psycopg3+pool", _POOL),
    "postgresql+psycopg": ("psycopg3+pool", _POOL),
    "mysql": _MYSQL,
    "mysql+pymysql": _MYSQL,
}


# Set in a thread while a generated read takes its connection: the read retries once on a
# dropped connection, so the pool's round trip to test it can be skipped.
_unpinged = threading.local()


def _closed_locally(conn: Any) -> bool:
    """What the driver knows without asking the server: psycopg's ``closed``, PyMySQL's ``open``."""
    return bool(getattr(conn, "closed", False)) or getattr(conn, "open", True) is False


@functools.cache
def _unpinged_pool(cls: type[Any]) -> type[Any]:
    """``cls``, a Peewee pool, testing a connection it hands out by a round trip only when asked."""

    def _is_closed(self: Any, conn: Any) -> bool:
        return _closed_locally(conn) if getattr(_unpinged, "on", False) else cls._is_closed(self, conn)

    def _set_server_version(self: Any, conn: Any) -> None:
        cls._set_server_version(self, conn)
        # Peewee writes JSON values MariaDB's way only when told (mariadb=True): MySQL's
        # CAST(... AS JSON) is a syntax error there. MySQL has no 10.x or 11.x.
        if hasattr(self, "mariadb") and (self.server_version or (0,)) >= (10,):
            self.mariadb = True

    attributes = {"_is_closed": _is_closed, "_set_server_version": _set_server_version, "__module__": __name__}
    return type(cls.__name__, (cls,), attributes)


def connect(url: str) -> Any:
    """A Peewee ``Database`` for a SQLAlchemy-style URL: ``sqlite:///path``, ``postgresql+psycopg://…``, ``mysql+pymysql://…``.

    Options in the URL's query string (``?max_connections=50``) override the defaults.
    """
    scheme, _, rest = url.partition("://")
    if scheme not in _URLS:
        raise ValueError(f"unsupported database URL scheme {scheme!r}; use one of {', '.join(_URLS)}")
    peewee_scheme, options = _URLS[scheme]
    # Parsed under Peewee's scheme, whose keyword names the drivers take without a deprecation warning.
    params = db_url.parse(f"{peewee_scheme}://{rest}", unquote_password=True, unquote_user=True)
    if scheme == "sqlite" and memory_sqlite(params["database"] or ""):
        raise ValueError(IN_MEMORY_SQLITE)
    return _unpinged_pool(db_url.schemes[peewee_scheme])(**{**options, **params})


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


def _match(syntax: PatternSyntax, column: Any, pattern: Any) -> Any:
    """``column`` matched against ``pattern`` (a parameter) with ``syntax``'s operator."""
    escape = () if syntax.escape is None else (pw.SQL(f"ESCAPE '{syntax.escape}'"),)
    return pw.NodeList([column, pw.SQL(syntax.operator), pattern, *escape], parens=True)


def _utf8_bytes(column: Any) -> Any:
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    return pw.Cast(pw.Cast(column, "CHAR CHARACTER SET utf8mb4"), "BINARY")


@dataclass(frozen=True, slots=True)
class _Dialect:
    """What differs beyond Peewee's own toggles (``for_update``, ``nulls_ordering``, ``returning_clause``)."""

    # Text matched code point by code point: MariaDB's default collations ignore case and accents.
    exact: Callable[[Any], Any] = lambda column: column
    # The case-sensitive pattern match, on exact(column). SQLite's LIKE ignores ASCII case
    # (its case_sensitive_like pragma is deprecated); GLOB does not.
    match: PatternSyntax = LIKE
    # Text compared for equality code point by code point, without padding (see _collation).
    identical: Callable[[Any], Any] = lambda column: column
    # Tables ormgate creates compare text exactly (see _collation): MySQL/MariaDB need it said.
    exact_tables: bool = False
    # atomic() arguments of a unit of work that writes. SQLite takes the write lock at
    # BEGIN IMMEDIATE, which stands in for the row lock it does not have: a check and
    # the write after it cannot interleave with another writer.
    write_begin: Mapping[str, Any] = field(default_factory=dict)
    # Settings each DBAPI connection needs, whoever opened it and whenever (see _Prepared).
    prepare: Callable[[Any], None] | None = None
    in_process: bool = False  # a GET by key may skip the thread hop (_threaded.may_run_inline)
    text_times: bool = False  # timestamps are text, compared as the instants they name (see _sqlite)


_DIALECTS: dict[Any, _Dialect] = {
    pw.SqliteDatabase: _Dialect(
        match=GLOB, write_begin={"lock_type": "IMMEDIATE"}, prepare=prepare_sqlite, in_process=True, text_times=True
    ),
    pw.PostgresqlDatabase: _Dialect(),
    pw.MySQLDatabase: _Dialect(
        exact=lambda column: column.collate("utf8mb4_bin"), identical=_utf8_bytes, exact_tables=True
    ),
}

# (column, exact column, value) -> condition. Equality keeps the plain comparison beside
# the exact one where they differ, so that an index on the column still serves it.
_COMPARE: dict[str, Callable[[Any, Any, Any], Any]] = {
    "eq": lambda c, x, v: c == v if x is c else (c == v) & (x == v),
    "ne": lambda c, x, v: x != v,
    "lt": lambda c, x, v: c < v,
    "lte": lambda c, x, v: c <= v,
    "gt": lambda c, x, v: c > v,
    "gte": lambda c, x, v: c >= v,
}
_TEXT = (pw.CharField, pw.TextField)
_TIMES = (pw.DateTimeField, pw.TimeField)
# Operators whose value shapes the SQL (one placeholder per item): not a parameter.
_SHAPING = frozenset({"in"})
_KEY = ("key",)  # the slot of the primary key in statements by key; field names are strings


def _converter(f: Any) -> Callable[[Any], Any]:
    """Peewee's own conversion of a column's value, and what makes every database read the same."""
    if isinstance(f, pw.DecimalField):
        # SQLite keeps NUMERIC as a float: 12.50 comes back as 12.5 unless given its scale again.
        exponent = Decimal(1).scaleb(-f.decimal_places)

        def scaled(value: Any) -> Decimal | None:
            number: Decimal | None = f.python_value(value)
            return None if number is None else number.quantize(exponent)

        return scaled
    python_value: Callable[[Any], Any] = f.python_value
    return python_value


# Peewee's own fields whose python_value leaves a value of this type as it is: a row from a
# driver that already returns it skips the call (a third of a 100-row page's CPU on PostgreSQL).
_AS_IS: dict[type[Any], type[Any]] = {
    pw.AutoField: int,
    pw.BigAutoField: int,
    pw.IntegerField: int,
    pw.BigIntegerField: int,
    pw.SmallIntegerField: int,
    pw.CharField: str,
    pw.TextField: str,
    pw.FloatField: float,
    pw.DoubleField: float,
    pw.BooleanField: bool,
    pw.DateTimeField: datetime,
    pw.DateField: date,
}


def _hooks(database: Any) -> tuple[str, ...]:
    """Those of ``_fast.HOOKS["peewee"]`` that ``database`` has: an override of ``execute`` outside Peewee."""
    owner = next(cls for cls in type(database).__mro__ if "execute" in vars(cls))
    # Peewee's own (playhouse's PostgresqlExtDatabase has one, for server-side cursors) run the same SQL.
    own = owner.__module__ == "peewee" or owner.__module__.startswith("playhouse.")
    return () if own else ("Database.execute",)


# What may reach the boundary from the database: Peewee's wrapper of the driver's errors
# (PeeweeException: InterfaceError is no DatabaseError), and its pool's "no connection in time".
_DATABASE_ERRORS = (pw.PeeweeException, MaxConnectionsExceeded)


@contextlib.contextmanager
def _translated(constraint_fields: Mapping[str, str], *, deleting: bool = False) -> Iterator[None]:
    try:
        yield
    except _DATABASE_ERRORS as exc:  # Peewee's wrapper keeps the driver error on .orig
        error = classify(exc, constraint_fields, deleting=deleting)
        if error is None:
            raise
        raise error from exc


class _SyncStore:
    def __init__(self, adapter: PeeweeAdapter, model: Any, fields: Sequence[str]) -> None:
        self.adapter = adapter
        self.db = adapter.database
        self.info = describe(model)
        self.in_process = adapter.dialect.in_process  # see _threaded.may_run_inline
        self.model = adapter.bound(model)
        self.declared = model  # whose relations a filter's path goes through (a bound copy has none of them)
        self.fields = _api_fields(self.model)
        self.convert = {name: _converter(f) for name, f in self.fields.items()}
        self.as_is = as_is({name: type(f) for name, f in self.fields.items()}, _AS_IS)
        self.to_dicts: ShapeCache[RowsToDicts] = ShapeCache()
        api_name = {f: name for name, f in self.fields.items()}
        self.defaults = [(api_name[f], default) for f, default in self.model._meta.defaults.items()]
        # Statements by shape: Peewee builds one in 200 to 250 µs, longer than most run.
        self.statements: ShapeCache[Any] = ShapeCache()
        self.planner = Planner(self.info)
        self.pk = self.fields[self.info.pk.name]
        self.names = tuple(fields)
        self.read = self._columns(self.names)
        self.constraint_fields = _constraint_fields(self.model)
        # Fields whose values are written as SQL expressions, not parameters (a JSONField on
        # SQLite and MySQL: json(?)): a statement that writes one is built for its values.
        self.expressions = frozenset(
            name
            for name, f in self.fields.items()
            if isinstance(f, pw.JSONField) and isinstance(f.db_value([]), pw.Node)  # type: ignore[no-untyped-call]
        )
        # The statements by primary key are compiled once: building SQL is most of Peewee's cost.
        by_pk = self.model.select(*self.read).where(self.pk == Slot(_KEY))
        self.get_sql = Template(self.db, by_pk)
        self.lock_sql = Template(self.db, by_pk.for_update()) if self.db.for_update else self.get_sql
        self.delete_sql = Template(self.db, self.model.delete().where(self.pk == Slot(_KEY)))
        # Whether statements run on execute_sql, or through Database.execute (see _fast).
        self.fast = refusal(Facts("peewee", hooks=_hooks(self.db))) is None

    def _columns(self, names: Iterable[str]) -> list[Any]:
        return [self.fields[name].alias(name) for name in names]

    def _rows(self, cursor: Any, names: tuple[str, ...]) -> list[Row]:
        to_dicts = self.to_dicts.get(
            names,
            lambda: rows_to_dicts(
                names,
                {i: self.convert[name] for i, name in enumerate(names)},
                {i: self.as_is[name] for i, name in enumerate(names) if name in self.as_is},
            ),
        )
        return to_dicts(cursor.fetchall())

    def _execute(self, statement: Template, values: Mapping[Any, Any]) -> Any:
        return statement.execute(self.db, values, fast=self.fast)

    def _by_pk(self, statement: Template, pk: Any) -> Any:
        return self._execute(statement, {_KEY: pk})

    def _work(
        self, *, write: bool = True, transaction: bool = True, deleting: bool = False
    ) -> contextlib.AbstractContextManager[None]:
        return self.adapter._unit_of_work(
            self.constraint_fields, write=write, transaction=transaction, deleting=deleting
        )

    # A plan (ormgate.plan) compiled to Peewee's expressions.

    def _condition(
        self, c: Condition, values: Mapping[str, Any], fields: dict[str, Any] | None = None, model: Any = None
    ) -> Any:
        """``c`` with a ``Slot`` for each parameter but ``In``'s, whose values shape the SQL.

        ``fields``, ``model``: the row a path starts from (an alias of a related model, for the rest
        of a path through relations: ormgate.adapters._pw_across); the store's own model by default.
        """
        fields, model = (self.fields, self.declared) if fields is None else (fields, model)
        if isinstance(c, And | Or):
            items = [self._condition(item, values, fields, model) for item in c.items]
            if not items:
                return pw.SQL("1 = 1" if isinstance(c, And) else "1 = 0")
            return functools.reduce(operator.and_ if isinstance(c, And) else operator.or_, items)
        if isinstance(c, Not):
            return ~self._condition(c.item, values, fields, model)
        if isinstance(c, Across):
            return across(
                model, c.relation, fields, lambda target, related: self._condition(c.where, values, target, related)
            )
        if len(c.path) > 1:
            rest = dataclasses.replace(c, path=c.path[1:])
            return across(
                model, c.path[0], fields, lambda target, related: self._condition(rest, values, target, related)
            )
        column = fields[c.path[-1]]
        # A related model's field is read through an alias: its kind is that of the field aliased.
        kind = column.field if isinstance(column, pw.FieldAlias) else column
        dialect = self.adapter.dialect
        if isinstance(c, IsNull):
            return column.is_null(c.null)
        if isinstance(c, Match):
            kind = c.kind
            syntax = LIKE if c.folded else dialect.match
            target = dialect.exact(pw.fn.LOWER(column) if c.folded else column)
            return _match(syntax, target, Slot(c.param, lambda v: syntax.pattern(kind, v)))
        exact = dialect.identical(column) if c.exact and isinstance(kind, _TEXT) else column
        if isinstance(c, In):
            value = values[c.param]
            return column.in_(value) if exact is column else column.in_(value) & exact.in_(value)
        if dialect.text_times and isinstance(kind, _TIMES):
            value = Slot(c.param, converter=column.db_value)
            bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
            met = functools.reduce(
                operator.and_, (_COMPARE[op](column, column, getattr(pw.fn, b)(value)) for op, b in bounds)
            )
            return ~met if c.op == "ne" else met
        return _COMPARE[c.op](column, exact, Slot(c.param))

    def _order(self, term: Order, column: Any = None) -> Any:
        column = self.fields[term.path[-1]] if column is None else column
        # PostgreSQL needs the NULLS clause said. MySQL has none and already sorts NULL smallest;
        # Peewee would emulate the clause there with a CASE no index serves.
        nulls = {"nulls": term.nulls.upper()} if self.db.nulls_ordering and term.nulls else {}
        return column.desc(**nulls) if term.descending else column.asc(**nulls)

    # The five operations, each one unit of work.

    def _list_statements(self, plan: Plan, values: Mapping[str, Any]) -> tuple[Template, Template | None]:
        """The page's SELECT and, if asked, the COUNT, with a ``Slot`` for each parameter."""
        where = [self._condition(c, values) for c in plan.where.items]
        if plan.group is not None:  # the first rows of each group (ormgate.adapters._pw_groups)
            return Template(self.db, grouped(self.model, self.fields, plan, where, self._order)), None
        select = self.model.select(*self._columns(plan.columns))
        if where:
            select = select.where(*where)
        if plan.after is not None:
            select = select.where(self._condition(plan.after, values))
        select = select.order_by(*map(self._order, plan.order)).limit(Slot("limit"))
        if plan.offset:
            select = select.offset(Slot("offset"))
        counting = None
        if plan.count:
            counting = self.model.select(pw.fn.COUNT(pw.SQL("*")))
            counting = Template(self.db, counting.where(*where) if where else counting)
        return Template(self.db, select), counting

    def _page(self, query: Query) -> Callable[[], Page]:
        """Reads the page (and its count, if asked) on the unit of work's connection."""
        key = shape(query)
        values = Planner.values(query)
        if any(f.op in _SHAPING for f in query.filters):
            select, counting = self._list_statements(self.planner.plan(query, key), values)
        else:
            select, counting = self.statements.get(
                ("list", key), lambda: self._list_statements(self.planner.plan(query, key), values)
            )

        def page() -> Page:
            rows = self._rows(self._execute(select, values), query.fields)
            if counting is None:
                return Page(rows, None)
            return Page(rows, int(self._execute(counting, values).fetchone()[0]))

        return page

    def list(self, query: Query) -> Page:
        # Rows and their count read in one transaction, so both see the same data where the database allows.
        return self._run(self._page(query), write=False, transaction=query.count)

    def list_on_loop(self, query: Query) -> Page | None:
        """The page, read on the event loop within ``LOOP_BUDGET`` (SQLite, no count), or None."""
        if query.count or not self.in_process:
            return None
        page = self._page(query)
        with self._work(write=False, transaction=False), loop_budget(self.db.connection()):
            return page()

    def _get(self, pk: Any, *, lock: bool = False, where: Where = None) -> Row | None:
        by_pk = self._by_pk(self.lock_sql if lock else self.get_sql, pk) if not where else None
        cursor = self._scoped(pk, where, lock) if by_pk is None else by_pk
        rows = self._rows(cursor, self.names)
        return rows[0] if rows else None

    def _scoped(self, pk: Any, where: Where, lock: bool) -> Any:
        """Runs the SELECT by key with ``where``'s conditions (ormgate.scope), built once per scope shape."""
        condition, values = scope_condition(where or {})

        def build() -> tuple[Template, Template]:
            select = self.model.select(*self.read).where(self.pk == Slot("pk"), self._condition(condition, values))
            locked = select.for_update() if self.db.for_update else select
            return Template(self.db, select), Template(self.db, locked)

        get, locked = self.statements.get(("scoped", scope_shape(where)), build)
        statement = locked if lock else get
        return self.db.execute_sql(statement.sql, statement.bind({**values, "pk": pk}))

    def _not_found(self, pk: Any) -> NotFound:
        return NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")

    def _lock(self, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is None and not where:
            return
        row = self._get(pk, lock=True, where=where)
        if row is None:
            raise self._not_found(pk)
        if check is not None:
            check(row)

    def _run(
        self,
        function: Callable[..., T],
        *args: Any,
        write: bool = True,
        transaction: bool = True,
        deleting: bool = False,
    ) -> T:
        """One unit of work, on a connection the pool hands out untested.

        A connection the server has dropped fails the work before COMMIT, so
        nothing was written: the work runs once more, on a connection the pool
        does test. A failure during COMMIT is not repeated (the write may have landed).
        """
        if write and not transaction:
            # One statement that commits by itself: a failure may come after it landed, so it is
            # not repeated, and the pool tests the connection first instead.
            with self._work(transaction=False, deleting=deleting):
                return function(*args)
        done = False
        try:
            _unpinged.on = True
            with self._work(write=write, transaction=transaction, deleting=deleting):
                _unpinged.on = False
                result = function(*args)
                done = True
            return result
        except (pw.OperationalError, pw.InterfaceError, Unavailable) as exc:
            # Once more only when the database dropped the connection or was down, not when busy.
            if done or (isinstance(exc, Unavailable) and not dropped(exc)):
                raise
        finally:
            _unpinged.on = False
        with self._work(write=write, transaction=transaction, deleting=deleting):
            return function(*args)

    def get(self, pk: Any, where: Where = None) -> Row | None:
        if where:
            return self._run(lambda: self._get(pk, where=where), write=False, transaction=False)
        return self._run(self._get, pk, write=False, transaction=False)

    def _written(self, names: Iterable[str], values: Row | None = None) -> dict[Any, Any]:
        """The written columns: a ``Slot`` each, or, for ``expressions``, the value given in ``values``."""
        return {
            self.fields[name]: values[name]
            if values is not None and name in self.expressions
            else Slot(name, converter=self.fields[name].db_value)
            for name in names
        }

    def _returning(self, query: Any) -> Template:
        return Template(self.db, query.returning(*self.read) if self.db.returning_clause else query)

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        # The fields' Python defaults, drawn here as Model.create would (a built INSERT would
        # keep the first ones), the key's too: the row is read back by it where the database
        # returns no key (MySQL).
        values = {**{name: d() if callable(d) else d for name, d in self.defaults if name not in values}, **values}
        names = tuple(sorted(values))
        insert: Template | None = None
        if self.expressions.isdisjoint(names):
            insert = self.statements.get(
                ("insert", names), lambda: self._returning(self.model.insert(self._written(names)))
            )

        def insert_row(values: Row, names: tuple[str, ...], insert: Template | None) -> Row | None:
            # A statement for these values is built here, connected: how Peewee writes an
            # expression may depend on the server (MariaDB's JSON).
            built = insert or self._returning(self.model.insert(self._written(names, values)))
            cursor = self._execute(built, values)
            if self.db.returning_clause:
                return self._rows(cursor, self.names)[0]
            return self._get(values.get(self.info.pk.name, self.db.last_insert_id(cursor)))

        def create() -> Row | None:
            if hook is None:
                return insert_row(values, names, insert)
            changed = dict(values)  # the hook's to change; a repeated unit of work starts from the request's
            hook("before", self.db, changed)
            now = tuple(sorted(changed))
            row = insert_row(changed, now, insert if now == names else None)
            assert row is not None
            hook("after", self.db, row)
            return row

        # INSERT ... RETURNING is one statement: atomic without a transaction, two round trips fewer.
        row = self._run(create, transaction=hook is not None or not self.db.returning_clause)
        assert row is not None
        return row

    def _update(
        self, pk: Any, values: Row, check: Check | None, where: Where = None, hook: Hook | None = None
    ) -> Row | None:
        self._lock(pk, check, where)
        if hook is None:
            return self._write(pk, values)
        values = dict(values)
        hook("before", self.db, values)
        row = self._write(pk, values)
        if row is not None:
            hook("after", self.db, row)
        return row

    def _write(self, pk: Any, values: Row) -> Row | None:
        if not values:
            return self._get(pk)
        names = tuple(sorted(values))

        def build(written: dict[Any, Any]) -> Template:
            return self._returning(self.model.update(written).where(self.pk == Slot(_KEY)))

        if self.expressions.isdisjoint(names):
            update = self.statements.get(("update", names), lambda: build(self._written(names)))
        else:
            update = build(self._written(names, values))
        bound: dict[Any, Any] = {**values, _KEY: pk}
        cursor = self._execute(update, bound)
        if self.db.returning_clause:
            return next(iter(self._rows(cursor, self.names)), None)
        return self._get(pk)

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        one_statement = check is None and not where and hook is None and (not values or self.db.returning_clause)
        row = self._run(self._update, pk, values, check, where, hook, transaction=not one_statement)
        if row is None:
            raise self._not_found(pk)
        return row

    def _delete(self, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None) -> None:
        self._lock(pk, check, where)
        if hook is not None:
            hook("before", self.db, {self.info.pk.name: pk})
        if self._by_pk(self.delete_sql, pk).rowcount == 0:
            raise self._not_found(pk)
        if hook is not None:
            hook("after", self.db, {self.info.pk.name: pk})

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        locks = check is not None or bool(where) or hook is not None
        self._run(self._delete, pk, check, where, hook, transaction=locks, deleting=True)


class _Prepared:
    """Which DBAPI connections have had the dialect's ``prepare``: each is prepared before its first unit of work.

    Peewee applies its own pragmas and functions as it opens a connection, but a
    Database used before the adapter existed (tables created, a query run) has
    connections, pooled or held by a thread, that never saw ormgate's. SQLite's
    connections take neither attributes nor weak references: they are kept by
    ``id`` with the connection itself, so an ``id`` reused by a new connection
    never passes for it. Bounded: when full it starts over, which only prepares
    some connections again (harmless).
    """

    def __init__(self, prepare: Callable[[Any], None], size: int = 256) -> None:
        self.prepare = prepare
        self.size = size
        self.done: dict[int, Any] = {}

    def __call__(self, connection: Any) -> None:
        if self.done.get(id(connection)) is not connection:
            self.prepare(connection)
            if len(self.done) >= self.size:
                self.done.clear()
            self.done[id(connection)] = connection


def _exact_text(bound: Any, mariadb: bool) -> None:
    """Give the tables ormgate creates the exact collation, unless the model's ``table_settings`` choose one."""
    settings = bound._meta.table_settings or []
    settings = [settings] if isinstance(settings, str) else list(settings)
    if not states_charset(settings):
        # On the bound copy, which is ormgate's: the user's model keeps its settings.
        bound._meta.table_settings = [*settings, "DEFAULT CHARSET=utf8mb4", f"COLLATE={exact_collation(mariadb)}"]
    _fractional_seconds(bound)


_FRACTIONAL = {pw.DateTimeField: "DATETIME(6)", pw.TimeField: "TIME(6)"}


def _fractional_seconds(bound: Any) -> None:
    """MySQL/MariaDB columns of timestamps and times with microseconds, as Django makes them.

    Peewee's ``DATETIME`` keeps whole seconds: a timestamp written with microseconds
    would come back without them. On the bound copy's fields, which are ormgate's.
    """
    for f in bound._meta.sorted_fields:
        column_type = _FRACTIONAL.get(type(f))
        if column_type is not None:
            f.ddl_datatype = functools.partial(_column_type, column_type)


def _column_type(column_type: str, ctx: Any) -> Any:
    return pw.SQL(column_type)


class PeeweeAdapter:
    """ormgate on one Peewee ``Database`` (see ``connect`` to open one from a URL).

    On a pooled database no more operations run at once than it has connections
    (``max_connections``); the others wait within the bounds of ``waiting``, or are answered 503.
    """

    def __init__(self, database: Any, *, waiting: Waiting = DEFAULT_WAITING) -> None:
        self.database = database
        dialect = next((d for cls, d in _DIALECTS.items() if isinstance(database, cls)), None)
        if dialect is None:
            raise TypeError(f"ormgate's Peewee adapter does not know {type(database).__name__}")
        if dialect.in_process and memory_sqlite(database.database or ""):
            raise ValueError(IN_MEMORY_SQLITE)
        self.dialect = dialect
        self._prepare = None if dialect.prepare is None else _Prepared(dialect.prepare)
        self._bound: dict[Any, Any] = {}
        self._constraint_fields: dict[str, str] = {}
        self._lock = threading.RLock()
        # A pooled database hands out at most max_connections (None: unlimited).
        self.waiting = waiting
        self.gate = Gate(lambda: getattr(database, "_max_connections", None), waiting)
        self.writes = one_writer(waiting) if dialect.in_process else self.gate

    def bound(self, model: Any) -> Any:
        """``model`` on this adapter's database: a subclass made once, for queries in hand-written endpoints."""
        with self._lock:
            return self._bind(model)

    def _bind(self, model: Any) -> Any:
        if model in self._bound:
            return self._bound[model]
        fields = model._meta.fields
        # Foreign keys are added after the class exists, pointing at the bound copy of their
        # target: left to ModelBase, the parent's key would be copied with its target and
        # register a back-reference on the user's model. None keeps their names from being
        # inherited meanwhile.
        attrs = {name: None if isinstance(f, pw.ForeignKeyField) else copy.deepcopy(f) for name, f in fields.items()}
        # Nor many-to-many fields: their join model refers to the user's model, not this copy
        # (ormgate writes the pairs through a bound copy of the join model; see _pw_links).
        attrs.update(dict.fromkeys(model._meta.manytomany))
        meta = type("Meta", (), {"database": self.database, "table_name": model._meta.table_name})
        bound: Any = type(model.__name__, (model,), {"__module__": model.__module__, "Meta": meta, **attrs})
        self._bound[model] = bound  # before its keys, so a key to itself or a cycle finds it
        for name, f in fields.items():
            if isinstance(f, pw.ForeignKeyField):
                key = copy.deepcopy(f)
                key.declared_backref = "+"
                key.rel_model = self._bind(f.rel_model)
                key.rel_field = f.rel_field.name
                bound._meta.add_field(name, key)
        self._constraint_fields.update(_constraint_fields(bound))
        return bound

    def describe(self, model: Any) -> ModelInfo:
        return describe(model)

    def store(self, model: Any, fields: Sequence[str]) -> ThreadedStore:
        store = _SyncStore(self, model, fields)
        if any(r.kind == "many_to_many" for r in store.info.relations):
            from ._pw_links import LinkedStore  # imports this module

            store = LinkedStore(self, model, fields)
        return ThreadedStore(store, self.gate, self.writes)

    async def create_tables(self, models: Sequence[Any]) -> None:
        bound = [self.bound(model) for model in models]

        def create() -> None:
            with self.database.connection_context():
                if self.dialect.exact_tables:
                    mariadb = "mariadb" in self.database.execute_sql("SELECT VERSION()").fetchone()[0].lower()
                    for model in bound:
                        _exact_text(model, mariadb)
                self.database.create_tables(bound, safe=True)

        await run_sync(create)

    @contextlib.contextmanager
    def _unit_of_work(
        self,
        constraint_fields: Mapping[str, str],
        *,
        write: bool = True,
        transaction: bool = True,
        deleting: bool = False,
    ) -> Iterator[None]:
        """A pooled connection for this thread, a transaction if asked, driver errors as ormgate errors."""
        with _translated(constraint_fields, deleting=deleting), self.database.connection_context():
            if self._prepare is not None:
                self._prepare(self.database.connection())
            if not transaction:
                yield
                return
            with self.database.atomic(**(self.dialect.write_begin if write else {})):
                yield

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """A unit of work for a hand-written endpoint: a pooled connection, a transaction, errors translated.

        Use it in a sync ``def`` endpoint: Peewee keeps its connection per thread,
        and FastAPI runs such an endpoint in one worker thread, so the unit of work
        is one thread hop (a yielding dependency's set-up and tear-down may run in
        other threads). Constraint violations on any model bound here become 409s
        and 422s, as in the generated routes.
        """
        return self._unit_of_work(self._constraint_fields)

    async def session(self) -> AsyncIterator[UnitOfWork]:
        """FastAPI dependency: a unit of work per request, ``await session.run(function, *args)``.

        Use it with ``Depends(db.session)``. ``run`` executes ``function`` in one
        worker thread, where Peewee keeps its connection, inside a transaction:
        committed when it returns, rolled back when it raises, the pooled
        connection released after. A duplicate is a 409, a missing reference a
        422, a database that is unavailable (down, dropped the connection,
        busy) a 503 with ``Retry-After``, never a 500. Query the models of
        ``bound``. See ``UnitOfWork``.
        """
        session = UnitOfWork(self._session_unit, self.gate, self.writes, _pool)
        try:
            yield session
        finally:
            session.open = False

    def _session_unit(self, write: bool) -> contextlib.AbstractContextManager[None]:
        return self._unit_of_work(self._constraint_fields, write=write)

    def connection(self) -> contextlib.AbstractContextManager[None]:
        """``atomic`` without the transaction, for hand-written reads."""
        return self._unit_of_work(self._constraint_fields, transaction=False)
