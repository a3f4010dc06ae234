"""Every error as application/problem+json (RFC 9457), FastAPI's own included, and documented as such."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
import pydantic
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from . import redaction
from .errors import OrmgateError, Unavailable

log = logging.getLogger("ormgate")

PROBLEM_JSON = "application/problem+json"
PROBLEM_SCHEMA = {"$ref": "#/components/schemas/Problem"}


class Problem(pydantic.BaseModel):
    """An RFC 9457 problem document."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = None


def problem(status: int, detail: str, *, type_: str = "about:blank", **extra: Any) -> Response:
    body = {"type": type_, "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON)


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


# Seconds a client is told to wait after a 503 (Retry-After), unless the error or the app says otherwise.
RETRY_AFTER = 2


async def ormgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrmgateError)
    extra: dict[str, Any] = {}
    if exc.errors is not None:
        extra["errors"] = exc.errors
    response = problem(exc.status, exc.detail, type_=f"urn:ormgate:{_kebab(type(exc).__name__)}", **extra)
    if isinstance(exc, Unavailable):
        default = getattr(request.app.state, "ormgate_retry_after", RETRY_AFTER)
        response.headers["Retry-After"] = str(exc.retry_after if exc.retry_after is not None else default)
    return response


def _field_path(loc: tuple[Any, ...]) -> str:
    # FastAPI prefixes the location with where the value came from ("body", "query").
    parts = loc[1:] if loc and loc[0] in ("body", "query", "path", "header", "cookie") else loc
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "")


def _message(error: dict[str, Any]) -> str:
    return "unknown field" if error["type"] == "extra_forbidden" else str(error["msg"])


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_path(tuple(e["loc"])),
            "location": e["loc"][0] if e["loc"] else "body",
            "message": _message(e),
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, detail, type_="urn:ormgate:validation-error", errors=errors)


# The order Allow lists methods in.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed(request: Request) -> str:
    """Every method the request's path answers, over all the routes that share it."""
    # Starlette's 405 names the methods of the first route that matched the path
    # only: /users/{id} is a route per method. Each method is tried on every route
    # (an included router answers for its own): on a 405 only.
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    )


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = problem(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    if exc.status_code == 405 and "allow" in response.headers:
        response.headers["Allow"] = _allowed(request)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # The client learns nothing about the internals; the error is logged once, by _logged_once.
    return problem(500, "An unexpected error occurred.")


_WRITES = frozenset({"POST", "PUT", "PATCH"})


def _logged_once(build: Callable[[], ASGIApp]) -> Callable[[], ASGIApp]:
    """``app.build_middleware_stack``, whose stack ends an unexpected error: logged once, redacted, not raised.

    Starlette's ServerErrorMiddleware sends the 500 (``unexpected_error``)
    and raises the error again, for the server: uvicorn then logged it a
    second time, in full (bound parameters included), and closed the
    connection without a ``Connection: close``, so a client that reused it
    got a reset. Ended here, the connection stays usable once the 500 is
    sent. An error after the response started leaves it unfinished, and the
    server closes the connection.
    """

    def build_middleware_stack() -> ASGIApp:
        stack = build()

        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await stack(scope, receive, send)
                return
            # Only a write may carry a secret (see ormgate.redaction).
            token = redaction.collecting() if scope["method"] in _WRITES else None
            try:
                await stack(scope, receive, send)
            except Exception as exc:
                trace = redaction.redacted_traceback(exc)
                log.error("unhandled error on %s %s\n%s", scope["method"], scope["path"], trace)
            finally:
                if token is not None:
                    redaction.done(token)

        return app

    return build_middleware_stack


def install(app: FastAPI, *, retry_after: int = RETRY_AFTER) -> None:
    """Make every error response of ``app`` a problem+json document, and its OpenAPI document say so.

    An unexpected error is a 500 problem, logged once on the ``ormgate``
    logger with no secret of the request in it (``ormgate.redaction``). A 503
    (``Unavailable``: the database is out of reach, or busy) says
    ``Retry-After: retry_after`` seconds.
    """
    app.state.ormgate_retry_after = retry_after
    app.add_exception_handler(OrmgateError, ormgate_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
    app.build_middleware_stack = _logged_once(app.build_middleware_stack)  # type: ignore[method-assign]
    app.openapi = _documenting_problems(app, app.openapi)  # type: ignore[method-assign]


# -- the OpenAPI document -----------------------------------------------------------------------

# What FastAPI documents for an error without being told: its 422, and the
# route's media type for a response declared with a model. Once the handlers
# above are installed, neither is what the client receives.
_FASTAPI_ERRORS = frozenset({"#/components/schemas/HTTPValidationError", PROBLEM_SCHEMA["$ref"]})


def _documenting_problems(app: FastAPI, build: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        # FastAPI caches the document in app.openapi_schema; it is rewritten once, when built.
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(build())
        return app.openapi_schema

    return openapi


def _is_ours(response: dict[str, Any]) -> bool:
    """An error response that these handlers answer: no body documented, or FastAPI's or ormgate's model."""
    content = response.get("content") or {}
    return all(media.get("schema", {}).get("$ref") in _FASTAPI_ERRORS for media in content.values())


def _unavailable() -> dict[str, Any]:
    return {
        "description": "Service Unavailable: the database is out of reach or busy, or too many requests wait for it.",
        "headers": {
            "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}}
        },
    }


def document_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every 4xx/5xx response the handlers answer documented as a ``Problem`` under problem+json.

    A response documented with a model of the application's own is left alone.
    Every operation may answer 503 (``Unavailable``, with ``Retry-After``): it is documented on each.
    """
    for path_item in spec.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].setdefault("503", _unavailable())
            for status, response in operation.get("responses", {}).items() if isinstance(operation, dict) else ():
                if status[0] in "45" and _is_ours(response):
                    response["content"] = {PROBLEM_JSON: {"schema": dict(PROBLEM_SCHEMA)}}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", Problem.model_json_schema(mode="serialization"))
    # FastAPI's validation error models, once nothing refers to them (the second only from the first).
    for name in ("HTTPValidationError", "ValidationError"):
        if name in schemas and f'"#/components/schemas/{name}"'.encode() not in orjson.dumps(spec):
            del schemas[name]
    return spec
