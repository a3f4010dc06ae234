"""One request sent to a served app at the ASGI level, as a server sends it: what a client library hides.

It shows how much of the body the app read (``pulled``), whether the app
raised to the server (which then logs the error and resets the connection),
and whether the response was complete. It runs on the app's own event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from tests.conftest import Served


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    complete: bool = False
    pulled: int = 0  # how many of the body's chunks the app asked for
    raised: BaseException | None = None


async def _exchange(
    app: Any, method: str, path: str, chunks: Sequence[bytes], headers: Sequence[tuple[str, str]]
) -> Exchange:
    seen = Exchange()

    async def receive() -> dict[str, Any]:
        if seen.pulled >= len(chunks):
            return {"type": "http.disconnect"}
        seen.pulled += 1
        return {"type": "http.request", "body": chunks[seen.pulled - 1], "more_body": seen.pulled < len(chunks)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            seen.status = message["status"]
            seen.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            seen.body += message.get("body", b"")
            seen.complete = not message.get("more_body", False)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *((k.lower().encode(), v.encode()) for k, v in headers)],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    try:
        await app(scope, receive, send)
    except Exception as exc:
        seen.raised = exc
    return seen


def exchange(
    served: Served, method: str, path: str, chunks: Sequence[bytes] = (), headers: Sequence[tuple[str, str]] = ()
) -> Exchange:
    """``method path`` with a body sent in ``chunks``, on the served app's event loop."""
    portal = served.client.portal
    assert portal is not None
    seen: Exchange = portal.call(_exchange, served.client.app, method, path, chunks, headers)
    return seen


def get_beside_a_ping(app: Any, url: str, release: Callable[[], None]) -> tuple[int, bool, int]:
    """GET ``url`` and, 0.3 s later, the app's ``/ping``; then ``release()`` and the GET's answer.

    Returns the ping's status, whether the GET was still waiting once the ping was answered, and the
    GET's status: a GET that waits (for a connection) on the event loop lets no ping through.
    """

    async def scenario() -> tuple[int, bool, int]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            get = asyncio.ensure_future(client.get(url))
            await asyncio.sleep(0.3)
            pinged = (await asyncio.wait_for(client.get("/ping"), 2)).status_code
            waiting = not get.done()
            release()
            return pinged, waiting, (await get).status_code

    return asyncio.run(scenario())
