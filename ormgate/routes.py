"""The route classes of every generated route, and of hand-written ones that want the same rules.

``JSONRoute`` refuses a body not sent as JSON (415) and answers HEAD wherever GET; ``LeanRoute``
runs an ormgate endpoint without FastAPI's per-request parameter solving, with the same models
and the same 422s.
"""

import email.message
import functools
from collections.abc import Callable, Coroutine
from typing import Any

import fastapi.routing
import pydantic
import pydantic_core
from fastapi import Request, Response, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import access, solver
from .bodies import bounded
from .errors import UnsupportedMediaType

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def _located(exc: pydantic.ValidationError, *prefix: str) -> list[Any]:
    return [{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors(include_url=False)]


@functools.lru_cache(maxsize=64)
def is_json(content_type: str) -> bool:
    """Whether a ``Content-Type`` is JSON's, decided as FastAPI's own handler does.

    ``application/json`` or ``application/*+json``, any case, any parameters
    (fastapi/routing.py, ``get_request_handler``). Cached: clients send few.
    """
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))


def parse_json(raw: bytes) -> Any:
    """A JSON body, parsed as Pydantic parses one (``model_validate_json``): a bad one is the same 422."""
    try:
        return pydantic_core.from_json(raw)
    except ValueError as exc:  # not JSON, not UTF-8, nested too deep
        error = {"type": "json_invalid", "loc": ("body",), "msg": f"Invalid JSON: {exc}", "ctx": {"error": str(exc)}}
        raise RequestValidationError([error]) from None


def _json_only(handler: Handler, strict: bool, parse: bool) -> Handler:
    async def json_only(request: Request) -> Response:
        content_type = request.headers.get("content-type")
        # FastAPI reads a body with no media type as JSON only when not strict
        # (its default); an empty body is left to validation, which calls it missing.
        json_body = is_json(content_type) if content_type else not strict
        raw = await request.body()
        if not json_body and raw:
            sent = f"Content-Type {content_type}" if content_type else "no Content-Type"
            raise UnsupportedMediaType(f"{sent}: send the body as application/json")
        if parse and raw:
            # For FastAPI's handler, which reads Request.json() (cached here): Python's json
            # module takes UTF-16 and answers a 400 to bad UTF-8 or deep nesting where the
            # lean routes answer a 422. Parsed once, as they parse it, every route agrees.
            request._json = parse_json(raw)
        return await handler(request)

    return json_only


class JSONRoute(APIRoute):
    """An ``APIRoute`` whose JSON body must come with a JSON media type: a 415 problem otherwise.

    FastAPI's own handler does not parse such a body as JSON and answers a
    422; this says what is wrong. Either way the body is refused, and that
    refusal is what stops a cross-site form post (``text/plain``,
    ``application/x-www-form-urlencoded``, sent without a CORS preflight) to an
    app that authenticates by cookie. Set it as ``app.router.route_class`` for
    hand-written routes; every generated route is one.
    """

    # HEAD wherever GET: FastAPI's routes answer a HEAD with a 405 unless it is listed. Here a
    # HEAD runs the GET and sends its status and headers (ETag, Content-Length) without the body.

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http" and scope["method"] == "HEAD" and self.methods and "GET" in self.methods:
            match, child = super().matches({**scope, "method": "GET"})
            return match, child
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "HEAD" or not self.methods or "GET" not in self.methods:
            await super().handle(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await super().handle({**scope, "method": "GET"}, receive, headers_only)

    def get_route_handler(self) -> Handler:
        route = self._effective()
        handler = self._handler(route)
        if route.body_field is None or isinstance(route.body_field.field_info, params.Form):
            return handler
        # A FastAPI without this option reads a body with no media type as JSON.
        strict = getattr(route, "strict_content_type", False)
        strict = strict.value if isinstance(strict, DefaultPlaceholder) else strict
        return _json_only(handler, strict, parse=self._lean(route) is None)

    def _handler(self, route: Any) -> Handler:
        return super().get_route_handler()

    def _lean(self, route: Any) -> Handler | None:
        """The handler that reads the body itself in place of FastAPI's, if any."""
        return None

    def _effective(self) -> Any:
        """This route as served: with the dependencies and options of the router that includes it, if any."""
        # FastAPI >= 0.16x no longer copies an included route: it builds the
        # handler while a context variable holds the inclusion's dependencies
        # (see APIRoute.get_route_handler). Older versions copy the route with
        # them. tests/unit/test_resource.py fails if either stops being true.
        context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
        context = context_var.get() if context_var is not None else None
        if context is not None and getattr(context, "original_route", None) is self:
            return context
        return self


class LeanRoute(JSONRoute):
    """Runs an ormgate endpoint without FastAPI's per-request parameter solving.

    FastAPI still documents the endpoint from its declared parameters; at run
    time the resource parses the path, headers and body itself, with the same
    models and the same 422s (profiles put that solving at a fifth of a GET).
    A scoped route's dependency is solved alone, as FastAPI's solver would
    (``ormgate.access.solving``); a route that gains other dependencies
    (``include_router(..., dependencies=[...])``, the app's or the router's)
    gets FastAPI's own handler back, so they run.
    Either way a list is told the query parameters the route's dependencies read, which it
    then accepts (``dependency_query``), and a dependency reading one of the route's own
    documented parameters is refused as the route is built.
    Either way the body's size is bounded (``ormgate.bodies``) and its media
    type checked (``JSONRoute``) before it is parsed.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        lean: Handler | None = getattr(endpoint, "ormgate_lean", None)
        if lean is not None and self._lean(self) is not None and getattr(self, "max_body_size", None) is None:
            # Nothing else for FastAPI's wrapper to do (no body limit; a scope's yield
            # dependencies get the same exit stacks): exceptions reach the app's handlers all the same.
            handler = self.get_route_handler()
            self.app = access.serving(handler, self) if self.dependant.dependencies else _asgi(handler)

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()
        if getattr(self.endpoint, "ormgate_lean", None) is not None:
            handler = _reading_query(self._effective(), handler)
        if self.body_field is None:
            return handler
        return bounded(handler, getattr(self.endpoint, "ormgate_max_body_size", None))

    def _handler(self, route: Any) -> Handler:
        return self._lean(route) or super()._handler(route)

    def _lean(self, route: Any) -> Handler | None:
        lean: Handler | None = getattr(self.endpoint, "ormgate_lean", None)
        if lean is None or not route.dependant.dependencies:
            return lean
        if not access.only_scope(route.dependant):
            return None
        # A scoped route: FastAPI solves the scope dependency alone, then the lean handler runs.
        scopes = self.endpoint.__dict__["ormgate_scope"]
        return access.solving(lean, scopes, route.path_format, route.dependency_overrides_provider)


def dependency_query(request: Request) -> frozenset[str]:
    """The query parameters the dependencies of the request's route read: not the route's to parse.

    Set by ``LeanRoute`` on routes whose endpoint parses the query string strictly
    (``ormgate_query_string``), a list's: it accepts these names and refuses any other unknown one.
    """
    names: frozenset[str] = request.scope.get(_QUERY, _NONE)
    return names


_QUERY = "ormgate.dependency_query"
_NONE: frozenset[str] = frozenset()


def _reading_query(route: Any, handler: Handler) -> Handler:
    """``handler``, telling the endpoint which query parameters ``route``'s dependencies read.

    One that is also a parameter of the route's own (documented in its ``openapi_extra``: a
    list's ``limit``, ``sort``, a filter) would be read by both: refused here, at start-up.
    """
    names = solver.query_names(route.dependant)
    if not names:
        return handler
    extra = route.openapi_extra or {}
    own = {p["name"] for p in extra.get("parameters", ()) if p.get("in") == "query"}
    clash = sorted(names & own)
    if clash:
        raise ValueError(
            f"{route.name} ({route.path}): a dependency reads the query parameter {clash[0]!r}, which is "
            "the route's own; name the dependency's parameter otherwise (Query(alias=...))"
        )
    if not getattr(route.endpoint, "ormgate_query_string", False):
        return handler

    async def reading(request: Request) -> Response:
        request.scope[_QUERY] = names
        return await handler(request)

    return reading


def _asgi(handler: Handler) -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)

    return app
