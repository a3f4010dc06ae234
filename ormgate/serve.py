"""``ormgate serve``: a REST API over an existing database, by reflection (see docs/serve.md).

The database is reflected with SQLAlchemy; each table (or view) becomes a class mapped
imperatively on its ``Table`` and one ``Resource`` on the SQLAlchemy adapter, so the HTTP
contract, query language, limits and problems are those of hand-declared resources. Paths and
JSON keys are the tables' and columns' own names.

What a resource cannot carry is reported, never a 500: a column of a type ormgate cannot serve
as JSON (or whose name Pydantic cannot hold) is left out; a table whose key is such a column is
skipped. Views and tables without a primary key are list-only; a composite key is served with one
path segment per key column (``ormgate.serve_keys``).

This module is what the command line calls: the options, ``build()`` and the app factories.
Reflection is in ``ormgate.serve_reflect``, each table's resource in ``ormgate.serve_tables``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
import sqlalchemy as sa
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import registry

from .adapters.sqlalchemy import SQLAlchemyAdapter
from .offline import offline_docs
from .problems import install as install_problem_handlers
from .query import DEFAULT_LIMITS, Limits
from .serve_auth import JWKS_URL_ENV, JWT_SECRET_ENV, secure
from .serve_read_only import read_only_sessions, read_only_url
from .serve_reflect import Progress, _estimate, reflect, sync_url, url_is_async
from .serve_reflect import Skipped as Skipped
from .serve_relations import Mapped, Related, relate
from .serve_tables import Pending as Pending
from .serve_tables import Served as Served
from .serve_tables import _serve_table

# The environment a worker process reads its options from (set by the parent, see ``serve_factory``).
OPTIONS_ENV = "ORMGATE_SERVE_OPTIONS"


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


# -- the app -----------------------------------------------------------------------------------


def _describe_fks(references: Mapping[str, str]) -> str:
    if not references:
        return ""
    lines = [f"- `{column}` references `{target}`" for column, target in references.items()]
    return (
        "Foreign keys:\n\n" + "\n".join(lines) + f"\n\nFilter on them as on any column: `?{next(iter(references))}=1`."
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
                    allow_writes=options.allow_writes,
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
