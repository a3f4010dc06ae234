"""Every error as application/problem+json (RFC 9457), FastAPI's own included."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .errors import OrmgateError

log = logging.getLogger("ormgate")

PROBLEM_JSON = "application/problem+json"


def problem(status: int, detail: str, *, type_: str = "about:blank", **extra: Any) -> Response:
    body = {"type": type_, "title": HTTPStatus(status).phrase, "status": status, "detail": detail, **extra}
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_JSON)


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


async def ormgate_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OrmgateError)
    extra: dict[str, Any] = {}
    if exc.errors is not None:
        extra["errors"] = exc.errors
    return problem(exc.status, exc.detail, type_=f"urn:ormgate:{_kebab(type(exc).__name__)}", **extra)


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


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = problem(exc.status_code, str(exc.detail))
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    # Logged in full here; the client learns nothing about the internals.
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(500, "An unexpected error occurred.")


def install(app: FastAPI) -> None:
    """Make every error response of ``app`` a problem+json document."""
    app.add_exception_handler(OrmgateError, ormgate_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
