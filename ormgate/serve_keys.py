"""``ormgate serve``'s item routes of a table with a composite primary key: ``/Table/{k1}/{k2}``.

One path segment per key column, in key order, each parsed as its column's type (a bad one
is the usual 422). ``GET`` always; with ``--allow-writes`` also ``POST /Table`` (its
``Location`` has every segment), ``PUT``, ``PATCH`` and ``DELETE``, with the ETags,
``If-Match``/``If-None-Match``, 409/412/415/422 and body limits of every other resource: the
store is the SQLAlchemy adapter's, keyed by the row value of the key columns (its ``pk`` is a
list of one tuple of values), and the routes are ``LeanRoute``s like the generated ones.
"""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import quote

import pydantic
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from .errors import NotFound
from .resource import RESPONSES, IfMatch, IfNoneMatch, LeanRoute, Resource, if_match_check, item_response
from .schemas import value_annotation

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class CompositeKey:
    """The key columns of one resource, read from a path and written into one."""

    def __init__(self, resource: Resource, table: str, key: Sequence[str]) -> None:
        self.resource = resource
        self.table = table
        self.key = tuple(key)
        info = resource.info
        self.adapters = {name: pydantic.TypeAdapter(value_annotation(info.by_name[name])) for name in key}

    def parse(self, request: Request) -> list[tuple[Any, ...]]:
        """The store's ``pk`` for the path's segments."""
        values = []
        for name in self.key:
            try:
                values.append(self.adapters[name].validate_python(request.path_params[name]))
            except pydantic.ValidationError as exc:
                errors = [{**e, "loc": ("path", name, *e["loc"])} for e in exc.errors(include_url=False)]
                raise RequestValidationError(errors) from None
        return [tuple(values)]

    def not_found(self, pk: list[tuple[Any, ...]]) -> NotFound:
        shown = ", ".join(f"{n}={v}" for n, v in zip(self.key, pk[0], strict=True))
        return NotFound(f"no {self.table} with {shown}")

    def location(self, request: Request, row: dict[str, Any]) -> str:
        return request.url.path.rstrip("/") + "".join(f"/{quote(str(row[name]), safe='')}" for name in self.key)

    def parameters(self) -> list[dict[str, Any]]:
        return [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": f"{self.table}.{name}, key column {i + 1} of {len(self.key)}",
                "schema": self.adapters[name].json_schema(),
            }
            for i, name in enumerate(self.key)
        ]

    # -- the operations --------------------------------------------------------------------------

    async def get(self, request: Request) -> Response:
        pk = self.parse(request)
        row = await self.resource.store.get(pk)
        if row is None:
            raise self.not_found(pk)
        return item_response(row, request)

    async def create(self, request: Request) -> Response:
        schemas = self.resource.schemas
        body = await Resource._body(request, schemas.create)
        row = await self.resource.store.create(schemas.sent_values(body))
        return item_response(row, request, 201, {"Location": self.location(request, row)})

    async def _update(self, request: Request, model: type[pydantic.BaseModel], replace: bool) -> Response:
        pk = self.parse(request)
        body = await Resource._body(request, model)
        values = self.resource.schemas.sent_values(body, replace=replace)
        try:
            row = await self.resource.store.update(pk, values, if_match_check(request.headers.get("if-match")))
        except NotFound:
            raise self.not_found(pk) from None
        return item_response(row, request)

    async def replace(self, request: Request) -> Response:
        return await self._update(request, self.resource.schemas.create, replace=True)

    async def patch(self, request: Request) -> Response:
        return await self._update(request, self.resource.schemas.update, replace=False)

    async def delete(self, request: Request) -> Response:
        pk = self.parse(request)
        try:
            await self.resource.store.delete(pk, if_match_check(request.headers.get("if-match")))
        except NotFound:
            raise self.not_found(pk) from None
        return Response(status_code=204)


def install_key_routes(app: FastAPI, resource: Resource, table: str, key: Sequence[str], *, writable: bool) -> None:
    """``GET /Table/{k1}/{k2}...``, and with ``writable`` the create and the writes by key."""
    keyed = CompositeKey(resource, table, key)
    schemas = resource.schemas
    name = resource.info.name
    Create: Any = schemas.create
    Update: Any = schemas.update

    # What FastAPI documents; the lean handler is what runs (LeanRoute), as for generated routes.
    async def get_row(request: Request, if_none_match: IfNoneMatch = None) -> Response:
        return await keyed.get(request)

    async def create_row(body: Create, request: Request) -> Response:
        return await keyed.create(request)

    async def replace_row(body: Create, request: Request, if_match: IfMatch = None) -> Response:
        return await keyed.replace(request)

    async def patch_row(body: Update, request: Request, if_match: IfMatch = None) -> Response:
        return await keyed.patch(request)

    async def delete_row(request: Request, if_match: IfMatch = None) -> Response:
        return await keyed.delete(request)

    item = resource.path + "".join(f"/{{{k}}}" for k in key)
    shown = ", ".join(key)
    routes: list[tuple[str, str, str, Callable[..., Any], Handler, dict[str, Any]]] = [
        ("get", "GET", item, get_row, keyed.get, {"response_model": schemas.read}),
    ]
    if writable:
        routes += [
            ("create", "POST", resource.path, create_row, keyed.create,
             {"response_model": schemas.read, "status_code": 201}),
            ("replace", "PUT", item, replace_row, keyed.replace, {"response_model": schemas.read}),
            ("patch", "PATCH", item, patch_row, keyed.patch, {"response_model": schemas.read}),
            ("delete", "DELETE", item, delete_row, keyed.delete, {"status_code": 204}),
        ]  # fmt: skip
    for route, method, path, endpoint, lean, options in routes:
        endpoint.__dict__["ormgate_lean"] = lean
        endpoint.__dict__["ormgate_max_body_size"] = resource.max_body_size
        app.router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=f"{name}.{route}",
            summary=f"{route} {table}" + ("" if path == resource.path else f" by its key ({shown})"),
            tags=[name],
            responses=RESPONSES[route],
            openapi_extra=None if path == resource.path else {"parameters": keyed.parameters()},
            route_class_override=LeanRoute,
            **options,
        )
