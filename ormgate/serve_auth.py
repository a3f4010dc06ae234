"""Access control for ``ormgate serve``: a bearer JWT on every request (PyJWT), writes by claim.

The token is checked with a shared secret (HS256, ``ORMGATE_JWT_SECRET``) or with the public
keys a JWKS URL publishes (``ORMGATE_JWKS_URL``: RS256, ES256 and the other asymmetric
algorithms, the one each key names). A missing or bad token is a 401 problem with
``WWW-Authenticate: Bearer``; a token without the write claim, on a write, a 403 problem;
a JWKS that cannot be fetched, a 503 problem.

The docs pages, their local assets and the OpenAPI document stay open: they hold no row, and a
browser loads them before anyone can paste a token into Swagger UI's "Authorize". They do name
the tables and columns; an API whose schema is itself a secret should not be served by the
command line (docs/serve.md, "Access control").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .offline import ASSETS_URL
from .problems import PROBLEM_JSON

JWT_SECRET_ENV = "ORMGATE_JWT_SECRET"
JWKS_URL_ENV = "ORMGATE_JWKS_URL"
# A token's grant of writes: either of these claims.
WRITE_SCOPE = "ormgate:write"
# A JWKS's keys are fetched again after this many seconds (a key rotated in is found sooner: an
# unknown "kid" fetches the set at once).
JWKS_LIFESPAN = 300

_OPEN_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
_RESERVED_PATHS = frozenset({path.strip("/") for path in _OPEN_PATHS} | {ASSETS_URL.strip("/")})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _open(path: str) -> bool:
    return path in _OPEN_PATHS or path.startswith(ASSETS_URL + "/")


def grants_writes(claims: Mapping[str, Any]) -> bool:
    """Whether a token's claims allow writes: ``"ormgate": {"write": true}``, or ``ormgate:write`` in its scope."""
    own = claims.get("ormgate")
    if isinstance(own, dict) and own.get("write") is True:
        return True
    scope = claims.get("scope", claims.get("scp", ""))
    scopes = scope.split() if isinstance(scope, str) else scope if isinstance(scope, list) else []
    return WRITE_SCOPE in scopes


class _Refused(Exception):
    def __init__(self, status: int, detail: str, error: str = "") -> None:
        super().__init__(detail)
        self.status, self.detail, self.error = status, detail, error


class BearerJWT:
    """ASGI middleware: a valid bearer JWT on every request but the docs; writes need the write claim.

    Give ``secret`` (HS256) or ``jwks_url`` (the keys' own asymmetric algorithms), not both.
    """

    def __init__(
        self, app: ASGIApp, secret: str | None = None, *, jwks_url: str | None = None, audience: str | None = None
    ) -> None:
        import jwt

        if (secret is None) == (jwks_url is None):
            raise ValueError("give a JWT secret or a JWKS URL, one of them")
        self.app = app
        self.secret = secret
        self.jwks = None if jwks_url is None else jwt.PyJWKClient(jwks_url, lifespan=JWKS_LIFESPAN, timeout=10)
        self.audience = audience

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _open(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        kind, _, token = header.partition(" ")
        try:
            if kind.lower() != "bearer" or not token.strip():
                raise _Refused(401, "a bearer token is required: Authorization: Bearer <JWT>")
            claims = await self._claims(token.strip())
            if scope["method"] not in _READS and not grants_writes(claims):
                needs = f'"ormgate": {{"write": true}} or the scope {WRITE_SCOPE}'
                raise _Refused(403, f"the token does not grant writes: it needs {needs}")
        except _Refused as refused:
            await _problem(refused, scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _claims(self, token: str) -> dict[str, Any]:
        import jwt
        from jwt.types import Options

        options: Options = {"verify_aud": self.audience is not None}
        try:
            if self.jwks is None:
                assert self.secret is not None
                return jwt.decode(token, self.secret, algorithms=["HS256"], audience=self.audience, options=options)
            # The keys may need fetching (blocking I/O, bounded by the client's timeout): off the event loop.
            key = await anyio.to_thread.run_sync(self.jwks.get_signing_key_from_jwt, token)
            # Only the key's own algorithm: a token cannot choose HS256 and sign with the public key as a secret.
            return jwt.decode(token, key.key, algorithms=[key.algorithm_name], audience=self.audience, options=options)
        except jwt.PyJWKClientConnectionError as exc:
            raise _Refused(503, f"the signing keys could not be fetched: {exc}") from None
        except jwt.PyJWTError as exc:
            raise _Refused(401, f"the bearer token is not valid: {exc}", "invalid_token") from None


async def _problem(refused: _Refused, scope: Scope, receive: Receive, send: Send) -> None:
    headers = {}
    if refused.status == 401:
        error = f', error="{refused.error}"' if refused.error else ""
        headers["WWW-Authenticate"] = f'Bearer realm="ormgate"{error}'
    elif refused.status == 503:
        headers["Retry-After"] = "5"
    status = refused.status
    body = {"type": "about:blank", "title": HTTPStatus(status).phrase, "status": status, "detail": refused.detail}
    response = Response(json.dumps(body).encode(), status_code=status, media_type=PROBLEM_JSON, headers=headers)
    await response(scope, receive, send)


def secure(app: FastAPI, secret: str | None, *, jwks_url: str | None = None) -> None:
    """With a secret or a JWKS URL, every request but the docs needs a bearer JWT they verify."""
    if not secret and not jwks_url:
        return
    if secret and jwks_url:
        raise ValueError(f"give {JWT_SECRET_ENV} or a JWKS URL, not both")
    app.add_middleware(BearerJWT, secret=secret or None, jwks_url=jwks_url or None)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        document = build_openapi()
        document.setdefault("components", {}).setdefault("securitySchemes", {})["bearer"] = {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        document["security"] = [{"bearer": []}]
        return document

    app.openapi = openapi  # type: ignore[method-assign]
