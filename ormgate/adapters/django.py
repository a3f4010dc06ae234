"""The Django ORM, standalone or inside a Django project, on one database alias.

Django keeps a connection per thread and alias. Each store operation is one unit
of work in one worker thread (``ThreadedStore``) of the alias's own pool, whose
size bounds the alias's connections: it reuses that thread's connection,
health-checked first as Django does per request, writes inside
``transaction.atomic(using=alias)`` and reads rows with ``.values()``, never
building model instances. ``configure`` turns a database URL into an alias, so
that apps on several databases run side by side in one process.
"""

from __future__ import annotations

import atexit
import contextlib
import enum
import functools
import operator
import os
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit
from uuid import UUID

import django
from django.apps import apps
from django.conf import ENVIRONMENT_VARIABLE, settings
from django.db import DEFAULT_DB_ALIAS, Error, InterfaceError, OperationalError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models import (
    BooleanField,
    DateTimeField,
    F,
    Field,
    ForeignKey,
    Func,
    GeneratedField,
    Model,
    Q,
    QuerySet,
    TimeField,
    Value,
)
from django.db.models import UniqueConstraint as Unique
from django.db.models.deletion import ProtectedError, RestrictedError
from django.db.models.fields import AutoFieldMixin
from django.db.models.functions import Lower
from django.db.models.lookups import (
    Contains,
    EndsWith,
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    LessThan,
    LessThanOrEqual,
    StartsWith,
)
from django.utils import timezone

from ..errors import ForeignKeyViolation, NotFound, Unavailable
from ..model import JSON, MISSING, FieldInfo, ModelInfo
from ..plan import GLOB, And, Condition, IsNull, Match, Not, Or, Order, Planner
from ..plan import In as InList
from ..query import Query
from ..scope import condition as scope_condition
from ..scope import shape
from ..waiting import DEFAULT_WAITING, Waiting
from ._collation import exact_collation
from ._dj_across import exists as across
from ._dj_compiled import CompiledGet, Refused, compile_get, distinct
from ._dj_groups import grouped
from ._dj_relations import relations
from ._drivers import classify, dropped
from ._fast import Facts, refusal
from ._session import UnitOfWork
from ._sqlite import TEXT_TIME
from ._sqlite import prepare as prepare_sqlite
from ._threaded import Gate, ThreadedStore, one_writer, run_sync
from .base import IN_MEMORY_SQLITE, Check, Hook, Page, Row, Where, memory_sqlite

# -- settings: a SQLAlchemy-style URL becomes a DATABASES entry -------------------------------


def _pymysql_as_mysqldb() -> None:
    # Django's MySQL backend imports MySQLdb (mysqlclient), a C extension that needs the MySQL
    # client headers to build. PyMySQL implements the same DB-API in pure Python and stands in
    # under that name; it reports a mysqlclient-style version_info (2.2.x), which is what Django's
    # "mysqlclient 1.4.3 or newer" check reads. Widely used, but Django's own CI runs mysqlclient
    # only. A process has one MySQLdb: an already imported mysqlclient is kept.
    if "MySQLdb" not in sys.modules:
        import pymysql

        pymysql.install_as_MySQLdb()


@dataclass(frozen=True)
class _Backend:
    engine: str
    drivers: Mapping[str, Callable[[], None] | None]  # the URL's "+driver" -> what to prepare first
    options: Mapping[str, Any]
    file: bool = False


_MYSQL = _Backend(
    "django.db.backends.mysql",
    {"": None, "mysqldb": None, "pymysql": _pymysql_as_mysqldb},
    # Strict mode: a value that does not fit is an error, never silently truncated.
    {"charset": "utf8mb4", "init_command": "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'"},
)
_POSTGRESQL = _Backend("django.db.backends.postgresql", {"": None, "psycopg": None, "psycopg2": None}, {})
# IMMEDIATE: a transaction takes SQLite's write lock when it begins, so a read-check-write
# waits its turn instead of failing with "database is locked" when it comes to write.
_SQLITE = _Backend("django.db.backends.sqlite3", {"": None, "pysqlite": None}, {"transaction_mode": "IMMEDIATE"}, True)
_BACKENDS = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL, "postgres": _POSTGRESQL, "mysql": _MYSQL, "mariadb": _MYSQL}
# Connections live on in their worker thread (CONN_MAX_AGE) and are pinged before the first
# query of each unit of work (CONN_HEALTH_CHECKS), so one the server dropped is replaced.
_CONNECTIONS = {"CONN_MAX_AGE": 600, "CONN_HEALTH_CHECKS": True}


def database_settings(url: str) -> dict[str, Any]:
    """The Django ``DATABASES`` entry for a SQLAlchemy-style URL, e.g. ``postgresql+psycopg://u@host/db``."""
    parts = urlsplit(url)
    scheme, _, driver = parts.scheme.partition("+")
    backend = _BACKENDS.get(scheme)
    if backend is None or driver not in backend.drivers:
        raise ValueError(f"the Django adapter opens {', '.join(_BACKENDS)} URLs (sync drivers), not {parts.scheme!r}")
    name = unquote(parts.path[1:])  # sqlite:///relative.db, sqlite:////absolute.db, scheme://host/name
    if backend.file and memory_sqlite(name + (f"?{parts.query}" if parts.query else "")):
        raise ValueError(IN_MEMORY_SQLITE)
    prepare = backend.drivers[driver]
    if prepare is not None:
        prepare()
    host = {"HOST": parts.hostname or "", "PORT": str(parts.port or "")}
    user = {"USER": unquote(parts.username or ""), "PASSWORD": unquote(parts.password or "")}
    return {"ENGINE": backend.engine, "NAME": name, **host, **user, "OPTIONS": dict(backend.options), **_CONNECTIONS}


_settings_lock = threading.Lock()


def setup(*, installed_apps: Sequence[str] = ()) -> None:
    """Make Django usable: call it before declaring models, which need the app registry.

    Standalone, it configures minimal settings with ``installed_apps`` (the apps your
    models relate to, ``django.contrib.auth`` for its ``User``); in a Django project
    (``DJANGO_SETTINGS_MODULE`` set) the project's settings are used. Apps cannot be
    added once settings are made: asking for one that is missing is a ``ValueError``.
    """
    with _settings_lock:
        if not settings.configured and ENVIRONMENT_VARIABLE not in os.environ:
            # No default database: configure() adds an alias per URL. Naive datetimes as the
            # other ORMs return them; UTC is what Django sets as PostgreSQL's session time zone.
            settings.configure(DATABASES={}, INSTALLED_APPS=list(installed_apps), USE_TZ=False, TIME_ZONE="UTC")
        missing = [app for app in installed_apps if app not in settings.INSTALLED_APPS]
        if missing:
            raise ValueError(
                f"Django's settings are already made without {', '.join(missing)}: "
                "name every app in the first setup(installed_apps=...), before any model is declared"
            )
        if not apps.ready:
            django.setup()


def configure(database_url: str, *, alias: str | None = None) -> str:
    """The database alias serving ``database_url``, added to Django's connections if new."""
    config = database_settings(database_url)
    setup()
    with _settings_lock:
        databases = connections.settings
        for name, known in databases.items():
            same = all(known.get(key) == config[key] for key in ("ENGINE", "NAME", "HOST", "PORT", "USER"))
            if same and alias in (None, name):
                return name
        alias = alias or f"ormgate_{len(databases)}"
        if alias in databases:
            raise ValueError(f"database alias {alias!r} is already configured for another database")
        # Django fills in the settings it defaults (AUTOCOMMIT, TIME_ZONE, TEST, ...).
        filled = connections.configure_settings({DEFAULT_DB_ALIAS: databases[DEFAULT_DB_ALIAS], alias: config})
        databases[alias] = filled[alias]
    return alias


# Django's MySQL backend refuses 0 for an AutoField with a ValueError, before any SQL (MySQL would
# take 0 as "the next value"). Written to a foreign key or a many-to-many list, 0 names no row.
ZERO_KEY = "does not accept 0 as a value for AutoField"


@contextlib.contextmanager
def zero_key_is_missing(error: ForeignKeyViolation | None = None) -> Iterator[None]:
    """A key of 0 refused by Django's MySQL backend: the referenced row does not exist (a 409)."""
    try:
        yield
    except ValueError as exc:
        if ZERO_KEY not in str(exc):
            raise
        raise (error or ForeignKeyViolation("the referenced row does not exist")) from exc


def _prepare_sqlite(connection: BaseDatabaseWrapper) -> None:
    # Case-insensitive matching folds with Python's rules, under a name of its own: Django's
    # own lower() stays SQLite's. (Case-sensitive matching uses GLOB.)
    prepare_sqlite(connection.connection, lower="ormgate_lower")
    connection.ormgate_prepared = connection.connection  # type: ignore[attr-defined]


def _prepare(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        _prepare_sqlite(connection)


connection_created.connect(_prepare, dispatch_uid="ormgate.adapters.django")

# -- describe: Django fields -> FieldInfo -----------------------------------------------------

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


def _constraint_fields(models: Sequence[type[Model]], connection: BaseDatabaseWrapper) -> dict[str, str]:
    """Column, constraint and index names that a database error may quote -> field names."""
    # MySQL quotes index names. A unique index a migration adds later (AlterField) is named
    # by the schema editor; Django has no public function for that name.
    index_name: Any = connection.schema_editor()._create_index_name  # type: ignore[attr-defined]
    names: dict[str, str] = {}
    for meta in (model._meta for model in models):
        for f in meta.concrete_fields:
            names[f.column or f.attname] = f.attname
            if f.unique and not f.primary_key:
                names[index_name(meta.db_table, [f.column], suffix="_uniq")] = f.attname
        for c in meta.constraints:
            if isinstance(c, Unique) and len(c.fields) == 1 and c.name:
                names[c.name] = meta.get_field(c.fields[0]).attname  # type: ignore[union-attr]
    return names


# -- queries: the semantics of ormgate.query as Q objects -------------------------------------


def _plain(value: Any) -> Any:
    # Enum members (choices) go to the database as their values, lists element by element.
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value.value if isinstance(value, enum.Enum) else value


class _Lower(Lower):
    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="ormgate_lower", **extra)


class _Utf8Bytes(Func):
    # Bytes compare without a collation: no case or accent folding, and no padding,
    # which even utf8mb4_bin has ('a' = 'a '). Through utf8mb4 first, whatever the
    # column's character set, so that the bytes are those of the UTF-8 value sent.
    template = "CAST(CAST(%(expressions)s AS CHAR CHARACTER SET utf8mb4) AS BINARY)"


# MySQL/MariaDB compare text under a case- and accent-insensitive collation by default (see
# _collation): equality compares the bytes too. (Django's own case-sensitive LIKEs are BINARY there.)
_IDENTICAL: dict[str, Callable[[Any], Any]] = {"mysql": _Utf8Bytes}
# What follows CREATE TABLE (...) for tables ormgate creates, by vendor: text that compares exactly.
_TABLE_OPTIONS: dict[str, Callable[[Any], str]] = {
    "mysql": lambda connection: f"DEFAULT CHARSET=utf8mb4 COLLATE={exact_collation(connection.mysql_is_mariadb)}"
}
# SQLite's LIKE ignores ASCII case: case-sensitive matching uses GLOB there.
_GLOB_VENDORS = frozenset({"sqlite"})
# Django's own pattern lookups take the text literally (they escape % and _ themselves).
_MATCHES: dict[str, Callable[[Any, Any], Any]] = {"contains": Contains, "startswith": StartsWith, "endswith": EndsWith}
_LOOKUPS = {"lt": "lt", "lte": "lte", "gt": "gt", "gte": "gte"}
_LOOKUP_CLASSES = {"lt": LessThan, "lte": LessThanOrEqual, "gt": GreaterThan, "gte": GreaterThanOrEqual}
# Where a timestamp is text, compared as the instant it names (see _sqlite).
_TEXT_TIME_VENDORS = frozenset({"sqlite"})


def _q(
    c: Condition,
    values: Mapping[str, Any],
    vendor: str,
    text: set[str],
    times: Mapping[str, Field[Any, Any]] = {},
    model: Any = None,
) -> Q:
    """A plan's condition as a ``Q``, each parameter replaced by its value.

    ``text``: the text fields; ``times``: the datetime and time fields, by name; ``model``: whose
    relations a path goes through (ormgate.adapters._dj_across).
    """
    if isinstance(c, And):
        return functools.reduce(operator.and_, (_q(item, values, vendor, text, times, model) for item in c.items), Q())
    if isinstance(c, Or):
        if not c.items:
            return Q(pk__in=[])
        return functools.reduce(operator.or_, (_q(item, values, vendor, text, times, model) for item in c.items))
    if isinstance(c, Not):
        return ~_q(c.item, values, vendor, text, times, model)
    if len(c.path) > 1:
        return across(model, c, lambda rest, target: _q(rest, values, vendor, *_kinds(target), target))
    name = "__".join(c.path)
    if isinstance(c, IsNull):
        return Q(**{f"{name}__isnull": c.null})
    value = values[c.param]
    if isinstance(c, Match):
        if not c.folded and vendor in _GLOB_VENDORS:
            pattern = GLOB.pattern(c.kind, value)
            return Q(Func(Value(pattern), F(name), function="GLOB", output_field=BooleanField()))
        return Q(_MATCHES[c.kind](_Lower(F(name)) if c.folded else F(name), value))
    binary = _IDENTICAL.get(vendor) if c.exact and c.path[-1] in text else None
    if isinstance(c, InList):
        # The plain comparison stays beside the exact one, so that an index still serves it.
        return Q(**{f"{name}__in": value}) & (Q(In(binary(F(name)), value)) if binary else Q())
    if vendor in _TEXT_TIME_VENDORS and name in times:
        # A timestamp kept as text: each bound compares as the instant, whatever its text (see _sqlite).
        bound = Value(value, output_field=times[name])
        bounds = TEXT_TIME["eq" if c.op == "ne" else c.op]
        met = functools.reduce(
            operator.and_,
            (Q(_LOOKUP_CLASSES[op](F(name), Func(bound, function=b, output_field=times[name]))) for op, b in bounds),
        )
        return ~met & Q(**{f"{name}__isnull": False}) if c.op == "ne" else met
    if c.op == "eq":
        return Q(**{name: value}) & (Q(Exact(binary(F(name)), value)) if binary else Q())
    if c.op == "ne":
        # ~Q() alone lets NULL rows in (Django's exclude); SQL's <> does not.
        exact = Exact(binary(F(name)), value) if binary else Q(**{name: value})
        return ~Q(exact) & Q(**{f"{name}__isnull": False})
    return Q(**{f"{name}__{_LOOKUPS[c.op]}": value})


@functools.cache
def _kinds(model: Any) -> tuple[set[str], dict[str, Field[Any, Any]]]:
    """A model's text fields and its datetime and time fields, by name, as ``_q`` takes them."""
    text = {f.name for f in describe(model).fields if issubclass(f.python_type, str)}
    return text, {f.name: f for f in model._meta.concrete_fields if isinstance(f, (DateTimeField, TimeField))}


def _order(term: Order) -> Any:
    column = F("__".join(term.path))
    nulls = {} if term.nulls is None else {f"nulls_{term.nulls}": True}
    return column.desc(**nulls) if term.descending else column.asc(**nulls)


# -- connections: one per worker thread and alias, closed once its thread has ended -----------

# The default bound on an alias's connections, as Peewee's pool has.
MAX_CONNECTIONS = 20
# alias -> (its bound, the threads its operations run on: as many as it may have connections).
_threads: dict[str, tuple[int, ThreadPoolExecutor]] = {}


def _alias_threads(alias: str, max_connections: int) -> ThreadPoolExecutor:
    """The threads of ``alias``: Django opens a connection per thread, so their number bounds the connections.

    Requests beyond it wait in the pool's queue, in order, holding no thread.
    """
    with _opened_lock:
        bound, threads = _threads.get(alias, (max_connections, None))
        if bound != max_connections:
            raise ValueError(f"database alias {alias!r} already has max_connections={bound}")
        if threads is None:
            threads = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix=f"ormgate-{alias}")
            _threads[alias] = (max_connections, threads)
        return threads


_gates: dict[str, Gate] = {}


def _alias_gate(alias: str, max_connections: int, waiting: Waiting) -> Gate:
    """The gate in front of ``alias``'s threads, shared by its adapters (the first one's ``waiting`` holds)."""
    with _opened_lock:
        if alias not in _gates:
            _gates[alias] = Gate(lambda: max_connections, waiting)
        return _gates[alias]


_opened: dict[tuple[str, threading.Thread], BaseDatabaseWrapper] = {}
_opened_lock = threading.Lock()


def _close(which: Callable[[str, threading.Thread], bool]) -> None:
    with _opened_lock:
        for key in [k for k in _opened if which(*k)]:
            connection = _opened.pop(key)
            connection.inc_thread_sharing()  # it belongs to another thread
            connection.close()
            connection.dec_thread_sharing()


def _thread_connection(alias: str) -> BaseDatabaseWrapper:
    connection = connections[alias]
    if _opened.get((alias, threading.current_thread())) is not connection:
        # A connection an ended worker thread left behind is closed here, not garbage-collected
        # open (psycopg warns about that, and the server keeps it until it times out).
        _close(lambda _, thread: not thread.is_alive())
        with _opened_lock:
            _opened[alias, threading.current_thread()] = connection
    return connection


atexit.register(_close, lambda alias, thread: True)


# Backends whose transaction_mode option (see _SQLITE) says how BEGIN locks.
_BEGIN_MODES = frozenset({"sqlite"})


@contextlib.contextmanager
def _reading(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Transactions begun in this block begin DEFERRED, on a backend with a ``transaction_mode``.

    IMMEDIATE takes SQLite's write lock at BEGIN: a transaction that only reads
    would wait for every writer, and answer 500 after the busy timeout behind a
    long one. Begun DEFERRED it takes no lock until it reads, and in WAL mode a
    reader never waits.
    """
    if connection.vendor not in _BEGIN_MODES:
        yield
        return
    # Connecting sets transaction_mode from the settings: connect first, then change it.
    connection.ensure_connection()
    mode = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        yield
    finally:
        connection.transaction_mode = mode  # type: ignore[attr-defined]


# -- the store and the adapter ----------------------------------------------------------------

T = TypeVar("T")

_NOW: dict[str, Callable[[], Any]] = {
    "DateTimeField": timezone.now,
    "DateField": date.today,
    "TimeField": lambda: datetime.now().time(),
}


def _hooks(model: type[Model]) -> tuple[str, ...]:
    """Those of ``_fast.HOOKS["django"]`` that ``model`` has: a default manager's own ``get_queryset``."""
    manager = type(model._default_manager)
    owner = next(cls for cls in manager.__mro__ if "get_queryset" in vars(cls))
    return () if owner.__module__.startswith("django.") else ("Manager.get_queryset",)


class _SyncStore:
    def __init__(self, adapter: DjangoAdapter, model: type[Model], fields: Sequence[str]) -> None:
        self.adapter, self.model, self.fields, self.info = adapter, model, tuple(fields), describe(model)
        self.planner = Planner(self.info)
        self.text = {f.name for f in self.info.fields if issubclass(f.python_type, str)}
        self.times = {f.name: f for f in model._meta.concrete_fields if isinstance(f, (DateTimeField, TimeField))}
        # QuerySet.update() skips Field.pre_save, which is what sets auto_now fields.
        auto_now = [f for f in model._meta.concrete_fields if getattr(f, "auto_now", False)]
        self.auto_now = {f.attname: _NOW[f.get_internal_type()] for f in auto_now}
        # The GET's statement per scope shape (ormgate.adapters._dj_compiled).
        self.gets: dict[tuple[str, ...], CompiledGet | Refused] = {}
        # Whether a GET runs its statement compiled once, or the QuerySet made per call (see _fast).
        self.fast_get = refusal(Facts("django", hooks=_hooks(model))) is None

    def _all(self) -> QuerySet[Model]:
        return self.model._default_manager.using(self.adapter.alias)

    def _in_scope(self, pk: Any, where: Where) -> QuerySet[Model]:
        """The row ``pk``, if it has ``where``'s values (ormgate.scope), as a ``QuerySet``."""
        rows = self._all().filter(pk=pk)
        if not where:
            return rows
        condition, values = scope_condition(where)
        vendor = connections[self.adapter.alias].vendor
        return rows.filter(_q(condition, {name: _plain(v) for name, v in values.items()}, vendor, self.text))

    def _locked_row(self, pk: Any, where: Where = None) -> Row | None:
        found = list(self._in_scope(pk, where).values(*self.fields).select_for_update())
        return found[0] if found else None

    def _found(self, pk: Any, row: Row | None) -> Row:
        if row is None:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        return row

    def _lock(self, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is not None or where:
            row = self._found(pk, self._locked_row(pk, where))
            if check is not None:
                check(row)

    def _page(self, connection: BaseDatabaseWrapper, query: Query) -> Page:
        plan = self.planner.plan(query)
        values = {name: _plain(value) for name, value in Planner.values(query).items()}
        vendor = connection.vendor
        matching = self._all().filter(_q(plan.where, values, vendor, self.text, self.times, self.model))
        after = plan.after
        page = matching if after is None else matching.filter(_q(after, values, vendor, self.text, self.times))
        if plan.group is not None:  # the first rows of each group (ormgate.adapters._dj_groups)
            page = grouped(page, plan.group, values, _order)
        page = page.order_by(*map(_order, plan.order))
        rows = list(page.values(*query.fields)[query.offset : query.offset + query.limit + 1])
        return Page(rows, matching.count() if query.count else None)

    def list(self, query: Query) -> Page:
        # In a transaction when counting, so that the COUNT sees the rows the page saw.
        return self._run(lambda connection: self._page(connection, query), atomic=query.count, write=False)

    def _run(
        self,
        function: Callable[[BaseDatabaseWrapper], T],
        *,
        atomic: bool = True,
        write: bool = True,
        deleting: bool = False,
    ) -> T:
        """One unit of work, without the health check's round trip first.

        A connection the server has dropped fails the work before COMMIT, so
        nothing was written: it is closed and the work runs once more, health
        check included. A failure during COMMIT is not repeated (the write may
        have landed).
        """
        done = False
        try:
            with self.adapter.unit_of_work(
                self.model, atomic=atomic, write=write, health_check=False, deleting=deleting
            ) as connection:
                result = function(connection)
                done = True
            return result
        except (OperationalError, InterfaceError, Unavailable) as exc:
            # Once more only when the database dropped the connection or was down, not when busy.
            if done or (isinstance(exc, Unavailable) and not dropped(exc)):
                raise
        with self.adapter.unit_of_work(self.model, atomic=atomic, write=write, deleting=deleting) as connection:
            return function(connection)

    def _compiled(
        self, connection: BaseDatabaseWrapper, pk: Any, where: Where
    ) -> tuple[CompiledGet, Sequence[Any]] | None:
        """The GET's statement for ``where``'s shape (ormgate.adapters._dj_compiled) and its inputs, or None:
        ``values()`` then. A None in ``where`` is ``IS NULL``, a statement of its own: ``values()``."""
        if not self.fast_get or (where and any(value is None for value in where.values())):
            return None
        key = shape(where)
        meta = self.model._meta
        inputs = [meta.pk.get_db_prep_value(pk, connection)]
        for name in key:
            field: Any = meta.get_field(name)
            inputs.append(field.get_db_prep_value(_plain(where[name]), connection))  # type: ignore[index]
        found = self.gets.get(key)
        if found is None:
            if not distinct(inputs):  # which parameter is which would be a guess: a later request compiles it
                return None
            found = self.gets[key] = compile_get(
                self._in_scope(pk, where), self.fields, self.adapter.alias, connection, inputs
            )
        return None if isinstance(found, Refused) else (found, inputs)

    def _get(self, connection: BaseDatabaseWrapper, pk: Any, where: Where = None) -> Row | None:
        compiled = self._compiled(connection, pk, where)
        if compiled is None:
            return next(iter(self._in_scope(pk, where).values(*self.fields)), None)
        statement, inputs = compiled
        return statement.run(connection, inputs, self.fields)

    def get(self, pk: Any, where: Where = None) -> Row | None:
        return self._run(lambda connection: self._get(connection, pk, where), atomic=False)

    def _create(self, connection: BaseDatabaseWrapper, values: Row, hook: Hook | None = None) -> Row:
        if hook is not None:
            values = dict(values)  # the hook's to change; a repeated unit of work starts from the request's
            hook("before", connection, values)
        # Through save(): defaults, auto_now_add and signals apply as in any Django code.
        with zero_key_is_missing():
            created = self._all().create(**{name: _plain(value) for name, value in values.items()})
        row = self._found(created.pk, self._get(connection, created.pk))  # as stored: defaults, rounding
        if hook is not None:
            hook("after", connection, row)
        return row

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        return self._run(lambda connection: self._create(connection, values, hook))

    def _update(
        self,
        connection: BaseDatabaseWrapper,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        self._lock(pk, check, where)
        if hook is not None:
            values = dict(values)
            hook("before", connection, values)
        if values:
            changes = {**{name: now() for name, now in self.auto_now.items()}, **values}
            with zero_key_is_missing():
                self._all().filter(pk=pk).update(**{name: _plain(v) for name, v in changes.items()})
        row = self._found(pk, self._get(connection, pk))
        if hook is not None:
            hook("after", connection, row)
        return row

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        return self._run(lambda connection: self._update(connection, pk, values, check, where, hook))

    def _delete(
        self, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None, connection: Any = None
    ) -> None:
        self._lock(pk, check, where)
        if hook is not None:
            hook("before", connection, {self.info.pk.name: pk})
        # QuerySet.delete() follows on_delete (CASCADE, PROTECT, ...) as any Django code would.
        _, deleted = self._all().filter(pk=pk).delete()
        if not deleted.get(self.model._meta.label):
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if hook is not None:
            hook("after", connection, {self.info.pk.name: pk})

    def delete(self, pk: Any, check: Check | None = None, where: Where = None, hook: Hook | None = None) -> None:
        self._run(lambda connection: self._delete(pk, check, where, hook, connection), deleting=True)


class DjangoAdapter:
    """ormgate on one Django database alias: ``DjangoAdapter(configure(url))`` or ``DjangoAdapter("default")``.

    The generated routes hold at most ``max_connections`` connections to the alias
    (adapters on one alias share them); requests beyond wait their turn, within
    the bounds of ``waiting``, or are answered 503.
    """

    def __init__(
        self,
        alias: str = DEFAULT_DB_ALIAS,
        *,
        max_connections: int = MAX_CONNECTIONS,
        waiting: Waiting = DEFAULT_WAITING,
    ) -> None:
        if alias not in connections.settings:
            raise ValueError(f"no Django database alias {alias!r}; configure(url) adds one")
        if connections[alias].vendor == "sqlite" and memory_sqlite(str(connections.settings[alias]["NAME"])):
            raise ValueError(IN_MEMORY_SQLITE)
        self.alias = alias
        self.sqlite = connections[alias].vendor == "sqlite"
        self.waiting = waiting
        self.threads = _alias_threads(alias, max_connections)
        # No more operations at once than the alias has threads (connections): the rest wait at
        # the gate, boundedly, never in the threads' queue without end.
        self.gate = _alias_gate(alias, max_connections, waiting)
        self.writes = one_writer(waiting) if self.sqlite else self.gate
        self._models: dict[type[Model], None] = {}  # described here: session names their constraints' fields

    def describe(self, model: type[Model]) -> ModelInfo:
        self._models[model] = None
        return describe(model)

    def store(self, model: type[Model], fields: Sequence[str]) -> ThreadedStore:
        # Never in_process, even on SQLite: Django refuses queries on the event loop's thread.
        store = _SyncStore(self, model, fields)
        if any(r.kind == "many_to_many" for r in store.info.relations):
            from ._dj_links import LinkedStore  # imports this module

            store = LinkedStore(self, model, fields)
        return ThreadedStore(store, self.gate, self.writes, threads=self.threads)

    async def create_tables(self, models: Sequence[type[Model]]) -> None:
        await run_sync(self._create_tables, models, threads=self.threads)

    def _create_tables(self, models: Sequence[type[Model]]) -> None:
        with self.unit_of_work(atomic=False) as connection, connection.schema_editor() as editor:
            options = _TABLE_OPTIONS.get(connection.vendor)
            if options is not None:  # this editor's tables only; a field's own db_collation still wins
                editor.sql_create_table = f"{editor.sql_create_table} {options(connection)}"
            existing = set(connection.introspection.table_names())
            for model in models:
                if model._meta.db_table not in existing:
                    editor.create_model(model)

    @contextlib.contextmanager
    def unit_of_work(
        self,
        *models: type[Model],
        atomic: bool = True,
        write: bool = True,
        health_check: bool = True,
        deleting: bool = False,
    ) -> Iterator[BaseDatabaseWrapper]:
        """This thread's connection to the alias, in ``transaction.atomic`` unless ``atomic=False``.

        For hand-written endpoints too: database errors leave as ormgate errors (a duplicate
        is a ``UniqueViolation`` naming the field of one of ``models``). The whole block must
        run in one thread: use it inside a sync (``def``) endpoint, not across a FastAPI
        dependency's setup and teardown, which may run in different threads. A transaction
        that only reads (``write=False``) waits for no writer on SQLite. ``deleting``: the
        block deletes rows, so a foreign key failure means they are still referenced.
        """
        connection = _thread_connection(self.alias)
        # What Django's close_old_connections does as each request starts and ends, for this
        # alias only: drop a connection that broke or outlived CONN_MAX_AGE, and have the next
        # query health-check it. Not inside another unit's transaction, which it would end.
        outermost = not connection.in_atomic_block
        if outermost:
            connection.close_if_unusable_or_obsolete()
            if not health_check:  # the caller repeats the work if the connection turns out dead
                connection.health_check_done = True  # type: ignore[attr-defined]
            if self.sqlite:
                # A connection opened before this module was imported never saw connection_created.
                connection.ensure_connection()
                if getattr(connection, "ormgate_prepared", None) is not connection.connection:
                    _prepare_sqlite(connection)
        try:
            with (
                _reading(connection) if not write else contextlib.nullcontext(),
                transaction.atomic(using=self.alias) if atomic else contextlib.nullcontext(),
            ):
                yield connection
        # Django's on_delete checks raise these IntegrityErrors itself, with no driver error inside.
        except (ProtectedError, RestrictedError) as exc:
            raise ForeignKeyViolation("the row is still referenced by other rows") from exc
        except Error as exc:
            error = classify(exc, _constraint_fields(models, connection), deleting=deleting)
            if error is None:
                raise
            raise error from exc
        finally:
            if outermost:
                connection.close_if_unusable_or_obsolete()

    async def session(self) -> AsyncIterator[UnitOfWork]:
        """FastAPI dependency: a unit of work per request, ``await session.run(function, *args)``.

        Use it with ``Depends(db.session)``. ``run`` executes ``function`` in one
        worker thread of the alias, where Django's connection lives, inside
        ``transaction.atomic``: committed when it returns, rolled back when it
        raises, the connection health-checked before and released after (as
        Django's request signals do). A duplicate is a 409, a missing reference
        a 422, a database that is unavailable (down, dropped the connection,
        busy) a 503 with ``Retry-After``, never a 500. See ``UnitOfWork``.
        """
        session = UnitOfWork(self._session_unit, self.gate, self.writes, self.threads)
        try:
            yield session
        finally:
            session.open = False

    def _session_unit(self, write: bool) -> contextlib.AbstractContextManager[BaseDatabaseWrapper]:
        return self.unit_of_work(*self._models, write=write)

    def close(self) -> None:
        """Close this alias's connections in every thread, e.g. at shutdown; none may be in use."""
        _close(lambda alias, _: alias == self.alias)
