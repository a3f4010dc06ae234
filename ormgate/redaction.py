"""Secrets out of the logs: what a request wrote that no client may read never appears in what ormgate logs.

A write's secrets are the values of its fields that are not readable: a
write-only ``password`` and the ``password_hash`` that ``on_write`` makes of
it. The schemas note them (``keep_secret``) in a list that lives as long as the
request (``collecting``); the log of an unexpected error is written with each
of them replaced by ``[redacted]``. Values rather than names, because a
database error can quote a value anywhere: SQLAlchemy lists the statement's
parameters, PostgreSQL's DETAIL the failing row, a driver that binds on the
client (Django's psycopg cursor, PyMySQL) the statement with its values in it.
Parameters are hidden from the log as well, where an adapter says how
(``HIDE_PARAMETERS``): a value longer than SQLAlchemy's 300-character cut
would otherwise show in part.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar, Token
from typing import Any

REDACTED = "[redacted]"
# Shorter values are left alone: replacing "1" or "yes" everywhere would hide the log, not a secret.
MIN_LENGTH = 4
# Any run of this many characters of a secret is hidden wherever it shows (see redact).
PIECE = 8

# None outside a request that may write. A list, so that worker threads (which run in a copy of
# the context) add to the request's own.
_secrets: ContextVar[list[str] | None] = ContextVar("ormgate_secrets", default=None)

# How to hide the bound parameters an error carries; each adapter adds its ORM's.
HIDE_PARAMETERS: list[Callable[[BaseException], None]] = []


def collecting() -> Token[list[str] | None]:
    """Start noting the secrets of the current request; pass the token to ``done``."""
    return _secrets.set([])


def done(token: Token[list[str] | None]) -> None:
    _secrets.reset(token)


def keep_secret(values: Iterable[Any]) -> None:
    """Note ``values`` as secrets of the current request (nothing happens outside one)."""
    secrets = _secrets.get()
    if secrets is not None:
        secrets.extend(v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and not any(current is s for s in seen):
        seen.append(current)
        yield current
        current = current.__cause__ or current.__context__


def _pieces(secret: str) -> set[str]:
    if len(secret) <= PIECE:
        return {secret}
    return {secret[i : i + PIECE] for i in range(len(secret) - PIECE + 1)}


def redact(text: str) -> str:
    """``text`` with every secret of the current request, and any part of one, replaced.

    Parts too: a database may quote a statement cut to a window around the
    error (PostgreSQL's ``LINE 1: ...``), which shows only a piece of a hash.
    Any run of ``PIECE`` characters found in a secret (as written, or as
    ``repr`` escapes it) is hidden, with what it overlaps.
    """
    secrets = {variant for s in _secrets.get() or () for variant in (s, repr(s)[1:-1])}
    if not secrets:
        return text
    pieces = set().union(*map(_pieces, secrets))
    hidden = [False] * len(text)
    for size in {min(PIECE, len(s)) for s in secrets}:
        for start in range(len(text) - size + 1):
            if text[start : start + size] in pieces:
                hidden[start : start + size] = [True] * size
    out: list[str] = []
    for position, char in enumerate(text):
        if not hidden[position]:
            out.append(char)
        elif position == 0 or not hidden[position - 1]:
            out.append(REDACTED)
    return "".join(out)


def redacted_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` (its causes included), with no bound parameter and no secret of the request."""
    for error in _chain(exc):
        for hide in HIDE_PARAMETERS:
            hide(error)
    return redact("".join(traceback.format_exception(exc)).rstrip())
