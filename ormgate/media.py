"""What a list answers in: JSON, or CSV when the client's ``Accept`` prefers it (RFC 9110, section 12.5.1).

A list is one page, at most the resource's maximum ``limit`` of rows, already read; the CSV
is written and sent a chunk of rows at a time. Its cells are the JSON page's values as text:
a string as it is, a number as JSON writes it (a decimal as its string), ``true``/``false``,
an empty cell for null, and a JSON column's object or array as JSON text. Its first line
names the columns, in ``?fields=`` order. The next page's URL is in the ``Link`` header, as
for JSON.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from starlette.responses import StreamingResponse

from .errors import NotAcceptable

JSON = "application/json"
CSV = "text/csv"
# In order of preference when the client likes both equally (or says */*).
LIST_MEDIA = (JSON, CSV)
MAX_ACCEPT = 64  # media ranges read from one Accept header: bounded work whatever a client sends
CHUNK = 100  # rows per chunk of a CSV body


def _ranges(header: str) -> Iterator[tuple[str, float]]:
    """Each media range of an ``Accept`` header with its weight (``q``, 1 when absent; 0 when unreadable)."""
    for part in header.split(",")[:MAX_ACCEPT]:
        media, *params = (p.strip() for p in part.split(";"))
        if not media:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                q = q if 0.0 <= q <= 1.0 else 0.0
        yield media.lower(), q


def _specificity(media_range: str, media_type: str) -> int:
    """How closely a range names a type: 2 exactly, 1 by ``kind/*``, 0 by ``*/*``, -1 not at all."""
    if media_range == media_type:
        return 2
    if media_range == media_type.partition("/")[0] + "/*":
        return 1
    return 0 if media_range == "*/*" else -1


def negotiate(accept: str | None, offered: Sequence[str] = LIST_MEDIA) -> str:
    """The media type to answer in: the most specific range naming it gives its weight, the heaviest wins.

    No ``Accept`` (or an empty one) is the first offered; nothing acceptable is a 406 problem.
    """
    if accept is None or not accept.strip():
        return offered[0]
    weights: dict[str, tuple[int, float]] = {}  # media type -> (specificity of the range that matched, q)
    for media, q in _ranges(accept):
        for candidate in offered:
            specificity = _specificity(media, candidate)
            if specificity >= 0 and specificity >= weights.get(candidate, (-1, 0.0))[0]:
                weights[candidate] = (specificity, q)
    best = max(offered, key=lambda m: (weights.get(m, (-1, 0.0))[1], -offered.index(m)))
    if weights.get(best, (-1, 0.0))[1] <= 0:
        raise NotAcceptable(f"Accept {accept!r} admits none of what a list answers in: {', '.join(offered)}")
    return best


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode()


def csv_response(
    rows: Sequence[Mapping[str, Any]], fields: Sequence[str], dumps: Any, headers: Mapping[str, str]
) -> StreamingResponse:
    """The rows as CSV (RFC 4180, CRLF line ends), header first, written ``CHUNK`` rows at a time.

    ``dumps`` writes rows as the JSON page does, so that every value reads the same in both.
    """

    def chunks() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(fields)
        for start in range(0, max(len(rows), 1), CHUNK):
            values = orjson.loads(dumps([[row[name] for name in fields] for row in rows[start : start + CHUNK]]))
            writer.writerows([_cell(v) for v in row] for row in values)
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()

    return StreamingResponse(chunks(), media_type=f"{CSV}; charset=utf-8", headers=dict(headers))
