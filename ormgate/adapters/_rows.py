"""Driver rows (sequences of values) into dicts, by a function written once for the columns.

Per 100-row page of six columns, ``[dict(zip(names, row)) for row in rows]``
took 63 µs and a comprehension over a dict display 24 µs: the display needs no
iterator and no key lookup per value. ``rows_to_dicts`` writes that display for
the columns it is given, with their conversions inline, once per set of
columns; the adapters keep what it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .base import Row

RowsToDicts = Callable[[Iterable[Sequence[Any]]], list[Row]]


def rows_to_dicts(
    names: Sequence[str],
    convert: Mapping[int, Callable[[Any], Any]] | None = None,
    unless: Mapping[int, type[Any]] | None = None,
) -> RowsToDicts:
    """A function turning rows of ``names``'s width into dicts keyed by ``names``.

    ``convert[i]`` is applied to the value in column ``i`` (None included),
    except, where ``unless[i]`` is given, to a value of exactly that type.
    """
    assert names, "a row has a column at least"
    convert, unless = convert or {}, unless or {}
    namespace: dict[str, Any] = {}
    items = []
    for i, name in enumerate(names):
        value = f"v{i}"
        if i in convert:
            namespace[f"c{i}"] = convert[i]
            value = f"c{i}(v{i})"
            if i in unless:
                namespace[f"t{i}"] = unless[i]
                value = f"(v{i} if type(v{i}) is t{i} else c{i}(v{i}))"
        # repr() of a str is a str literal: names never reach the code as anything else.
        items.append(f"{str(name)!r}: {value}")
    unpack = "".join(f"v{i}, " for i in range(len(names)))
    function: RowsToDicts = eval(f"lambda rows: [{{{', '.join(items)}}} for {unpack}in rows]", namespace)
    return function
