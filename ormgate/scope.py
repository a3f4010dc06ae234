"""Which rows a request may see and change: a scope, the fixed equalities a resource adds to its every statement.

A resource given ``scope=`` (a FastAPI dependency) asks it for each request's
``Scope``; ``None`` means the request is unscoped (an administrator). The
scope's ``where`` becomes conditions of the statement itself: the list's plan
(as filters the client cannot remove, so counts and cursors obey it), and the
row read or locked by key for a GET, PUT, PATCH or DELETE, so that a row out of
scope is a 404 decided in the statement or lock that writes, never raced. A
create or update gets ``values`` (by default ``where``'s): a client sending a
different value for one of those fields is answered 422. ``hidden`` fields are
neither readable nor writable for the request, and vanish from its responses,
``?fields=``, filters, sorts and error messages; ``read_only`` ones are readable
only. See docs/scoping.md.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import ModelInfo
from .plan import And, Compare
from .query import Filter

# Parameter names of a scope's conditions, apart from the plan's and the statements' own.
_PARAM = "ormgate_s{}"
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Scope:
    """The rows of one request: those whose fields equal ``where``; ``values`` fixed on the rows it writes.

    ``values`` defaults to ``where``: a row created or changed in a scope stays in it. ``hidden``
    and ``read_only`` name fields this request may not see or write, and may not write: they must be
    among the resource's ``restricted`` fields (the OpenAPI document shows those as optional).
    """

    where: Mapping[str, Any] = field(default_factory=dict)
    values: Mapping[str, Any] | None = None
    hidden: Collection[str] = frozenset()
    read_only: Collection[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.hidden and not self.read_only:  # the usual scope, made on every request: kept short
            object.__setattr__(self, "hidden", _NONE)
            object.__setattr__(self, "read_only", _NONE)
            return
        object.__setattr__(self, "hidden", frozenset(self.hidden))
        object.__setattr__(self, "read_only", frozenset(self.read_only) | frozenset(self.hidden))

    @property
    def fixed(self) -> Mapping[str, Any]:
        return self.where if self.values is None else self.values

    def check(self, info: ModelInfo, restricted: Collection[str] = ()) -> None:
        """Raises ``ValueError`` naming a field ``info`` does not have, or hidden and not ``restricted``:
        a programming error, a 500."""
        # Asked on every scoped request: the cheap comparisons first, the message only when one fails.
        known = info.by_name.keys()
        if not (self.where.keys() <= known and self.fixed.keys() <= known):
            unknown = sorted({*self.where, *self.fixed} - set(known))
            raise ValueError(f"scope names fields {info.name} does not have: {', '.join(unknown)}")
        if self.hidden and not set(restricted).issuperset(self.hidden):
            unrestricted = sorted(set(self.hidden) - set(restricted))
            raise ValueError(f"scope hides {info.name} fields not restricted= on the resource: {unrestricted}")

    def filters(self) -> tuple[Filter, ...]:
        """``where`` as a list's filters: conditions of the plan, in a fixed order (the shape does not vary)."""
        return tuple(Filter(name, "eq", self.where[name]) for name in sorted(self.where))


def condition(where: Mapping[str, Any]) -> tuple[And, dict[str, Any]]:
    """``where`` as a plan condition (exact equalities, one parameter each) and the parameters' values.

    The condition depends only on ``shape(where)``: an adapter builds its statement once per shape.
    """
    names = sorted(where)
    items = tuple(Compare((name,), "eq", _PARAM.format(i), exact=True) for i, name in enumerate(names))
    return And(items), {_PARAM.format(i): where[name] for i, name in enumerate(names)}


def parameters(where: Mapping[str, Any]) -> dict[str, Any]:
    """``condition(where)``'s parameter values alone, for a statement already built for ``shape(where)``."""
    return {_PARAM.format(i): where[name] for i, name in enumerate(sorted(where))}


def shape(where: Mapping[str, Any] | None) -> tuple[str, ...]:
    """What a scoped statement depends on: the names of the scope's fields."""
    return () if not where else tuple(sorted(where))
