"""Database errors at the SQLAlchemy adapter's boundary: translated to ormgate's, their parameters hidden, retried."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import sqlalchemy as sa

from .. import redaction
from ._drivers import classify, unwrapped_unavailable

# What may reach an adapter's boundary from the database: the driver's errors wrapped by
# SQLAlchemy, the pool's timeout, and a socket error a driver raises as it is (asyncpg's
# connection refused).
_DATABASE_ERRORS = (sa.exc.DBAPIError, sa.exc.TimeoutError, OSError)


@contextlib.contextmanager
def _translated(constraint_fields: dict[str, str], *, deleting: bool = False) -> Iterator[None]:
    try:
        yield
    except _DATABASE_ERRORS as exc:
        error = classify(exc, constraint_fields, deleting=deleting)
        if error is None:
            raise
        raise error from exc
    except Exception as exc:
        # A driver's own error that SQLAlchemy let through unwrapped: asyncpg's "connection is
        # closed" reached a session route whose connection the server ended (seen under load,
        # never in isolation). Only an unavailable database is translated; anything else is not ours.
        error = unwrapped_unavailable(exc)
        if error is None:
            raise
        raise error from exc


def _pool_timeout(exc: sa.exc.TimeoutError) -> Exception:
    """The 503 for a fast read that found no pooled connection in time."""
    error = classify(exc)
    return exc if error is None else error


def _hide_parameters(exc: BaseException) -> None:
    # A StatementError writes its statement's bound parameters (a password's hash among them) into its text.
    if isinstance(exc, sa.exc.StatementError):
        exc.hide_parameters = True


redaction.HIDE_PARAMETERS.append(_hide_parameters)


def _retry(exc: sa.exc.DBAPIError, attempt: int, committing: bool) -> bool:
    # SQLAlchemy flags an error that showed the connection was dead, and then
    # recycles every older pooled connection. Found before COMMIT, nothing was
    # written, so the unit of work runs once more on a fresh connection; a drop
    # during COMMIT is not retried, since the write may have landed.
    return attempt == 0 and exc.connection_invalidated and not committing
