"""Rows as JSON responses: the body written once, its ``ETag``, and the ``If-None-Match`` / ``If-Match`` checks."""

import hashlib
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson
import pydantic_core
from fastapi import Request, Response

from .adapters.base import Row
from .errors import PreconditionFailed
from .schemas import to_base64


def _default(value: Any) -> Any:
    """What orjson does not write itself, written as the derived schemas write and read it."""
    # Decimals travel as strings, as Pydantic writes them: no precision is lost.
    # A UUID subclass (asyncpg's) is not one orjson knows.
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):  # memoryview: some drivers' binary columns
        return to_base64(bytes(value))
    # Durations as ISO 8601 ("P1DT2H"), and whatever a field's own annotation admits
    # (an IP address, ...), as Pydantic writes them; anything else raises.
    try:
        return pydantic_core.to_jsonable_python(value)
    except pydantic_core.PydanticSerializationError:
        raise TypeError(f"cannot serialize {type(value).__name__}") from None


def _big_ints(value: Any) -> Any:
    """``value`` with each integer beyond 64 bits as a pre-written JSON number."""
    if isinstance(value, dict):
        return {key: _big_ints(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints(item) for item in value]
    if type(value) is int and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value))
    return value


# UTC as "Z", as Pydantic writes it (orjson would write "+00:00"). A naive datetime is
# UTC (the rule of ormgate.schemas.NaiveUTC) and written so: RFC 3339 wants an offset.
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def dumps(value: Any) -> bytes:
    """JSON bytes of trusted rows: one pass, no second validation."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except orjson.JSONEncodeError:
        # orjson refuses integers beyond 64 bits, which a JSON column may hold; the
        # second pass writes them as they are (and raises again for anything else).
        return orjson.dumps(_big_ints(value), default=_default, option=_OPTIONS)


def etag(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'


def _matches(header: str, tag: str) -> bool:
    # If-None-Match compares weakly; a "W/" prefix does not prevent a match.
    candidates = {t.strip().removeprefix("W/") for t in header.split(",")}
    return "*" in candidates or tag in candidates


def item_response(row: Row, request: Request, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The JSON response for one row, with its ``ETag``; 304 when ``If-None-Match`` matches."""
    body = dumps(row)
    tag = etag(body)
    inm = request.headers.get("if-none-match")
    if status == 200 and request.method == "GET" and inm is not None and _matches(inm, tag):
        return Response(status_code=304, headers={"ETag": tag})
    return Response(body, status_code=status, media_type="application/json", headers={"ETag": tag, **(headers or {})})


def if_match_check(header: str | None) -> Callable[[Row], None] | None:
    """The ``If-Match`` precondition as a check a store runs on the locked row."""
    if header is None:
        return None

    def check(row: Row) -> None:
        tag = etag(dumps(row))
        candidates = {t.strip() for t in header.split(",")}
        if "*" not in candidates and tag not in candidates:
            raise PreconditionFailed(f"If-Match {header} does not match the current ETag {tag}")

    return check
