"""The largest request body a route reads: a 413 problem beyond it, before the body is in memory.

The limit sits in the request's scope; the receive channel the app reads the
body from checks it. A declared ``Content-Length`` beyond the limit is refused
at the first read, before a byte of the body is taken; a body without one
(chunked) is counted as it arrives and refused at the chunk that passes the
limit. Either way the 413 says ``Connection: close``: the rest of the body is
never read, so the connection cannot carry another request.

``BodyLimit`` sets it for a whole app (hand-written routes included); a
``Resource``'s own ``max_body_size`` overrides it for its routes, larger or
smaller, as the innermost setting does in Starlette. A route that reads no
body is not refused, whatever its ``Content-Length``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_SIZE = 1024 * 1024  # 1 MiB: a JSON row is a few kilobytes

# The limit in force for this request, and the reader enforcing it (one per request, however many layers set it).
LIMIT_KEY = "ormgate.max_body_size"
_READER_KEY = "ormgate.body_reader"

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ContentTooLarge(HTTPException):
    """A request body beyond the limit: 413. An ``HTTPException``, so that FastAPI's body
    reading lets it through to the handlers (it turns any other error there into a 400)."""

    def __init__(self, limit: int) -> None:
        detail = f"the request body exceeds the limit of {limit} bytes"
        super().__init__(413, detail, headers={"Connection": "close"})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request before it gets here
    return None


class _Reader:
    """A request's receive channel, which refuses a body beyond the scope's limit."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.declared = _content_length(scope)
        self.seen = 0

    async def __call__(self) -> Message:
        limit: int = self.scope[LIMIT_KEY]
        if self.declared is not None and self.declared > limit:
            raise ContentTooLarge(limit)
        message = await self.receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > limit:
                raise ContentTooLarge(limit)
        return message


def limited(scope: Scope, receive: Receive, max_size: int) -> Receive:
    """``receive`` bounded to ``max_size`` bytes of body for this request (this setting overrides an outer one)."""
    scope[LIMIT_KEY] = max_size
    reader: _Reader | None = scope.get(_READER_KEY)
    if reader is None:
        reader = scope[_READER_KEY] = _Reader(scope, receive)
        return reader
    return receive  # an outer layer's reader already checks, now against this limit


def check_max_size(max_size: Any) -> int:
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 0:
        raise ValueError(f"max_body_size must be a non-negative integer, not {max_size!r}")
    return max_size


class BodyLimit:
    """ASGI middleware: no route of the app reads a request body over ``max_size`` bytes (a 413 problem).

    ``app.add_middleware(ormgate.BodyLimit, max_size=...)``; without it, only
    the routes of a ``Resource`` are bounded (by ``DEFAULT_MAX_BODY_SIZE``).
    """

    def __init__(self, app: ASGIApp, max_size: int = DEFAULT_MAX_BODY_SIZE) -> None:
        self.app = app
        self.max_size = check_max_size(max_size)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            receive = limited(scope, receive, self.max_size)
        await self.app(scope, receive, send)


def bounded(handler: Handler, max_size: int | None) -> Handler:
    """A route handler reading at most ``max_size`` bytes of body; None: the app's ``BodyLimit``, or the default.

    At the handler rather than the route's ASGI app: FastAPI serves a route of
    an included router with a handler of its own making, never the route's app.
    """

    async def bounded_handler(request: Request) -> Response:
        size = max_size if max_size is not None else request.scope.get(LIMIT_KEY, DEFAULT_MAX_BODY_SIZE)
        receive = limited(request.scope, request.receive, size)
        if receive is not request.receive:
            request = Request(request.scope, receive)
        return await handler(request)

    return bounded_handler
