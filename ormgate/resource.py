"""A resource: the REST routes of one model, over any adapter. HTTP only, no ORM here."""

import hashlib
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

import orjson
import pydantic
from fastapi import APIRouter, Header, Path, Request, Response
from starlette.datastructures import QueryParams

from .adapters.base import Adapter, Row, Store
from .errors import BadQuery, NotFound, PreconditionFailed
from .problems import PROBLEM_JSON
from .query import Query, Sort
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
        default_limit: int = 50,
        max_limit: int = 500,
        routes: Collection[str] = ROUTES,
    ) -> None:
        info = adapter.describe(model)
        self.schemas = schemas or derive(info)
        self.store: Store = adapter.store(model, self.schemas.read_fields)
        self.info = info
        self.path = path or f"/{info.table}"
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.sort = (Sort(info.pk.name),)
        self.routes = frozenset(routes)
        if self.routes - set(ROUTES):
            raise ValueError(f"unknown route(s) {sorted(self.routes - set(ROUTES))}; choose from {ROUTES}")

    def not_found(self, pk: Any) -> NotFound:
        return NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")

    def parse(self, params: QueryParams) -> Query:
        allowed = {"limit", "offset"}
        unknown = sorted(set(params) - allowed)
        if unknown:
            raise BadQuery(f"unknown query parameter(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        limit = int(params.get("limit", self.default_limit))
        return Query(self.schemas.read_fields, self.sort, limit, offset=int(params.get("offset", 0)))

    def list_body(self, query: Query, rows: list[Row], total: int | None, request: Request) -> Response:
        headers = {}
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            next_url = request.url.include_query_params(offset=query.offset + query.limit, limit=query.limit)
            headers["Link"] = f'<{next_url}>; rel="next"'
        body = dumps({"items": rows, "next_cursor": None, "total": total})
        return Response(body, media_type="application/json", headers=headers)

    @property
    def router(self) -> APIRouter:
        """An ``APIRouter`` with the six routes, every response documented."""
        s = self.schemas
        store = self.store
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
        item = "/{id}"

        async def list_rows(
            request: Request,
            limit: Annotated[int, pydantic.Field(ge=1, le=self.max_limit)] = self.default_limit,
            offset: Annotated[int, pydantic.Field(ge=0)] = 0,
        ) -> Response:
            query = self.parse(request.query_params)
            page = await store.list(query)
            return self.list_body(query, page.rows, page.total, request)

        async def get_row(pk: Pk, request: Request, if_none_match: IfNoneMatch = None) -> Response:
            row = await store.get(pk)
            if row is None:
                raise self.not_found(pk)
            return item_response(row, request)

        async def create_row(body: Create, request: Request) -> Response:
            row = await store.create(s.write_values(body))
            location = f"{request.url.path.rstrip('/')}/{row[self.info.pk.name]}"
            return item_response(row, request, 201, {"Location": location})

        async def replace_row(pk: Pk, body: Create, request: Request, if_match: IfMatch = None) -> Response:
            row = await store.update(pk, s.write_values(body, replace=True), if_match_check(if_match))
            return item_response(row, request)

        async def patch_row(pk: Pk, body: Update, request: Request, if_match: IfMatch = None) -> Response:
            row = await store.update(pk, s.write_values(body), if_match_check(if_match))
            return item_response(row, request)

        async def delete_row(pk: Pk, if_match: IfMatch = None) -> Response:
            await store.delete(pk, if_match_check(if_match))
            return Response(status_code=204)

        table: dict[str, tuple[str, str, Callable[..., Any], dict[str, Any]]] = {
            "list": ("GET", "", list_rows, {"response_model": listing, "responses": problem_responses(400, 422)}),
            "get": ("GET", item, get_row, {"response_model": s.read, "responses": problem_responses(404, 422)}),
            "create": (
                "POST",
                "",
                create_row,
                {"response_model": s.read, "status_code": 201, "responses": problem_responses(409, 422)},
            ),
            "replace": (
                "PUT",
                item,
                replace_row,
                {"response_model": s.read, "responses": problem_responses(404, 409, 412, 422)},
            ),
            "patch": (
                "PATCH",
                item,
                patch_row,
                {"response_model": s.read, "responses": problem_responses(404, 409, 412, 422)},
            ),
            "delete": (
                "DELETE",
                item,
                delete_row,
                {"status_code": 204, "responses": problem_responses(404, 409, 412, 422)},
            ),
        }
        router = APIRouter(prefix=self.path, tags=[name])
        # Routes a hand-written endpoint takes over are not generated at all,
        # so the OpenAPI document holds each operation once.
        for route in ROUTES:
            if route in self.routes:
                method, path, endpoint, options = table[route]
                router.add_api_route(
                    path, endpoint, methods=[method], name=f"{name}.{route}", summary=f"{route} {name}", **options
                )
        return router
