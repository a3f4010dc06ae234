"""A resource: the REST routes of one model, over any adapter. HTTP only, no ORM here."""

import hashlib
from collections.abc import Callable, Collection, Coroutine, Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import unquote_plus
from uuid import UUID

import fastapi.routing
import orjson
import pydantic
from fastapi import APIRouter, FastAPI, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from .adapters.base import Adapter, Row, Store
from .errors import NotFound, PreconditionFailed
from .problems import PROBLEM_JSON
from .query import QueryParser
from .schemas import ModelSchemas, derive


def _default(value: Any) -> Any:
    # Decimals travel as strings, as Pydantic writes them: no precision is lost.
    # A UUID subclass (asyncpg's) is not one orjson knows.
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def dumps(value: Any) -> bytes:
    """JSON bytes of trusted rows: one pass, no second validation."""
    return orjson.dumps(value, default=_default)


def etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def _matches(header: str, tag: str) -> bool:
    # If-None-Match compares weakly; a "W/" prefix does not prevent a match.
    candidates = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in candidates or tag in candidates


def _next_url(request: Request, cursor: str) -> str:
    """The request's URL with ``cursor`` in place of any offset or earlier cursor, other parameters as sent."""
    # Kept as the client encoded them: decoding and encoding again (urlencode) was 13 µs a page.
    query = request.scope["query_string"].decode("latin-1")
    kept = [part for part in query.split("&") if unquote_plus(part.partition("=")[0]) not in ("offset", "cursor", "")]
    return f"{str(request.url).partition('?')[0]}?{'&'.join([*kept, f'cursor={cursor}'])}"


def item_response(row: Row, request: Request, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON response for one row, with its ``ETag``; 304 when ``If-None-Match`` matches."""
    body = dumps(row)
    tag = etag(body)
    inm = request.headers.get("if-none-match")
    if status == 200 and request.method == "GET" and inm is not None and _matches(inm, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, status_code=status, media_type="application/json", headers={"ETag": tag, **(headers or {})})


def if_match_check(header: str | None) -> Callable[[Row], None] | None:
    """The ``If-Match`` precondition as a check a store runs on the locked row."""
    if header is None:
        return None

    def check(row: Row) -> None:
        tag = etag(dumps(row))
        candidates = {t.strip() for t in header.split(",")}
        if "*" not in candidates and tag not in candidates:
            raise PreconditionFailed(f"If-Match {header} does not match the current ETag {tag}")

    return check


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem+json bodies for these statuses."""
    return {s: {"model": Problem, "content": {PROBLEM_JSON: {}}} for s in statuses}


IfMatch = Annotated[str | None, Header(description="Apply only if the row's ETag is one of these.")]
IfNoneMatch = Annotated[str | None, Header(description="Answer 304 if the row's ETag is one of these.")]


Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Operation = tuple[str, Callable[..., Any], dict[str, Any]]


ROUTES = ("list", "get", "create", "replace", "patch", "delete")


class Resource:
    """The REST routes of one model: list, get, create, replace, patch, delete.

    ``schemas`` come from ``ormgate.derive`` when the defaults (every field
    readable and writable, generated ones read-only) do not fit.
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
        limits: tuple[int, int] = (50, 500),
        routes: Collection[str] = ROUTES,
    ) -> None:
        info = adapter.describe(model)
        self.schemas = schemas or derive(info)
        self.store: Store = adapter.store(model, self.schemas.read_fields)
        self.info = info
        self.path = path or f"/{info.table}"
        self.query = QueryParser(info, self.schemas.read_fields, filters=filters, sortable=sortable, limits=limits)
        self.routes = frozenset(routes)
        self._pk_adapter = pydantic.TypeAdapter(info.pk.python_type)
        if self.routes - set(ROUTES):
            raise ValueError(f"unknown route(s) {sorted(self.routes - set(ROUTES))}; choose from {ROUTES}")

    def not_found(self, pk: Any) -> NotFound:
        return NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")

    # -- the operations, on values already parsed -------------------------------------------

    async def list(self, request: Request) -> Response:
        """One page of rows: the body, the next cursor and its ``Link``."""
        query = self.query.parse(request.query_params.multi_items())
        # The cursor needs the sort values of the last row, asked for or not.
        needed = tuple(dict.fromkeys([*query.fields, *(s.field for s in query.sort)]))
        page = await self.store.list(replace(query, fields=needed))
        rows, headers, cursor = page.rows, {}, None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            cursor = self.query.next_cursor(query, rows[-1])
            headers["Link"] = f'<{_next_url(request, cursor)}>; rel="next"'
        if needed != query.fields:
            rows = [{name: row[name] for name in query.fields} for row in rows]
        body = dumps({"items": rows, "next_cursor": cursor, "total": page.total})
        return Response(body, media_type="application/json", headers=headers)

    async def get(self, request: Request, pk: Any) -> Response:
        row = await self.store.get(pk)
        if row is None:
            raise self.not_found(pk)
        return item_response(row, request)

    # The store runs on_write (which may hash a password) off the event loop.

    async def create(self, request: Request, body: pydantic.BaseModel) -> Response:
        row = await self.store.create(self.schemas.sent_values(body), self.schemas.on_write)
        location = f"{request.url.path.rstrip('/')}/{row[self.info.pk.name]}"
        return item_response(row, request, 201, {"Location": location})

    async def replace(self, request: Request, pk: Any, body: pydantic.BaseModel) -> Response:
        check = if_match_check(request.headers.get("if-match"))
        values = self.schemas.sent_values(body, replace=True)
        row = await self.store.update(pk, values, check, self.schemas.on_write)
        return item_response(row, request)

    async def patch(self, request: Request, pk: Any, body: pydantic.BaseModel) -> Response:
        check = if_match_check(request.headers.get("if-match"))
        row = await self.store.update(pk, self.schemas.sent_values(body), check, self.schemas.on_write)
        return item_response(row, request)

    async def delete(self, request: Request, pk: Any) -> Response:
        await self.store.delete(pk, if_match_check(request.headers.get("if-match")))
        return Response(status_code=204)

    # -- parsing for the lean path: the same models, the same 422s as FastAPI's ------------

    def _pk(self, request: Request) -> Any:
        try:
            return self._pk_adapter.validate_python(request.path_params["id"])
        except pydantic.ValidationError as exc:
            raise RequestValidationError(_located(exc, "path", "id")) from None

    @staticmethod
    async def _body(request: Request, model: type[pydantic.BaseModel]) -> pydantic.BaseModel:
        try:
            return model.model_validate_json(await request.body())
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
        Pk: Any = Annotated[self.info.pk.python_type, Path(alias="id", description=f"{name}.{self.info.pk.name}")]
        Create: Any = s.create
        Update: Any = s.update
        listing = pydantic.create_model(
            f"{name}List",
            items=(list[s.read], ...),  # type: ignore[name-defined]
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
        documented = {"response_model": s.read}
        table: dict[str, tuple[str, str, Callable[..., Any], Handler, dict[str, Any]]] = {
            "list": ("GET", "", list_rows, self.list, {
                "response_model": listing,
                "responses": problem_responses(400, 422),
                # The query string is parsed by QueryParser, which also describes it.
                "openapi_extra": {"parameters": self.query.openapi_parameters()},
            }),
            "get": ("GET", item, get_row, lean_get, {**documented, "responses": problem_responses(404, 422)}),
            "create": ("POST", "", create_row, lean_create, {
                **documented, "status_code": 201, "responses": problem_responses(409, 422),
            }),
            "replace": ("PUT", item, replace_row, lean_replace, {
                **documented, "responses": problem_responses(404, 409, 412, 422),
            }),
            "patch": ("PATCH", item, patch_row, lean_patch, {
                **documented, "responses": problem_responses(404, 409, 412, 422),
            }),
            "delete": ("DELETE", item, delete_row, lean_delete, {
                "status_code": 204, "responses": problem_responses(404, 409, 412, 422),
            }),
        }  # fmt: skip
        # Routes a hand-written endpoint takes over are not generated at all,
        # so the OpenAPI document holds each operation once.
        operations: tuple[Operation, ...] = ()
        for route in ROUTES:
            if route in self.routes:
                method, path, endpoint, lean, options = table[route]
                endpoint.__dict__["ormgate_lean"] = lean
                options = {**options, "methods": [method], "name": f"{name}.{route}", "summary": f"{route} {name}"}
                operations += ((path, endpoint, options),)
        return operations


def _located(exc: pydantic.ValidationError, *prefix: str) -> list[Any]:
    return [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors(include_url=False)]


class LeanRoute(APIRoute):
    """Runs an ormgate endpoint without FastAPI's per-request parameter solving.

    FastAPI still documents the endpoint from its declared parameters; at run
    time the resource parses the path, headers and body itself, with the same
    models and the same 422s (profiles put that solving at a fifth of a GET).
    A route that gains dependencies (``include_router(..., dependencies=[...])``,
    the app's or the router's) gets FastAPI's own handler back, so they run.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        lean: Handler | None = getattr(endpoint, "ormgate_lean", None)
        if lean is not None and not self.dependant.dependencies and getattr(self, "max_body_size", None) is None:
            # Nothing for FastAPI's wrapper to do (no dependency exit stacks, no
            # body limit): exceptions reach the app's handlers all the same.
            self.app = _asgi(lean)

    def get_route_handler(self) -> Handler:
        lean: Handler | None = getattr(self.endpoint, "ormgate_lean", None)
        if lean is None or self._effective_dependant().dependencies:
            return super().get_route_handler()
        return lean

    def _effective_dependant(self) -> Any:
        # FastAPI >= 0.16x no longer copies an included route: it builds the
        # handler while a context variable holds the inclusion's dependencies
        # (see APIRoute.get_route_handler). Older versions copy the route with
        # them. tests/unit/test_resource.py fails if either stops being true.
        context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
        context = context_var.get() if context_var is not None else None
        if context is not None and getattr(context, "original_route", None) is self:
            return context.dependant
        return self.dependant


def _asgi(handler: Handler) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app
