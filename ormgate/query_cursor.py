"""Cursors: the sort values of a page's last row, signed together with the list's sort and filters.

A cursor is signed with the application's key (``cursor_key``, else ORMGATE_SECRET_KEY) and bound
to its resource's table: one a list did not issue (another list's, another sort or filters,
edited, or signed with a key since changed) is a 404. ``QueryParser`` reads and writes them
through ``CursorSigning``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import TypeAdapter, ValidationError
from pydantic_core import to_json

from .query_errors import _bad, _unknown_cursor

if TYPE_CHECKING:
    from .query import Query

log = logging.getLogger("ormgate")

CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"
_CURSOR = re.compile(CURSOR_PATTERN)


@functools.cache
def _process_key() -> bytes:
    # Once per process, however many resources fall back on it.
    log.warning(
        "no cursor key: set ORMGATE_SECRET_KEY or pass Resource(cursor_key=...); cursors are signed with a "
        "random key made at start-up, so they stop working on a restart and on another worker"
    )
    return os.urandom(32)


def signing_key(given: bytes | str | None = None) -> bytes:
    """The key cursors are signed with: ``given``, else ORMGATE_SECRET_KEY, else a random key for this process."""
    key = given or os.environ.get("ORMGATE_SECRET_KEY")
    if not key:
        return _process_key()
    return key.encode() if isinstance(key, str) else key


class CursorSigning:
    """The cursors of ``QueryParser``: ``_cursor_key`` is its resource's key, ``adapters`` its fields' types."""

    _cursor_key: bytes
    adapters: dict[str, TypeAdapter[Any]]

    def _signature(self, payload: bytes, query: Query) -> bytes:
        sort, filters = [(s.field, s.descending) for s in query.sort], [(f.field, f.op, f.value) for f in query.filters]
        within = [(f.field, f.value) for f in query.within]
        scope = repr((sort, filters, within) if within else (sort, filters))
        return hmac.new(self._cursor_key, payload + scope.encode(), hashlib.sha256).digest()[:16]

    def next_cursor(self, query: Query, last: Mapping[str, Any]) -> str:
        """The opaque cursor that continues ``query`` after the row ``last``."""
        payload = to_json([last[s.field] for s in query.sort])
        token = payload + b"." + base64.urlsafe_b64encode(self._signature(payload, query))
        return base64.urlsafe_b64encode(token).decode().rstrip("=")

    def _read_cursor(self, raw: str, query: Query) -> tuple[Any, ...]:
        if not _CURSOR.fullmatch(raw):
            raise _bad("cursor", "is not a cursor: base64url characters only (A-Z a-z 0-9 - _)")
        try:
            token = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            payload, _, signature = token.rpartition(b".")
            valid = hmac.compare_digest(base64.urlsafe_b64decode(signature), self._signature(payload, query))
            values = orjson.loads(payload) if valid else None
        except (ValueError, orjson.JSONDecodeError):
            values = None
        if not isinstance(values, list) or len(values) != len(query.sort):
            raise _unknown_cursor("is not a cursor of this list with this sort and these filters")
        try:
            return tuple(
                None if v is None else self.adapters[s.field].validate_python(v)
                for s, v in zip(query.sort, values, strict=True)
            )
        except ValidationError:
            # Signed with this key, but before the field's type changed.
            raise _unknown_cursor("does not fit this list's fields") from None
