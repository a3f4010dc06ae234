"""ormgate's errors. Each carries its HTTP status; adapters raise them, never HTTP.

OrmgateError (500)
├── BadQuery (400)            bad parameter, field, operator or sort key; a limit exceeded; a foreign cursor
├── NotFound (404)            no row with that primary key
├── Conflict (409)            the database refused the write
│   ├── UniqueViolation       a unique value is taken
│   └── ForeignKeyViolation   a referenced row is missing, or a row is still referenced
├── NotAcceptable (406)       Accept admits none of the media types a list answers in
├── PreconditionFailed (412)  If-Match does not match the current ETag
├── UnsupportedMediaType (415) a write's body is not sent as JSON
├── InvalidData (422)         the database refused a value (NOT NULL, CHECK, too long)
└── Unavailable (503)         the database is unreachable, dropped the connection, is busy, or no
                              connection freed up within the bounded wait; answered with Retry-After
"""

from __future__ import annotations

from typing import Any, ClassVar


class OrmgateError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, *, field: str | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.errors = errors


class BadQuery(OrmgateError):
    status = 400
    title = "Bad Request"


class NotFound(OrmgateError):
    status = 404
    title = "Not Found"


class Conflict(OrmgateError):
    status = 409
    title = "Conflict"


class UniqueViolation(Conflict):
    pass


class ForeignKeyViolation(Conflict):
    pass


class NotAcceptable(OrmgateError):
    status = 406
    title = "Not Acceptable"


class PreconditionFailed(OrmgateError):
    status = 412
    title = "Precondition Failed"


class UnsupportedMediaType(OrmgateError):
    status = 415
    title = "Unsupported Media Type"


class InvalidData(OrmgateError):
    status = 422
    title = "Unprocessable Content"


class Unavailable(OrmgateError):
    """The database cannot serve the request now; the client may retry after ``retry_after`` seconds.

    ``retry_after`` None: the app's default (``install_problem_handlers(app, retry_after=...)``).
    """

    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra."""
