"""What a workload's response must hold, checked once per server before it is measured.

Contenders shape their bodies differently (a bare list, ``{"items": [...]}``,
FastCRUD's ``{"data": [...]}``) and spell times differently (``T`` or a space,
an offset or none, microseconds or milliseconds: django-ninja's encoder, Django's,
writes milliseconds); the content must be the same: the rows the harness seeded
(bench/seed.py), computed here from the seed, not read back from the database.
Times are compared to the millisecond. A contender that answers something else
is a failed run, not a number.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from . import seed
from .apps.config import COLUMNS, POST_COLUMNS

# The author embedded in each post: every column of the users table.
AUTHOR_FIELDS = frozenset(COLUMNS)
POST_FIELDS = frozenset({*POST_COLUMNS, "author"})


def expected_posts(users: int, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` posts by id, each with its author, as seeded for ``users`` users."""
    posts: list[dict[str, Any]] = []
    for post in seed.post_rows(users):
        if len(posts) == limit:
            break
        posts.append({name: _time(value) for name, value in zip(POST_COLUMNS, post, strict=True)})
    wanted = {p["author_id"] for p in posts}
    authors = {
        row[0]: {name: _time(value) for name, value in zip(COLUMNS, row, strict=True)}
        for row in seed.rows(users)
        if row[0] in wanted
    }
    return [{**p, "author": authors[p["author_id"]]} for p in posts]


def _time(value: Any) -> Any:
    """A time as one naive UTC datetime to the millisecond, however it is written; any other value as is."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _normal(row: Any, fields: frozenset[str]) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise AssertionError(f"expected an object, got {json.dumps(row)[:200]}")
    if set(row) != fields:
        missing, extra = sorted(fields - set(row)), sorted(set(row) - fields)
        raise AssertionError(f"fields differ: missing {missing}, unexpected {extra}")
    return {name: _time(value) for name, value in row.items()}


def items(body: Any) -> list[Any]:
    """The rows of a list response: a bare list, or the list under ``items`` or ``data``."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("items", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
    raise AssertionError(f"not a list response: {json.dumps(body)[:200]}")


def compare_posts(body: Any, expected: list[dict[str, Any]]) -> None:
    """Raise AssertionError saying where ``body`` differs from ``expected`` (posts with their authors)."""
    rows = items(body)
    if len(rows) != len(expected):
        raise AssertionError(f"{len(rows)} posts, expected {len(expected)}")
    for i, (row, want) in enumerate(zip(rows, expected, strict=True)):
        try:
            got = _normal(row, POST_FIELDS)
            got["author"] = _normal(got["author"], AUTHOR_FIELDS)
        except AssertionError as exc:
            raise AssertionError(f"post #{i + 1}: {exc}") from None
        if got != want:
            diff = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
            raise AssertionError(f"post #{i + 1} (id {want['id']}) differs, (got, expected): {diff}")


def fetch(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def _include(base_url: str, users: int, limit: int) -> None:
    path = f"/posts?include=author&limit={limit}&offset=0&sort=id"  # what bench/lua/include.lua asks
    try:
        compare_posts(fetch(base_url + path), expected_posts(users, limit))
    except (AssertionError, OSError, ValueError) as exc:
        raise RuntimeError(f"GET {path} answered other content: {exc}") from exc


# The workloads whose answers are checked, by name: (base URL, users seeded, the workload's limit).
CHECKS: dict[str, Callable[[str, int, int], None]] = {"include100": _include}


def check(base_url: str, workload: str, users: int, limit: int) -> None:
    """Raise RuntimeError when the server at ``base_url`` answers ``workload`` with other content."""
    if workload in CHECKS:
        CHECKS[workload](base_url, users, limit)
