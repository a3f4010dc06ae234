"""A resource: the REST routes of one model, over any adapter. HTTP only, no ORM here."""

import contextvars
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from http import HTTPStatus
from typing import Annotated, Any
from urllib.parse import unquote_plus

import pydantic
from fastapi import APIRouter, FastAPI, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError

from . import access
from . import hooks as hooking
from .adapters.base import Adapter, Hook, OnWrite, Row, Store
from .bodies import check_max_size
from .errors import NotFound
from .hooks import Hooks
from .links import foreign_keys_named, with_links
from .media import CSV, csv_response, negotiate
from .model import ModelInfo
from .problems import PROBLEM_JSON, PROBLEM_SCHEMA, Problem
from .query import DEFAULT_LIMITS, Filter, Limits, QueryParser
from .relations import NONE, Include, Includes, Scopes, across_fields
from .responses import dumps as dumps
from .responses import if_match_check as if_match_check
from .responses import item_response as item_response
from .routes import Handler, _located, dependency_query
from .routes import JSONRoute as JSONRoute
from .routes import LeanRoute as LeanRoute
from .routes import is_json as is_json
from .schemas import ModelSchemas, derive, value_annotation
from .scope import Scope as RowScope


def _next_url(request: Request, cursor: str) -> str:
    """The request's URL with ``cursor`` in place of any offset or earlier cursor, other parameters as sent."""
    # Kept as the client encoded them: decoding and encoding again (urlencode) was 13 µs a page.
    query = request.scope["query_string"].decode("latin-1")
    kept = [part for part in query.split("&") if unquote_plus(part.partition("=")[0]) not in ("offset", "cursor", "")]
    return f"{str(request.url).partition('?')[0]}?{'&'.join([*kept, f'cursor={cursor}'])}"


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting a ``Problem`` under application/problem+json for these statuses.

    The model makes FastAPI put ``Problem`` among the schemas, under the route's
    own media type; ``install_problem_handlers`` leaves only problem+json.
    """
    content = {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}}
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase, "content": content} for s in statuses}


def _header(description: str) -> dict[str, Any]:
    return {"description": description, "schema": {"type": "string"}}


_ROW = {"ETag": _header("The row's entity tag, for If-None-Match and If-Match.")}

# What each generated route answers besides its body, for the OpenAPI document:
# the headers of its success and its problems. A hand-written route that stands
# in for a generated one documents itself with the same entry.
RESPONSES: dict[str, dict[int | str, dict[str, Any]]] = {
    "list": {
        200: {
            "headers": {"Link": _header('rel="next": the URL of the next page, when there is one.')},
            # With Accept: text/csv (ormgate.media): the same page, its first line the column names.
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        # 404: a cursor this list did not issue names no page. 406: Accept admits neither JSON nor CSV.
        **problem_responses(400, 404, 406, 422),
    },
    "get": {
        200: {"headers": _ROW},
        304: {"description": "Not Modified: the row's ETag is one of If-None-Match's.", "headers": _ROW},
        **problem_responses(404, 422),
    },
    "create": {
        201: {"headers": {**_ROW, "Location": _header("The URL of the new row.")}},
        **problem_responses(409, 413, 415, 422),
    },
    "replace": {200: {"headers": _ROW}, **problem_responses(404, 409, 412, 413, 415, 422)},
    "patch": {200: {"headers": _ROW}, **problem_responses(404, 409, 412, 413, 415, 422)},
    "delete": problem_responses(404, 409, 412, 422),
}


def _no_required(schema: dict[str, Any]) -> None:
    schema.pop("required", None)


def _selectable(read: type[pydantic.BaseModel]) -> type[pydantic.BaseModel]:
    """The documented item of a list: the read schema, each property present only if ``fields`` selects it."""
    config = pydantic.ConfigDict(**{**read.model_config, "json_schema_extra": _no_required})
    namespace = {"model_config": config, "__module__": read.__module__, "__doc__": read.__doc__}
    return type(f"{read.__name__}Fields", (read,), namespace)


def key_parameter(info: ModelInfo) -> Any:
    """The path parameter ``{id}`` of an item route, as FastAPI reads and documents it: the key's type and range."""
    pk = info.pk
    low, high = pk.int_range if pk.int_range is not None and pk.python_type is int else (None, None)
    return Annotated[pk.python_type, Path(alias="id", description=f"{info.name}.{pk.name}", ge=low, le=high)]


# A header is a string or absent, never JSON null: documented as a plain string (FastAPI would
# document ``str | None`` as "string or null", and a fuzzer sends the header "null").
_STRING_HEADER = pydantic.WithJsonSchema({"type": "string"})
IfMatch = Annotated[
    str | None,
    Header(
        description="Apply only if the row's ETag is one of these (or *); otherwise nothing is written and the "
        "answer is 412 Precondition Failed (RFC 9110, section 13.1.1)."
    ),
    _STRING_HEADER,
]
IfNoneMatch = Annotated[str | None, Header(description="Answer 304 if the row's ETag is one of these."), _STRING_HEADER]

Operation = tuple[str, Callable[..., Any], dict[str, Any]]


ROUTES = ("list", "get", "create", "replace", "patch", "delete")


class Resource:
    """The REST routes of one model: list, get, create, replace, patch, delete.

    ``schemas`` come from ``ormgate.derive`` when the defaults (every field
    readable and writable, generated ones read-only) do not fit. ``limits``
    bounds what one list request may ask for (``ormgate.Limits``, or a
    (default, maximum) ``?limit=`` pair); ``cursor_key`` signs the cursors,
    by default ORMGATE_SECRET_KEY (see ``ormgate.query.signing_key``).
    ``max_body_size`` bounds the body a POST, PUT or PATCH may send (413
    beyond it); by default the app's ``ormgate.BodyLimit``, or 1 MiB.
    ``scope`` is a FastAPI dependency returning each request's ``ormgate.Scope``
    (or None: every row), ``write_scope`` the one of its writes (by default
    ``scope``'s); ``hooks`` (``ormgate.Hooks``) run around each write, in its
    transaction; ``restricted`` names the fields a scope may hide (documented
    as optional); see docs/scoping.md. ``includes`` names the relation paths
    ``?include=`` may embed (an ``ormgate.Include``, a list's ``max_items``, or
    the target's ``Resource``, whose read scope and schemas the embedded rows
    then obey); see docs/relationships.md.
    """

    def __init__(
        self,
        model: Any,
        adapter: Adapter,
        *,
        schemas: ModelSchemas | None = None,
        path: str | None = None,
        filters: Mapping[str, Collection[str]] | None = None,
        sortable: Collection[str] | None = None,
        limits: Limits | tuple[int, int] = DEFAULT_LIMITS,
        cursor_key: bytes | str | None = None,
        routes: Collection[str] = ROUTES,
        max_body_size: int | None = None,
        scope: Callable[..., Any] | None = None,
        write_scope: Callable[..., Any] | None = None,
        hooks: Hooks | None = None,
        restricted: Collection[str] = (),
        includes: "Mapping[str, Include | Resource | int | None] | Collection[str]" = (),
        links: Collection[str] = (),
        filters_across: Mapping[str, Collection[str] | None] | Collection[str] = (),
    ) -> None:
        info = adapter.describe(model)
        self.scope = scope
        self.write_scope = write_scope or scope
        self.hooks = hooks
        self.restricted = frozenset(restricted)
        self._cursor_key = cursor_key
        self._parsers: dict[frozenset[str], QueryParser] = {}
        self.schemas = schemas or derive(info)
        # Many-to-many relations whose ids a write sets (ormgate.links.with_links).
        self.links = tuple(links)
        if self.links:
            self.schemas = with_links(self.schemas, adapter, self.links)
        self.store: Store = adapter.store(model, self.schemas.read_fields)
        self.info = info
        self.path = path or info.default_path or f"/{info.table}"
        self.query = QueryParser(
            info,
            self.schemas.read_fields,
            filters=filters,
            sortable=sortable,
            limits=limits,
            cursor_key=cursor_key,
            across=across_fields(info, adapter, filters_across),
        )
        self.routes = frozenset(routes)
        self.max_body_size = None if max_body_size is None else check_max_size(max_body_size)
        self._pk_adapter = pydantic.TypeAdapter(value_annotation(info.pk))
        if self.restricted - set(self.schemas.read_fields):
            raise ValueError(f"restricted= names no readable field of {info.name}: {sorted(self.restricted)}")
        # The relation paths ?include= may name (docs/relationships.md); none: no include parameter.
        if isinstance(includes, Mapping):
            includes = {k: Include(resource=v) if isinstance(v, Resource) else v for k, v in includes.items()}
        self.includes = Includes(info, adapter, includes) if includes else None
        # The longest query string the document admits grows by include= and the embedded fields'.
        self._max_query = self.query.max_query
        if self.includes is not None and self.query.limits.query_length is None:
            self._max_query += self.includes.longest_query()
        if self.routes - set(ROUTES):
            raise ValueError(f"unknown route(s) {sorted(self.routes - set(ROUTES))}; choose from {ROUTES}")

    def not_found(self, pk: Any) -> NotFound:
        return NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")

    # -- the operations, on values already parsed -------------------------------------------

    async def list(self, request: Request) -> Response:
        """One page of rows: the body, the next cursor and its ``Link``; CSV when ``Accept`` prefers it.

        With ``?include=``, the page's rows embed related rows, one read per relation after the
        page, each in the scope of the related resource an include names (none otherwise).
        """
        media = negotiate(request.headers.get("accept"))
        raw = request.scope["query_string"]
        ignore = dependency_query(request)
        keys: tuple[str, ...]
        scope = self._scope(request)
        related = self._related(request)
        parser = self._parser(scope, related)
        scoped = () if scope is None else scope.filters()
        embedding, keys = NONE, ()
        if self.includes is not None and (related or b"include" in raw or b"." in raw):
            embedding, rest = self.includes.split(raw, self._max_query, related)
            within: tuple[Filter, ...] = ()
            if related:  # a filter across a relation matches only related rows in their scope
                across = [parser.parameters[k][0] for k, _ in rest if k in parser.parameters]
                within = self.includes.within([n for n in across if n in parser.across], related)
            query = parser.parse(rest, scoped, within, ignore)
            keys = self.includes.keys(embedding)
        else:
            query = parser.parse_query_string(raw, scoped, ignore)
        # The cursor needs the sort values of the last row, asked for or not; an include, its keys.
        needed = tuple(dict.fromkeys([*query.fields, *(s.field for s in query.sort), *keys]))
        page = await self.store.list(replace(query, fields=needed))
        rows, headers, cursor = page.rows, {}, None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            cursor = parser.next_cursor(query, rows[-1])
            headers["Link"] = f'<{_next_url(request, cursor)}>; rel="next"'
        shown = query.fields
        if embedding.items:
            assert self.includes is not None
            await self.includes.embed(rows, embedding)
            shown = (*query.fields, *embedding.items)
        if needed != shown:
            rows = [{name: row[name] for name in shown} for row in rows]
        if media == CSV:
            return csv_response(rows, shown, dumps, headers)
        body = dumps({"items": rows, "next_cursor": cursor, "total": page.total})
        return Response(body, media_type="application/json", headers=headers)

    async def get(self, request: Request, pk: Any) -> Response:
        scope = self._scope(request)
        embedding = NONE
        if self.includes is not None and request.scope["query_string"]:
            raw = request.scope["query_string"]
            embedding = self.includes.split(raw, self._max_query, self._related(request))[0]
        where = access.where(scope)
        row = await self.store.get(pk) if where is None else await self.store.get(pk, where)
        if row is None:
            raise self.not_found(pk)
        if embedding.items:
            assert self.includes is not None
            await self.includes.embed([row], embedding)
        return item_response(access.visible(row, scope), request)

    # The store runs on_write (which may hash a password) off the event loop, in a thread of
    # its own pool that does not carry the request's context: handed over in it, the hook notes
    # its secrets (the hash) where the request's error log finds them (ormgate.redaction).

    def _on_write(self) -> OnWrite | None:
        hook = self.schemas.on_write
        if hook is None:
            return None
        context = contextvars.copy_context()
        return lambda values: context.run(hook, values)

    # -- scopes (ormgate.scope, ormgate.access) ------------------------------------------------

    def _scope(self, request: Request, write: bool = False) -> RowScope | None:
        """The request's scope: ``scope``'s for a read, ``write_scope``'s for a write."""
        dependency = self.write_scope if write else self.scope
        return None if dependency is None else access.request_scope(request, dependency, self.info, self.restricted)

    def _related(self, request: Request) -> Scopes:
        """The request's scopes of the resources its includes name, by relation path (those not None)."""
        if self.includes is None or not self.includes.scoped:
            return {}
        scopes: dict[str, RowScope] = {}
        for path, resource in self.includes.scoped.items():
            assert resource.scope is not None
            found = access.request_scope(request, resource.scope, resource.info, resource.restricted)
            if found is not None:
                scopes[path] = found
        return scopes

    def _parser(self, scope: RowScope | None, related: Scopes) -> QueryParser:
        """The query parser of a request that does not know ``scope.hidden``, nor the fields of
        filters across relations whose scope hides them: one per set of hidden fields."""
        hidden = frozenset(() if scope is None else scope.hidden)
        if related and self.includes is not None:
            hidden |= self.includes.hidden_across(self.query.across, related)
        if not hidden:
            return self.query
        found = self._parsers.get(hidden)
        if found is None:  # at most one per subset of self.restricted and the paths across
            found = self._parsers[hidden] = access.parser_without(self.query, hidden, self._cursor_key)
        return found

    def _if_match(self, request: Request) -> Callable[[Row], None] | None:
        """The If-Match check, on the row as this request sees it (its ETag is of that row)."""
        check = if_match_check(request.headers.get("if-match"))
        return check if check is None else access.seen_by(check, self._scope(request, write=True))

    def _shown(self, request: Request, row: Row) -> Row:
        return access.visible(row, self._scope(request, write=True))

    def _where(self, request: Request) -> Mapping[str, Any] | None:
        return access.where(self._scope(request, write=True))

    def _hook(self, request: Request, operation: hooking.Operation, pk: Any) -> Hook | None:
        return None if self.hooks is None else self.hooks.bind(request, operation, pk, self.info.pk.name)

    def _fixed(self, request: Request, body: pydantic.BaseModel, values: dict[str, Any], creating: bool) -> None:
        access.fix(self._scope(request, write=True), body, values, creating=creating)

    async def create(self, request: Request, body: pydantic.BaseModel) -> Response:
        values = self.schemas.sent_values(body)
        self._fixed(request, body, values, creating=True)
        hook = self._hook(request, "create", None)
        with foreign_keys_named(self.info, values):
            row = await self.store.create(values, self._on_write(), hook=hook)
        location = f"{request.url.path.rstrip('/')}/{row[self.info.pk.name]}"
        return item_response(self._shown(request, row), request, 201, {"Location": location})

    async def replace(self, request: Request, pk: Any, body: pydantic.BaseModel) -> Response:
        check = self._if_match(request)
        values = self.schemas.sent_values(body, replace=True)
        # A replace sets every many-to-many list: one not sent is emptied.
        values.update({name: [] for name in self.links if name not in values})
        return await self._update(request, pk, body, values, check)

    async def patch(self, request: Request, pk: Any, body: pydantic.BaseModel) -> Response:
        check = self._if_match(request)
        return await self._update(request, pk, body, self.schemas.sent_values(body), check)

    async def _update(
        self, request: Request, pk: Any, body: pydantic.BaseModel, values: dict[str, Any], check: Any
    ) -> Response:
        self._fixed(request, body, values, creating=False)
        where, hook = self._where(request), self._hook(request, "update", pk)
        with foreign_keys_named(self.info, values):
            row = await self.store.update(pk, values, check, self._on_write(), where=where, hook=hook)
        return item_response(self._shown(request, row), request)

    async def delete(self, request: Request, pk: Any) -> Response:
        check = self._if_match(request)
        where, hook = self._where(request), self._hook(request, "delete", pk)
        await self.store.delete(pk, check, where=where, hook=hook)
        return Response(status_code=204)

    # -- parsing for the lean path: the same models, the same 422s as FastAPI's ------------

    def _pk(self, request: Request) -> Any:
        try:
            return self._pk_adapter.validate_python(request.path_params["id"])
        except pydantic.ValidationError as exc:
            raise RequestValidationError(_located(exc, "path", "id")) from None

    @staticmethod
    async def _body(request: Request, model: type[pydantic.BaseModel]) -> pydantic.BaseModel:
        # Its media type is JSON's: JSONRoute refused any other before this runs.
        raw = await request.body()
        if not raw:  # as FastAPI: nothing sent is a missing body, not a JSON syntax error
            raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required"}])
        try:
            return model.model_validate_json(raw)
        except pydantic.ValidationError as exc:
            raise RequestValidationError(_located(exc, "body")) from None

    @property
    def router(self) -> APIRouter:
        """An ``APIRouter`` with the six routes, every response documented, for ``app.include_router``."""
        router = APIRouter(prefix=self.path, tags=[self.info.name], route_class=LeanRoute)
        for path, endpoint, options in self._operations():
            router.add_api_route(path, endpoint, **options)
        return router

    def install(self, app: FastAPI | APIRouter) -> None:
        """Add the routes to ``app`` (or a router) directly: the same routes as ``router``, matched sooner.

        FastAPI (0.16x) matches an included router's routes in a second pass
        with its own bookkeeping, about 20 µs per request; routes added here
        are matched like the app's own. The app's (or router's) dependencies
        still run: a route that has any is served by FastAPI's handler.
        """
        router = app.router if isinstance(app, FastAPI) else app
        for path, endpoint, options in self._operations():
            router.add_api_route(
                self.path + path, endpoint, tags=[self.info.name], route_class_override=LeanRoute, **options
            )

    def _operations(self) -> tuple[Operation, ...]:
        """Each generated route: its path under ``self.path``, the documented endpoint, ``add_api_route`` options."""
        s = self.schemas
        name = self.info.name
        Pk: Any = key_parameter(self.info)
        Create: Any = s.create
        Update: Any = s.update
        # With includes, the rows' documented shape has each includable relation as an optional field.
        Read: Any = s.read if self.includes is None else self.includes.read_model(s.read, _selectable)
        Item: Any = _selectable(Read)
        listing = pydantic.create_model(
            f"{name}List",
            items=(list[Item], ...),
            next_cursor=(str | None, None),
            total=(int | None, None),
        )

        # What FastAPI documents (and runs when the route has dependencies) ...
        async def list_rows(request: Request) -> Response:
            return await self.list(request)

        async def get_row(pk: Pk, request: Request, if_none_match: IfNoneMatch = None) -> Response:
            return await self.get(request, pk)

        async def create_row(body: Create, request: Request) -> Response:
            return await self.create(request, body)

        async def replace_row(pk: Pk, body: Create, request: Request, if_match: IfMatch = None) -> Response:
            return await self.replace(request, pk, body)

        async def patch_row(pk: Pk, body: Update, request: Request, if_match: IfMatch = None) -> Response:
            return await self.patch(request, pk, body)

        async def delete_row(request: Request, pk: Pk, if_match: IfMatch = None) -> Response:
            return await self.delete(request, pk)

        # ... and what runs otherwise.
        async def lean_get(request: Request) -> Response:
            return await self.get(request, self._pk(request))

        async def lean_create(request: Request) -> Response:
            return await self.create(request, await self._body(request, s.create))

        async def lean_replace(request: Request) -> Response:
            return await self.replace(request, self._pk(request), await self._body(request, s.create))

        async def lean_patch(request: Request) -> Response:
            return await self.patch(request, self._pk(request), await self._body(request, s.update))

        async def lean_delete(request: Request) -> Response:
            return await self.delete(request, self._pk(request))

        item = "/{id}"
        documented = {"response_model": access.optional(s.read, self.restricted)}
        listed = self.query.openapi()
        got: dict[str, Any] = documented
        if self.includes is not None:
            added = self.includes.openapi_parameters(self.query.readable)
            parameters = [p for p in listed["parameters"] if p["name"] != "fields"]
            listed = {**listed, "parameters": [*parameters, *added]}
            # An item takes include= (and embedded fields=, which its pattern cannot tell apart).
            got = {
                "response_model": access.optional(Read, self.restricted),
                "openapi_extra": {"parameters": added[:1]},
                "responses": problem_responses(400),
            }
        table: dict[str, tuple[str, str, Callable[..., Any], Handler, dict[str, Any]]] = {
            "list": ("GET", "", list_rows, self.list, {
                "response_model": listing,
                # The query string is parsed by QueryParser (and Includes), which also describe it.
                "openapi_extra": listed,
            }),
            "get": ("GET", item, get_row, lean_get, got),
            "create": ("POST", "", create_row, lean_create, {**documented, "status_code": 201}),
            "replace": ("PUT", item, replace_row, lean_replace, documented),
            "patch": ("PATCH", item, patch_row, lean_patch, documented),
            "delete": ("DELETE", item, delete_row, lean_delete, {"status_code": 204}),
        }  # fmt: skip
        # Routes a hand-written endpoint takes over are not generated at all,
        # so the OpenAPI document holds each operation once.
        operations: tuple[Operation, ...] = ()
        for route in ROUTES:
            if route in self.routes:
                method, path, endpoint, lean, options = table[route]
                if route in ("list", "get"):
                    # Those of the included resources too: a request solves the scopes of all it may read.
                    related = () if self.includes is None else self.includes.dependencies
                    dependencies = tuple(dict.fromkeys(d for d in (self.scope, *related) if d is not None))
                else:
                    dependencies = () if self.write_scope is None else (self.write_scope,)
                if dependencies:
                    endpoint = access.with_scope(endpoint, dependencies)
                endpoint.__dict__["ormgate_lean"] = lean
                endpoint.__dict__["ormgate_max_body_size"] = self.max_body_size
                # The list refuses unknown parameters: LeanRoute tells it those its dependencies read.
                endpoint.__dict__["ormgate_query_string"] = route == "list"
                options = {
                    **options,
                    "responses": {**RESPONSES[route], **options.get("responses", {})},
                    "methods": [method],
                    "name": f"{name}.{route}",
                    "summary": f"{route} {name}",
                }
                operations += ((path, endpoint, options),)
        return operations
