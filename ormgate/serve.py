"""``ormgate serve``: a REST API over an existing database, by reflection (see docs/serve.md).

The database is reflected with SQLAlchemy; each table (or view) becomes a class mapped
imperatively on its ``Table`` and one ``Resource`` on the SQLAlchemy adapter, so the HTTP
contract, query language, limits and problems are those of hand-declared resources. Paths and
JSON keys are the tables' and columns' own names.

What a resource cannot carry is reported, never a 500: a column of a type ormgate cannot serve
as JSON (or whose name Pydantic cannot hold) is left out; a table whose key is such a column is
skipped. Views and tables without a primary key are list-only; a composite key is served with one
path segment per key column (``ormgate.serve_keys``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import pydantic
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import registry
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from .adapters.sqlalchemy import SQLAlchemyAdapter
from .offline import offline_docs
from .problems import install as install_problem_handlers
from .query import DEFAULT_LIMITS, Filter, Limits, Query, QueryParser, Sort
from .resource import Resource
from .schemas import derive, servable
from .serve_auth import _RESERVED_PATHS, JWKS_URL_ENV, JWT_SECRET_ENV, secure
from .serve_keys import install_key_routes
from .serve_read_only import read_only_sessions, read_only_url
from .serve_relations import Mapped, Related, relate

# The environment a worker process reads its options from (set by the parent, see ``serve_factory``).
OPTIONS_ENV = "ORMGATE_SERVE_OPTIONS"

CHUNK = 50  # tables reflected per round trip batch (bulk reflection on PostgreSQL and MySQL)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ServeOptions:
    """What ``ormgate serve`` was asked for; JSON in the environment of worker processes."""

    database: str  # the URL, driver spelled out
    schema: str | None = None
    tables: tuple[str, ...] | None = None
    exclude_tables: tuple[str, ...] = ()
    allow_writes: bool = False
    max_limit: int | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, raw: str) -> ServeOptions:
        data = json.loads(raw)
        for name in ("tables", "exclude_tables"):
            if data.get(name) is not None:
                data[name] = tuple(data[name])
        return cls(**data)


@dataclass(frozen=True)
class Skipped:
    """Something not served: a table, or one column of a served table (``Table.column``)."""

    name: str
    reason: str


@dataclass
class Served:
    """One table or view as served; its resource (Pydantic models, routes) is made when first used."""

    table: str
    path: str
    kind: str  # "table" or "view"
    writable: bool
    key: tuple[str, ...]  # the primary key's columns in key order; () for none
    list_only: str | None  # why, when it is
    references: dict[str, str]  # column -> "table.column"
    tag: str  # its OpenAPI tag: the mapped class's name
    make: Callable[[], Resource] = field(repr=False)
    rows: int | None = None  # estimated
    made: Resource | None = field(default=None, repr=False)

    @property
    def resource(self) -> Resource:
        if self.made is None:
            self.made = self.make()
        return self.made


@dataclass
class ServedAPI:
    app: FastAPI
    served: list[Served] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    engine: sa.Engine | AsyncEngine | None = None


_DESCRIPTION = (
    "A REST API over an existing database, made by `ormgate serve`: one resource per table or view, "
    "at `/<table name>`, its JSON keys the column names. Each tag says what its foreign keys reference."
)


# -- reflection ----------------------------------------------------------------------------


def sync_url(url: str) -> str:
    """The URL with a sync driver, for reflection: the async drivers' sync twins."""
    parsed = sa.make_url(url)
    twins = {"aiosqlite": "pysqlite", "asyncpg": "psycopg", "aiomysql": "pymysql"}
    driver = twins.get(parsed.get_driver_name())
    if driver is None:
        return url
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{driver}").render_as_string(hide_password=False)


def _names(
    inspector: sa.Inspector, schema: str | None, only: Sequence[str] | None, exclude: Sequence[str]
) -> tuple[list[str], set[str], list[Skipped]]:
    """The tables and views to reflect, the views among them, and any asked-for name not found."""
    tables = inspector.get_table_names(schema=schema)
    views = set(inspector.get_view_names(schema=schema))
    every = [*tables, *sorted(views - set(tables))]
    missing = []
    if only is not None:
        missing = [Skipped(name, "no such table or view") for name in only if name not in every]
        every = [name for name in every if name in set(only)]
    excluded = set(exclude)
    return [name for name in every if name not in excluded], views, missing


def reflect(
    engine: sa.Engine,
    *,
    schema: str | None = None,
    only: Sequence[str] | None = None,
    exclude: Sequence[str] = (),
    progress: Progress | None = None,
) -> tuple[sa.MetaData, list[str], set[str], list[Skipped]]:
    """Reflect the tables and views, ``CHUNK`` at a time (``progress(done, total)`` after each)."""
    metadata = sa.MetaData(schema=schema)
    with engine.connect() as conn:
        names, views, skipped = _names(sa.inspect(conn), schema, only, exclude)
        for start in range(0, len(names), CHUNK):
            chunk = names[start : start + CHUNK]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                # resolve_fks: the tables a foreign key refers to are reflected too (not served unless asked for),
                # so that a served table's key names its target whatever --tables says.
                metadata.reflect(conn, schema=schema, only=chunk, views=True, resolve_fks=True)
            for warning in caught:  # "Did not recognize type ...": the column is reported when served
                found = _UNKNOWN_TYPE.search(str(warning.message))
                if found is not None:
                    metadata.info.setdefault("unknown_types", {})[found.group(2)] = found.group(1)
                elif not issubclass(warning.category, sa.exc.SAWarning):
                    warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
            if progress is not None:
                progress(min(start + CHUNK, len(names)), len(names))
    return metadata, names, views, skipped


_UNKNOWN_TYPE = re.compile(r"Did not recognize type '(.+?)' of column '(.+?)'")


def _type_name(column: sa.Column[Any]) -> str:
    """The column's SQL type as the database names it, as far as reflection knows it."""
    if isinstance(column.type, sa.types.NullType):
        table = column.table
        unknown = table.metadata.info.get("unknown_types", {}) if isinstance(table, sa.Table) else {}
        return f"{unknown.get(column.name, 'unknown')} (not one SQLAlchemy knows)"
    return str(column.type)


def _rowid_alias(column: sa.Column[Any]) -> bool:
    # SQLite assigns an INTEGER PRIMARY KEY (the rowid's alias) itself; no other type name does.
    return isinstance(column.type, sa.Integer) and str(column.type).upper() == "INTEGER"


def _fix_autoincrement(table: sa.Table, dialect: str) -> None:
    """Whether the database fills the key in, as reflected: SQLAlchemy leaves "auto" where it cannot say."""
    keys = list(table.primary_key.columns)
    for column in table.columns:
        if column.autoincrement != "auto":
            continue
        if dialect == "sqlite" and len(keys) == 1 and column is keys[0]:
            column.autoincrement = _rowid_alias(column)
        else:  # MySQL says AUTO_INCREMENT when there is one; PostgreSQL says identity and serial
            column.autoincrement = False


_PYDANTIC_RESERVED = frozenset(dir(pydantic.BaseModel))


def _column_problem(name: str) -> str | None:
    if name.startswith("_"):
        return "a name beginning with '_' (Pydantic keeps those private)"
    if name in _PYDANTIC_RESERVED:
        return f"the name {name!r} is one Pydantic's models use themselves"
    return None


_NOT_PATH = re.compile(r"[/{}?#%]")


def _class_name(table: str, used: set[str]) -> str:
    """An identifier for the mapped class and the OpenAPI schemas' names: the table's, made safe."""
    base = re.sub(r"\W", "_", table, flags=re.ASCII) or "table"
    if base[0].isdigit():
        base = f"t_{base}"
    name, n = base, 1
    while name in used:
        n += 1
        name = f"{base}_{n}"
    used.add(name)
    return name


def _list_key(table: sa.Table, orderable: Callable[[sa.Column[Any]], bool]) -> list[sa.Column[Any]]:
    """The columns that order a list-only table: its key, a unique not-null key, else every orderable column."""
    keys = list(table.primary_key.columns)
    if keys:
        return keys
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint) and constraint.columns:
            columns = list(constraint.columns)
            if all(not c.nullable for c in columns):
                return columns
    for index in table.indexes:
        if index.unique and all(isinstance(c, sa.Column) and not c.nullable for c in index.columns):
            return [c for c in index.columns if isinstance(c, sa.Column)]
    columns = [c for c in table.columns if orderable(c)]
    return sorted(columns, key=lambda c: bool(c.nullable))  # a NOT NULL column first, when there is one


def _copy(table: sa.Table, metadata: sa.MetaData, key: sa.Column[Any], columns: Sequence[sa.Column[Any]]) -> sa.Table:
    """``table`` with ``key`` alone as its primary key: how ormgate sees a list-only table (nothing is written)."""
    copied = [
        sa.Column(
            c.name,
            c.type,
            key=c.key,
            primary_key=c is key,
            nullable=c.nullable,
            autoincrement=False,
            server_default=c.server_default,
        )
        for c in columns
    ]
    return sa.Table(table.name, metadata, *copied, schema=table.schema)


class _KeyedParser(QueryParser):
    """A list-only table's parser: its order ends with every key column, so that a cursor walk is exact."""

    def __init__(self, parser: QueryParser, ties: Sequence[str], **options: Any) -> None:
        super().__init__(parser.info, parser.readable, **options)
        self.ties = tuple(name for name in ties if name != parser.info.pk.name and name in self.readable)

    def parse(self, items: Any, scope: tuple[Filter, ...] = ()) -> Query:
        items = list(items)
        cursors = [value for name, value in items if name == "cursor"]
        if len(cursors) != 1:
            return self._tied(super().parse(items, scope))  # none; or twice, which super() refuses
        query = self._tied(super().parse([(k, v) for k, v in items if k != "cursor"], scope))
        return dataclasses.replace(query, after=self._read_cursor(cursors[0], query))

    def _tied(self, query: Query) -> Query:
        sorted_by = {s.field for s in query.sort}
        last = query.sort[-1].descending
        extra = tuple(Sort(name, last) for name in self.ties if name not in sorted_by)
        return dataclasses.replace(query, sort=(*query.sort, *extra)) if extra else query


# -- row counts for the summary --------------------------------------------------------------


def _estimate(conn: sa.Connection, table: sa.Table) -> int | None:
    dialect = conn.dialect.name
    try:
        if dialect == "postgresql":
            estimate = conn.execute(
                sa.text("SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(:name)"),
                {"name": conn.dialect.identifier_preparer.format_table(table)},
            ).scalar()
            if estimate is not None and estimate >= 0:
                return int(estimate)
        elif dialect in ("mysql", "mariadb"):
            estimate = conn.execute(
                sa.text(
                    "SELECT TABLE_ROWS FROM information_schema.TABLES "
                    "WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name "
                    "AND TABLE_TYPE = 'BASE TABLE'"
                ),
                {"schema": table.schema, "name": table.name},
            ).scalar()
            if estimate is not None:
                return int(estimate)
        # SQLite keeps no estimate; a table never analyzed on PostgreSQL has none either: counted.
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    except sa.exc.DBAPIError:
        conn.rollback()
        return None


# -- the app -----------------------------------------------------------------------------------


def _describe_fks(references: Mapping[str, str]) -> str:
    if not references:
        return ""
    lines = [f"- `{column}` references `{target}`" for column, target in references.items()]
    return (
        "Foreign keys:\n\n" + "\n".join(lines) + f"\n\nFilter on them as on any column: `?{next(iter(references))}=1`."
    )


def _orderable(column: sa.Column[Any]) -> bool:
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return False
    return python_type in (int, str, float) or python_type.__module__ in ("decimal", "datetime", "uuid")


def _serve_table(
    table: sa.Table,
    *,
    view: bool,
    adapter: SQLAlchemyAdapter,
    mapper: registry,
    copies: sa.MetaData,
    used: set[str],
    options: ServeOptions,
    limits: Limits,
    cursor_key: bytes | str | None,
    skipped: list[Skipped],
    related: Related,
    mapped: list[Mapped],
) -> Served | None:
    name = table.name
    if _NOT_PATH.search(name) or not name.strip():
        skipped.append(Skipped(name, "its name cannot be one URL path segment"))
        return None
    if name.split("/")[0] in _RESERVED_PATHS:
        skipped.append(Skipped(name, f"/{name} is where the docs are served"))
        return None
    dialect = adapter.engine.dialect.name
    _fix_autoincrement(table, dialect)
    keys = [] if view else list(table.primary_key.columns)
    # Columns left out: a name Pydantic cannot carry, a type ormgate cannot serve.
    left_out: dict[str, str] = {}
    for column in table.columns:
        problem = _column_problem(column.name)
        if problem is not None:
            left_out[column.name] = problem
    list_only = None
    if view:
        list_only = "a view"
    elif not keys:
        list_only = "no primary key"
    order = keys if keys else _list_key(table, _orderable)
    order = [c for c in order if c.name not in left_out]
    if not order:
        skipped.append(Skipped(name, "no column to order its rows by"))
        return None
    composite = len(keys) > 1
    mapped_table = table
    if list_only is not None or composite:
        columns = [c for c in table.columns if c.name not in left_out]
        mapped_table = _copy(table, copies, order[0], columns)
    cls = type(_class_name(name, used), (), {"__doc__": f"The table {name!r}, reflected."})
    # A composite key: ormgate's description names its first column as the key, the mapper (whose key the
    # SQLAlchemy store's statements match, as a row value) every one of them (ormgate.serve_keys).
    key_columns = [mapped_table.columns[c.name] for c in keys] if composite else None
    mapper.map_imperatively(cls, mapped_table, primary_key=key_columns)
    info = adapter.describe(cls)
    for f in info.fields:
        if f.name not in left_out and not servable(f):
            left_out[f.name] = f"its type {_type_name(mapped_table.columns[f.name])} cannot be served as JSON"
    bad_keys = [k for k in ([c.name for c in keys] or [order[0].name]) if k in left_out]
    if bad_keys:
        skipped.append(Skipped(name, f"its key column {bad_keys[0]} cannot be served: {left_out[bad_keys[0]]}"))
        return None
    for column_name, reason in left_out.items():
        skipped.append(Skipped(f"{name}.{column_name}", reason))
    excluded = [n for n in left_out if n in info.by_name]
    writable = options.allow_writes and list_only is None
    routes = (
        ("list",)  # a composite key's item routes (and its create) are serve_keys'
        if list_only or composite
        else ("list", "get", "create", "replace", "patch", "delete")
        if writable
        else ("list", "get")
    )

    def make() -> Resource:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a field named like a BaseModel method of a subclass
            schemas = derive(info, exclude=excluded)
        resource = Resource(
            cls,
            adapter,
            schemas=schemas,
            path=f"/{name}",
            limits=limits,
            cursor_key=cursor_key,
            routes=routes,
            includes=related.includes(cls),  # the foreign keys' relations (serve_relations)
        )
        if list_only is not None or composite:
            ties = [c.name for c in order]
            resource.query = _KeyedParser(resource.query, ties, limits=limits, cursor_key=cursor_key)
        return resource

    served_columns = frozenset(c.name for c in table.columns if c.name not in left_out)
    mapped.append(Mapped(table, cls, mapped_table, served_columns, adapter.describe, excluded))
    references = {}
    for column in table.columns:
        if column.name in left_out:
            continue
        for fk in column.foreign_keys:
            target = fk.target_fullname.split(".")
            references[column.name] = ".".join(target[-2:])
    return Served(
        table=name,
        path=f"/{name}",
        kind="view" if view else "table",
        writable=writable,
        key=tuple(c.name for c in keys),
        list_only=list_only,
        references=references,
        tag=info.name,
        make=make,
    )


def build(
    options: ServeOptions,
    *,
    cursor_key: bytes | str | None = None,
    progress: Progress | None = None,
    count_rows: bool = False,
) -> ServedAPI:
    """Reflect the database and make the app; ``count_rows`` fills in each table's estimated rows."""
    # Read-only unless --allow-writes: at the database, not only in the routes (see serve_read_only).
    opened = (lambda url: sa.make_url(url)) if options.allow_writes else read_only_url
    reflecting = sa.create_engine(opened(sync_url(options.database)))
    if not options.allow_writes:
        read_only_sessions(reflecting)
    try:
        metadata, names, views, skipped = reflect(
            reflecting,
            schema=options.schema,
            only=options.tables,
            exclude=options.exclude_tables,
            progress=progress,
        )
        engine: sa.Engine | AsyncEngine = reflecting
        if url_is_async(options.database):
            engine = create_async_engine(opened(options.database))
            if not options.allow_writes:
                read_only_sessions(engine)
        adapter = SQLAlchemyAdapter(engine)
        limits = DEFAULT_LIMITS
        if options.max_limit is not None:
            limits = Limits(limit=min(DEFAULT_LIMITS.limit, options.max_limit), max_limit=options.max_limit)
        api = ServedAPI(app=FastAPI(title="ormgate serve", description=_DESCRIPTION), skipped=skipped, engine=engine)
        mapper = registry()
        copies = sa.MetaData(info=metadata.info)  # the unknown types' names, for the report
        used: set[str] = set()
        related, mapped = Related(), list[Mapped]()
        by_name = {table.name: table for table in metadata.tables.values()}
        for name in names:
            table = by_name.get(name)
            if table is None:
                skipped.append(Skipped(name, "could not be reflected"))
                continue
            try:
                served = _serve_table(
                    table,
                    view=name in views,
                    adapter=adapter,
                    mapper=mapper,
                    copies=copies,
                    used=used,
                    options=options,
                    limits=limits,
                    cursor_key=cursor_key,
                    skipped=skipped,
                    related=related,
                    mapped=mapped,
                )
            except (ValueError, TypeError, sa.exc.SQLAlchemyError, pydantic.PydanticUserError) as exc:
                skipped.append(Skipped(name, f"cannot be served: {exc}"))
                continue
            if served is not None:
                api.served.append(served)
        relate(mapped, related)
        if count_rows:
            with reflecting.connect() as conn:
                for served in api.served:  # a view's rows would cost its whole query: not estimated
                    served.rows = None if served.kind == "view" else _estimate(conn, by_name[served.table])
        _assemble(api)
        return api
    finally:
        if url_is_async(options.database):
            reflecting.dispose()


def url_is_async(url: str) -> bool:
    return bool(sa.make_url(url).get_dialect().is_async)


def _assemble(api: ServedAPI) -> None:
    app = api.app
    tags = []
    for served in api.served:
        app.router.routes.append(Pending(app, served))
        mode = "read-write" if served.writable else "read-only"
        only = f" List-only: {served.list_only}." if served.list_only else ""
        description = f"The {served.kind} `{served.table}`, {mode}.{only}"
        fks = _describe_fks(served.references)
        tags.append({"name": served.tag, "description": description + ("\n\n" + fks if fks else "")})
    app.openapi_tags = tags
    install_problem_handlers(app)
    offline_docs(app)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        # The document describes every table: each one's routes are made first (once; then it is cached).
        for route in list(app.router.routes):
            if isinstance(route, Pending):
                route.install(route.served.resource)
        return build_openapi()

    app.openapi = openapi  # type: ignore[method-assign]


class Pending(BaseRoute):
    """Where a table's routes will be: the first request to its path makes them, then is routed again.

    Building a table's Pydantic models and routes is most of the start-up (500 tables: 17.7 s
    before serving); made when first asked for, in a worker thread, the server answers at once.
    """

    def __init__(self, app: FastAPI, served: Served) -> None:
        self.app = app
        self.served = served
        self.prefix = served.path + "/"
        self.lock = anyio.Lock()

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == self.served.path or path.startswith(self.prefix)):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with self.lock:
            if self in self.app.router.routes:
                # Pydantic's model building is CPU work of tens of milliseconds: off the event loop.
                self.install(await anyio.to_thread.run_sync(lambda: self.served.resource))
        await self.app.router(scope, receive, send)

    def install(self, resource: Resource) -> None:
        """Put the table's routes where this one is (the routes' order is kept), once."""
        routes = self.app.router.routes
        if self not in routes:
            return
        start = len(routes)
        resource.install(self.app)
        if len(self.served.key) > 1:
            install_key_routes(self.app, resource, self.served.table, self.served.key, writable=self.served.writable)
        made = routes[start:]
        del routes[start:]
        at = routes.index(self)
        routes[at : at + 1] = made


def create_app(options: ServeOptions, *, cursor_key: bytes | str | None = None) -> FastAPI:
    """The app ``ormgate serve`` serves, with access control from ``ORMGATE_JWT_SECRET`` or ``ORMGATE_JWKS_URL``."""
    api = build(options, cursor_key=cursor_key)
    secure(api.app, os.environ.get(JWT_SECRET_ENV), jwks_url=os.environ.get(JWKS_URL_ENV))
    return api.app


def serve_factory() -> FastAPI:
    """uvicorn's factory in each worker process: the options and the shared cursor key from the environment."""
    raw = os.environ.get(OPTIONS_ENV)
    if not raw:
        raise RuntimeError(f"{OPTIONS_ENV} is not set: start workers with `ormgate serve`")
    return create_app(ServeOptions.from_json(raw))


def shared_cursor_key() -> str:
    """ORMGATE_SECRET_KEY, or one made now and put there, so that every worker signs with it."""
    key = os.environ.get("ORMGATE_SECRET_KEY")
    if not key:
        key = secrets.token_urlsafe(32)
        os.environ["ORMGATE_SECRET_KEY"] = key
    return key
