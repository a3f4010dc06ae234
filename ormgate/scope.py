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

import functools
from collections.abc import Callable, Collection, Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .model import ModelInfo
from .plan import And, Compare
from .query import Filter

if TYPE_CHECKING:
    from .adapters.base import ShapeCache

T = TypeVar("T")

# Parameter names of a scope's conditions, apart from the plan's and the statements' own.
_PARAM = "ormgate_s{}"
FIRST = _PARAM.format(0)  # the parameter of a one-name scope's condition
_NONE: frozenset[str] = frozenset()


@dataclass(slots=True, init=False)
class Scope:
    """The rows of one request: those whose fields equal ``where``; ``values`` fixed on the rows it writes.

    ``values`` defaults to ``where``: a row created or changed in a scope stays in it. ``hidden``
    and ``read_only`` name fields this request may not see or write, and may not write: they must be
    among the resource's ``restricted`` fields (the OpenAPI document shows those as optional).
    A scope is made for one request and read by every operation of it: do not change it after.
    """

    where: Mapping[str, Any]
    values: Mapping[str, Any] | None
    hidden: frozenset[str]
    read_only: frozenset[str]

    # Made on every scoped request: plain attributes, not a frozen dataclass's object.__setattr__
    # each (half a µs a scope, a tenth of what a scoped GET may cost over an unscoped one).
    def __init__(
        self,
        where: Mapping[str, Any] | None = None,
        values: Mapping[str, Any] | None = None,
        hidden: Collection[str] = _NONE,
        read_only: Collection[str] = _NONE,
    ) -> None:
        self.where = {} if where is None else where
        self.values = values
        if not hidden and not read_only:  # the usual scope
            self.hidden = self.read_only = _NONE
            return
        self.hidden = frozenset(hidden)
        self.read_only = frozenset(read_only) | self.hidden

    @property
    def fixed(self) -> Mapping[str, Any]:
        return self.where if self.values is None else self.values

    def check(self, info: ModelInfo, restricted: Collection[str] = ()) -> None:
        """Raises ``ValueError`` naming a field ``info`` does not have, or hidden and not ``restricted``:
        a programming error, a 500."""
        # Asked on every scoped request: the cheap comparisons first, the message only when one fails.
        known = info.by_name
        for name in self.where if self.values is None else (*self.where, *self.values):
            if name not in known:
                unknown = sorted({*self.where, *self.fixed} - set(known))
                raise ValueError(f"scope names fields {info.name} does not have: {', '.join(unknown)}")
        if self.hidden and not set(restricted).issuperset(self.hidden):
            unrestricted = sorted(set(self.hidden) - set(restricted))
            raise ValueError(f"scope hides {info.name} fields not restricted= on the resource: {unrestricted}")

    def filters(self) -> tuple[Filter, ...]:
        """``where`` as a list's filters: conditions of the plan, in a fixed order (the shape does not vary)."""
        return tuple(Filter(name, "eq", self.where[name]) for name in shape(self.where))


def condition(where: Mapping[str, Any]) -> tuple[And, dict[str, Any]]:
    """``where`` as a plan condition (exact equalities, one parameter each) and the parameters' values.

    The condition depends only on ``shape(where)``: an adapter builds its statement once per shape.
    """
    params = _order(tuple(where))[1]
    items = tuple(Compare((name,), "eq", param, exact=True) for param, name in params)
    return And(items), {param: where[name] for param, name in params}


@functools.lru_cache(maxsize=256)
def _order(names: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The shape of a scope whose ``where`` has ``names`` (in its own order), and its parameters' names.

    Asked on every scoped statement: a scope's names are fields of its model (``Scope.check``), few.
    """
    ordered = tuple(sorted(names))
    return ordered, tuple((_PARAM.format(i), name) for i, name in enumerate(ordered))


def built(
    cache: ShapeCache[T], kind: Hashable, where: Mapping[str, Any], build: Callable[..., T], *args: Any
) -> tuple[T, dict[str, Any]]:
    """What ``build(*args)`` made for ``where``'s shape (a statement with ``condition(where)``), kept in
    ``cache`` under ``(kind, shape(where))``, and the values of the condition's parameters (a new dict,
    the caller's to add to).

    Asked on every scoped statement. An adapter first looks the usual scope's up itself, without a
    call (a tenth of what a scope costs a GET): one name, under ``(kind, (name,))``, its value bound
    to ``FIRST``.
    """
    names, params = _order(tuple(where))
    return cache.get((kind, names), build, *args), {param: where[name] for param, name in params}


def shape(where: Mapping[str, Any] | None) -> tuple[str, ...]:
    """What a scoped statement depends on: the names of the scope's fields."""
    return () if not where else _order(tuple(where))[0]
