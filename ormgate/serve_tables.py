"""One reflected table or view of ``ormgate serve`` as a resource, and where its routes wait until first asked for.

A table becomes a class mapped imperatively on its ``Table`` and a ``Resource`` on the SQLAlchemy
adapter, made when first used (``Served.resource``); ``Pending`` holds its place among the app's
routes meanwhile. What the resource cannot carry (a column, the whole table) is reported as
``Skipped``, never a 500.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
import pydantic
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.orm import registry
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from .adapters.sqlalchemy import SQLAlchemyAdapter
from .query import Filter, Limits, Query, QueryParser, Sort
from .resource import Resource
from .schemas import derive, servable
from .serve_auth import _RESERVED_PATHS
from .serve_keys import install_key_routes
from .serve_reflect import Skipped, _fix_autoincrement, _type_name
from .serve_relations import Mapped, Related


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

    def parse(
        self,
        items: Any,
        scope: tuple[Filter, ...] = (),
        within: tuple[Filter, ...] = (),
        ignore: Collection[str] = (),
    ) -> Query:
        items = list(items)
        cursors = [value for name, value in items if name == "cursor"]
        if len(cursors) != 1:
            return self._tied(super().parse(items, scope, within, ignore))  # none; or twice, which super() refuses
        query = self._tied(super().parse([(k, v) for k, v in items if k != "cursor"], scope, within, ignore))
        return dataclasses.replace(query, after=self._read_cursor(cursors[0], query))

    def _tied(self, query: Query) -> Query:
        sorted_by = {s.field for s in query.sort}
        last = query.sort[-1].descending
        extra = tuple(Sort(name, last) for name in self.ties if name not in sorted_by)
        return dataclasses.replace(query, sort=(*query.sort, *extra)) if extra else query


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
    allow_writes: bool,
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
    writable = allow_writes and list_only is None
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
