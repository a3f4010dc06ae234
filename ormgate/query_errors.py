"""The errors a list's query string raises, each naming its parameter as the problem document shows it.

A 400 (``BadQuery``) for a parameter the list does not take or a cap exceeded; a 404 for a cursor
this list did not issue; a 422 located in the query, as FastAPI locates a bad query parameter of
its own, for a value that does not validate.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi.exceptions import RequestValidationError

from .errors import BadQuery, NotFound


def _bad(parameter: str, message: str, allowed: Iterable[str] = ()) -> BadQuery:
    listed = sorted(allowed)
    detail = f"{parameter}: {message}" + (f"; allowed: {', '.join(listed)}" if listed else "")
    error: dict[str, Any] = {"field": parameter, "message": message}
    if listed:
        error["allowed"] = listed
    return BadQuery(detail, field=parameter, errors=[error])


def _unknown_cursor(message: str) -> NotFound:
    # Well formed, but no page of this list: the cursor was not issued by it (another list's, another
    # sort or filters, edited, or signed with a key since changed). Like an id no row has, a 404.
    error = {"field": "cursor", "message": message}
    return NotFound(f"cursor: {message}", field="cursor", errors=[error])


def _over(parameter: str, message: str, maximum: int) -> BadQuery:
    error = {"field": parameter, "message": message, "maximum": maximum}
    return BadQuery(f"{parameter}: {message}", field=parameter, errors=[error])


def _invalid(parameter: str, message: str, type_: str) -> RequestValidationError:
    # Located in the query, as FastAPI locates a bad query parameter it validates itself,
    # so that install_problem_handlers gives it the shape of a bad body.
    return RequestValidationError([{"type": type_, "loc": ("query", parameter), "msg": message}])
