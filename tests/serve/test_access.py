"""Bearer JWTs checked with the keys a JWKS URL publishes (RS256), over Chinook on every driver.

The JWKS is served by a local HTTP server the test starts; the docs stay open with a token required.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from ormgate.serve import ServedAPI, ServeOptions, build
from ormgate.serve_auth import secure
from tests.serve.conftest import KEY, Chinook

PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class JWKS:
    """A JWKS endpoint on a free local port, counting its fetches."""

    def __init__(self) -> None:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE.public_key()))
        self.body = json.dumps({"keys": [{**public, "kid": "k1", "alg": "RS256", "use": "sig"}]}).encode()
        self.fetches = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.fetches += 1
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/.well-known/jwks.json"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def rs256(key: Any = PRIVATE, kid: str = "k1", **claims: Any) -> str:
    payload = {"sub": "tester", "exp": int(time.time()) + 600, **claims}
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def jwks() -> Iterator[JWKS]:
    server = JWKS()
    yield server
    server.close()


@pytest.fixture
def guarded(chinook: Chinook, jwks: JWKS) -> Iterator[TestClient]:
    """Chinook with --allow-writes, every request checked against the JWKS."""
    api = build(ServeOptions(chinook.db.url(chinook.scheme), allow_writes=True), cursor_key=KEY)
    secure(api.app, None, jwks_url=jwks.url)
    with TestClient(api.app, raise_server_exceptions=False) as client:
        yield client
    dispose(api)


def dispose(api: ServedAPI) -> None:
    if isinstance(api.engine, sa.Engine):
        api.engine.dispose()


def test_rs256_tokens_from_a_jwks(chinook: Chinook, guarded: TestClient, jwks: JWKS) -> None:
    genre = f"/{chinook.n('Genre')}"
    missing = guarded.get(genre)
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="ormgate"'
    assert missing.headers["content-type"] == "application/problem+json"
    reader = guarded.get(genre, headers=bearer(rs256()))
    assert reader.status_code == 200, reader.text
    assert len(reader.json()["items"]) == 25
    for bad in (
        rs256(OTHER),  # signed by a key the JWKS does not publish, under its kid
        rs256(kid="unknown"),
        rs256(exp=int(time.time()) - 10),
        # Algorithm confusion: the public key as an HS256 secret is refused, the key says RS256.
        jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256", headers={"kid": "k1"}),
        "not-a-jwt",
    ):
        refused = guarded.get(genre, headers=bearer(bad))
        assert refused.status_code == 401, bad
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    forbidden = guarded.delete(f"{genre}/1", headers=bearer(rs256()))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    # A write with the claim gets as far as the database: the genre has tracks.
    conflict = guarded.delete(f"{genre}/1", headers=bearer(rs256(scope="ormgate:write")))
    assert conflict.status_code == 409, conflict.text
    assert chinook.scalar(f"SELECT count(*) FROM {chinook.q(chinook.n('Genre'))}") == 25
    # The keys were fetched once and kept (an unknown kid fetches again, once per such token).
    assert 1 <= jwks.fetches <= 3


def test_the_docs_stay_open(chinook: Chinook, guarded: TestClient) -> None:
    for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui-bundle.js", "/docs-assets/favicon.png"):
        response = guarded.get(path)
        assert response.status_code == 200, path
    document = guarded.get("/openapi.json").json()
    assert document["security"] == [{"bearer": []}]
    assert guarded.get("/docs-assets/../Genre").status_code in (401, 404)


def test_unreachable_keys_are_a_503(chinook: Chinook, jwks: JWKS) -> None:
    api = build(ServeOptions(chinook.db.url(chinook.scheme)), cursor_key=KEY)
    jwks.close()
    secure(api.app, None, jwks_url=jwks.url)
    with TestClient(api.app, raise_server_exceptions=False) as client:
        response = client.get(f"/{chinook.n('Genre')}", headers=bearer(rs256()))
    dispose(api)
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"]


def test_a_secret_and_a_jwks_url_are_one_too_many(chinook: Chinook, jwks: JWKS) -> None:
    api = build(ServeOptions(chinook.db.url(chinook.scheme), tables=(chinook.n("Genre"),)), cursor_key=KEY)
    with pytest.raises(ValueError, match="not both"):
        secure(api.app, "s" * 32, jwks_url=jwks.url)
    dispose(api)
