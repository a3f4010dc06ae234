"""What one request may cost is bounded (issue 12, item 3), on every pair: its body, the 500 it may end in.

Password hashing, bounded too, is tested with the users service in test_secrets.py.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from tests.conformance.asgi import exchange
from tests.conformance.models import REVIEWED_MAX_BODY
from tests.conformance.test_contract import PROBLEM, assert_problem, count, make_item
from tests.conformance.test_users import ADA
from tests.conftest import Served

MIB = 1024 * 1024
CHUNK = 64 * 1024
JSON = ("content-type", "application/json")


@pytest.fixture
def api(contract: Served) -> Served:
    contract.clear("items", "categories")
    return contract


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes (trailing whitespace is valid JSON)."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_too_large(status: int, headers: dict[str, str], body: bytes, limit: int) -> None:
    assert status == 413, body
    assert headers["content-type"] == PROBLEM
    # The rest of the body is not read: the connection cannot carry another request.
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == 413
    assert str(limit) in problem["detail"]


# -- the body ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [("POST", "/items"), ("PUT", "/items/{id}"), ("PATCH", "/items/{id}")])
def test_a_declared_body_over_the_limit_is_413_and_never_read(api: Served, method: str, path: str) -> None:
    item = make_item(api)
    headers = [JSON, ("content-length", str(MIB + 1))]
    sent = exchange(api, method, path.format(id=item["id"]), [b" " * (MIB + 1)], headers)
    assert sent.raised is None
    assert_too_large(sent.status, sent.headers, sent.body, MIB)
    assert sent.pulled == 0  # refused on its Content-Length alone
    assert count(api) == 1
    assert api.client.get(f"/items/{item['id']}").json() == item


@pytest.mark.parametrize(("method", "path"), [("POST", "/items"), ("PATCH", "/items/{id}")])
def test_a_chunked_body_is_refused_at_the_chunk_that_passes_the_limit(api: Served, method: str, path: str) -> None:
    item = make_item(api)
    chunks = [b" " * CHUNK] * (2 * MIB // CHUNK)  # 2 MiB, no Content-Length
    sent = exchange(api, method, path.format(id=item["id"]), chunks, [JSON, ("transfer-encoding", "chunked")])
    assert sent.raised is None
    assert_too_large(sent.status, sent.headers, sent.body, MIB)
    assert sent.pulled == MIB // CHUNK + 1  # the 1 MiB allowed, then the chunk that passed it
    assert count(api) == 1


def test_a_body_of_exactly_the_limit_is_accepted(api: Served) -> None:
    response = api.client.post("/items", content=padded({"name": "widget"}, MIB), headers=dict([JSON]))
    assert response.status_code == 201, response.text
    assert count(api) == 1


def test_a_body_over_the_limit_sent_by_a_client_library_is_a_413_problem(api: Served) -> None:
    response = api.client.post("/items", content=padded({"name": "widget"}, MIB + 1), headers=dict([JSON]))
    body = assert_problem(response, 413)
    assert body["title"]
    assert count(api) == 0


def test_a_resource_sets_its_own_limit(api: Served) -> None:
    item = make_item(api)
    # /reviewed is the items table with a limit of its own, below the app's.
    over = padded({"name": "renamed"}, REVIEWED_MAX_BODY + 1)
    response = api.client.put(f"/reviewed/{item['id']}", content=over, headers=dict([JSON]))
    assert_problem(response, 413)
    assert api.client.get(f"/items/{item['id']}").json()["name"] == "widget"
    at_limit = padded({"name": "renamed"}, REVIEWED_MAX_BODY)
    assert api.client.put(f"/reviewed/{item['id']}", content=at_limit, headers=dict([JSON])).status_code == 200
    # The same body is well within the limit of the other routes.
    assert api.client.patch(f"/items/{item['id']}", content=over, headers=dict([JSON])).status_code == 200


def test_the_413_is_documented_on_every_write(api: Served) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path, item in paths.items():
        for method, operation in item.items():
            if method in ("post", "put", "patch"):
                assert "413" in operation["responses"], (path, method)


def test_the_users_service_bounds_its_bodies(users_service: Served) -> None:
    users_service.clear("users")
    client = users_service.client
    ada = client.post("/users", json=ADA).json()
    grace = {**ADA, "username": "grace", "email": "grace@example.com"}
    # The hand-written POST /users, bounded by the app's BodyLimit ...
    assert_problem(client.post("/users", content=padded(grace, MIB + 1), headers=dict([JSON])), 413)
    sent = exchange(users_service, "POST", "/users", [b" " * CHUNK] * (2 * MIB // CHUNK), [JSON])
    assert sent.raised is None
    assert_too_large(sent.status, sent.headers, sent.body, MIB)
    assert sent.pulled == MIB // CHUNK + 1
    assert client.post("/users", content=padded(grace, MIB), headers=dict([JSON])).status_code == 201
    # ... and a generated route.
    over = padded({"username": "someone"}, MIB + 1)
    assert_problem(client.patch(f"/users/{ada['id']}", content=over, headers=dict([JSON])), 413)
    assert users_service.scalar("SELECT COUNT(*) FROM users") == 2
    assert client.get(f"/users/{ada['id']}").json() == ada


# -- the 500 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), [("GET", "/ghosts", b""), ("POST", "/ghosts", b"{}")])
def test_an_unexpected_error_is_a_complete_500_logged_once_and_not_raised_to_the_server(
    api: Served, caplog: pytest.LogCaptureFixture, method: str, path: str, body: bytes
) -> None:
    caplog.set_level(logging.INFO)
    sent = exchange(api, method, path, [body], [JSON])
    # Raised again, the server logged it a second time and reset the connection without a word.
    assert sent.raised is None
    assert sent.status == 500
    assert sent.complete
    assert sent.headers["content-type"] == PROBLEM
    assert json.loads(sent.body)["detail"] == "An unexpected error occurred."
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage()[:200] for r in errors]
    assert errors[0].name == "ormgate"
    assert "ghosts" in errors[0].getMessage()  # the log says what failed, the response does not
    # The app serves the next request as before.
    assert api.client.get("/items").status_code == 200


@pytest.fixture
def live(api: Served) -> Iterator[int]:
    """The conformance app of ``api``'s pair, on its database, served by uvicorn on a port of its own."""
    app = importlib.import_module(f"tests.conformance.models.{api.pair.models}").create_app(api.db.url(api.pair.scheme))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on", loop="asyncio"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        for _ in range(600):
            if server.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert server.started
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join()
        sock.close()


def test_a_500_leaves_a_keep_alive_connection_usable_and_is_logged_once(
    live: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    connection = http.client.HTTPConnection("127.0.0.1", live, timeout=30)
    try:
        connection.request("GET", "/ghosts")
        failed = connection.getresponse()
        failed.read()
        assert failed.status == 500
        assert failed.getheader("connection") != "close"
        # The same connection: a reset here is what clients reusing it got.
        connection.request("GET", "/items")
        again = connection.getresponse()
        again.read()
        assert again.status == 200
    finally:
        connection.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.name for r in errors] == ["ormgate"], [r.getMessage()[:200] for r in errors]
