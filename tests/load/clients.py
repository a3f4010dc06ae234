"""The load: concurrent HTTP clients creating, patching (with ``If-Match``) and deleting users, logging every answer.

Each client owns the rows it creates: nothing but its own requests changes them,
so it always knows what each row should hold. A PATCH is a contest: the client
sends one to three PATCHes at once, each with a different e-mail and the same
``If-Match`` (the ETag of the row's last acknowledged version). Exactly one may
win; the others must be refused (412). A request with no answer (a transport
error or a timeout) may or may not have been applied: its row is written no
more, and its outcome is allowed to go either way when the database is checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2

Outcome = Literal["no", "yes", "unknown"]

PASSWORD = "load test password"
DOMAIN = "load.example.com"
TIMEOUT = 30.0  # a request is given up after this: its outcome is then unknown
BACKOFF = 1.0  # at most this long after a 5xx, however long its Retry-After
PROBE_EVERY = 0.05


@dataclass
class Call:
    """One request and its answer."""

    op: str  # create, patch, delete; probe (a read by the monitor)
    username: str  # the row written; for a probe, the path read
    value: str  # the e-mail the request would write; "" for a delete
    sent: float  # time.monotonic()
    answered: float
    status: int | None  # None: no answer, the outcome is unknown
    detail: str = ""  # the transport error, or the body of a 5xx
    retry_after: str | None = None  # the Retry-After header of a 503


@dataclass
class Row:
    """What one client did to one row, and so what the database must hold for it."""

    username: str
    id: int = 0
    etag: str = ""
    created: Outcome = "no"
    deleted: Outcome = "no"
    acked: list[str] = field(default_factory=list)  # e-mails acknowledged, in order (the create's first)
    unknown: set[str] = field(default_factory=set)  # e-mails sent with no answer
    refused: dict[str, int] = field(default_factory=dict)  # e-mail -> the status that refused it
    delete_refused: int = 0  # the status of a DELETE that was refused
    patches: int = 0

    @property
    def writable(self) -> bool:
        return self.created == "yes" and self.deleted == "no" and not self.unknown


@dataclass
class Contest:
    """PATCHes sent at once with the same If-Match."""

    username: str
    statuses: list[int | None]


@dataclass
class Log:
    started: float = field(default_factory=time.monotonic)  # when the load starts: times are shown from it
    calls: list[Call] = field(default_factory=list)
    rows: dict[str, Row] = field(default_factory=dict)
    contests: list[Contest] = field(default_factory=list)


class Client:
    """One client: a connection pool of its own and a loop of writes on its own rows."""

    def __init__(self, name: str, http: httpx2.AsyncClient, log: Log) -> None:
        self.name = name
        self.http = http
        self.log = log
        self.rng = random.Random(name)
        self.mine: list[Row] = []

    async def _send(
        self, op: str, row: Row, value: str, method: str, path: str, **kwargs: Any
    ) -> httpx2.Response | None:
        sent = time.monotonic()
        try:
            response = await self.http.request(method, path, **kwargs)
        except httpx2.TransportError as exc:
            self.log.calls.append(Call(op, row.username, value, sent, time.monotonic(), None, repr(exc)))
            return None
        self.log.calls.append(_answered(op, row.username, value, sent, response))
        return response

    async def create(self) -> list[httpx2.Response | None]:
        row = Row(f"{self.name}-{len(self.mine)}")
        self.mine.append(row)
        self.log.rows[row.username] = row
        email = f"{row.username}.0@{DOMAIN}"
        body = {"username": row.username, "email": email, "password": PASSWORD}
        response = await self._send("create", row, email, "POST", "/users", json=body)
        if response is None:
            row.created = "unknown"
            row.unknown.add(email)
        elif response.status_code == 201:
            row.created = "yes"
            row.id = response.json()["id"]
            row.etag = response.headers["etag"]
            row.acked.append(email)
        else:
            row.refused[email] = response.status_code
        return [response]

    async def contest(self, row: Row, contenders: int) -> list[httpx2.Response | None]:
        row.patches += 1
        emails = [f"{row.username}.{row.patches}{chr(97 + i)}@{DOMAIN}" for i in range(contenders)]
        headers = {"If-Match": row.etag}
        responses = await asyncio.gather(
            *(
                self._send("patch", row, email, "PATCH", f"/users/{row.id}", json={"email": email}, headers=headers)
                for email in emails
            )
        )
        for email, response in zip(emails, responses, strict=True):
            if response is None:
                row.unknown.add(email)
            elif response.status_code == 200:
                row.acked.append(email)
                row.etag = response.headers["etag"]
            else:
                row.refused[email] = response.status_code
        self.log.contests.append(Contest(row.username, [None if r is None else r.status_code for r in responses]))
        return responses

    async def delete(self, row: Row) -> list[httpx2.Response | None]:
        response = await self._send("delete", row, "", "DELETE", f"/users/{row.id}", headers={"If-Match": row.etag})
        if response is None:
            row.deleted = "unknown"
        elif response.status_code == 204:
            row.deleted = "yes"
        else:
            row.delete_refused = response.status_code
        return [response]

    async def step(self) -> list[httpx2.Response | None]:
        writable = [row for row in self.mine if row.writable]
        roll = self.rng.random()
        if len(writable) < 2 or roll < 0.3:
            return await self.create()
        if roll < 0.85:
            return await self.contest(self.rng.choice(writable), self.rng.choice((1, 2, 3)))
        return await self.delete(self.rng.choice(writable))

    async def run(self, until: float) -> None:
        while time.monotonic() < until:
            answers = await self.step()
            # A client told to come back later does, as a well-behaved one would (a little sooner).
            waits = [_retry_after(answer) for answer in answers if answer is None or answer.status_code >= 500]
            if waits:
                await asyncio.sleep(min(max(waits), BACKOFF))


def _answered(op: str, username: str, value: str, sent: float, response: httpx2.Response) -> Call:
    detail = response.text[:500] if response.status_code >= 500 else ""
    retry_after = response.headers.get("retry-after")
    return Call(op, username, value, sent, time.monotonic(), response.status_code, detail, retry_after)


async def probe(http: httpx2.AsyncClient, log: Log, until: float) -> None:
    """A monitor reading every ``PROBE_EVERY`` seconds, never backing off: when the service is back.

    It reads a page (a generated route) and the page's first user by key (the users service's
    hand-written GET, on the session dependency), in turn.
    """
    path = "/users?limit=1"
    while time.monotonic() < until:
        sent = time.monotonic()
        try:
            response = await http.get(path)
        except httpx2.TransportError as exc:
            log.calls.append(Call("probe", path, "", sent, time.monotonic(), None, repr(exc)))
        else:
            log.calls.append(_answered("probe", path, "", sent, response))
            items = response.json().get("items") if path.startswith("/users?") and response.status_code == 200 else None
            path = f"/users/{items[0]['id']}" if items else "/users?limit=1"
        await asyncio.sleep(max(0.0, sent + PROBE_EVERY - time.monotonic()))


def _retry_after(response: httpx2.Response | None) -> float:
    value = response.headers.get("retry-after", "") if response is not None else ""
    return float(value) if value.isdigit() else 0.2


async def run_clients(url: str, count: int, seconds: float, log: Log) -> None:
    """``count`` clients writing for ``seconds`` from ``log.started``, and a probe; each finishes its request."""
    until = log.started + seconds
    limits = httpx2.Limits(max_connections=4, max_keepalive_connections=4)
    async with contextlib.AsyncExitStack() as stack:
        https = [
            await stack.enter_async_context(httpx2.AsyncClient(base_url=url, timeout=TIMEOUT, limits=limits))
            for _ in range(count)
        ]
        monitor = await stack.enter_async_context(httpx2.AsyncClient(base_url=url, timeout=TIMEOUT))
        await asyncio.gather(
            probe(monitor, log, until), *(Client(f"c{i}", http, log).run(until) for i, http in enumerate(https))
        )
