"""A list request as ORM-neutral data: what every adapter compiles into its ORM's statement.

``Planner.plan(query)`` says everything about the statement of a ``Query``
(see ormgate.query for what a request may ask): the selected columns, the
condition tree (``And``/``Or``/``Not`` over ``Compare``, ``In``, ``IsNull`` and
``Match``) with the keyset condition of a cursor already expanded, the order
with the place of NULLs made explicit, and the page. It depends only on the
query's *shape*: the values a request brings are named by parameters
(``"f0"``, ``"a1"``, ``"limit"``, ...) and given by ``Planner.values(query)``, so
that an adapter can build its statement once per shape and bind each request's
values to it. The rules of docs/query.md live here, once; an adapter only
translates the nodes (see docs/adapters.md).

A column is named by a path, a tuple of names: one field of the model, or a
field reached through relations (``("album", "artist", "name")``), which an
adapter compiles as a correlated ``EXISTS`` (some related row matches; rows are
never duplicated), to-one and to-many alike. Where the query holds conditions on
the related rows themselves (``Query.within``: the read scope of the resource an
include names), such a filter is an ``Across`` per relation instead, those
conditions inside the same ``EXISTS`` as the filter's: some related row *in
scope* matches.

A query with a ``Group`` (the rows of many embedded lists in one statement,
ormgate.relations) plans a ``PerGroup``: rows numbered within each group by a
window function, in a subquery, the page keeping the first of each.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .model import ModelInfo
from .query import Filter, Query, Sort

Path = tuple[str, ...]
PatternKind = Literal["contains", "startswith", "endswith"]


@dataclass(frozen=True, slots=True)
class Compare:
    """``path <op> :param``, ``op`` one of eq, ne, lt, lte, gt, gte.

    ``exact``: text compares code point by code point (a filter's ``eq``/``ne``), even where the
    column's collation ignores case or accents (MariaDB's default, see adapters/_collation.py).
    Without it, as the database orders the column: the keyset condition must agree with ORDER BY.
    ``ne`` follows SQL: a NULL never matches (an ORM that adds ``OR IS NULL`` to a negation must not).
    """

    path: Path
    op: str
    param: str
    exact: bool = False


@dataclass(frozen=True, slots=True)
class In:
    """``path IN :param`` (a tuple of values), ``exact`` as for ``Compare``."""

    path: Path
    param: str
    exact: bool = True


@dataclass(frozen=True, slots=True)
class IsNull:
    """``path IS NULL`` (``null``) or ``IS NOT NULL``: no parameter, the shape of the SQL."""

    path: Path
    null: bool = True


@dataclass(frozen=True, slots=True)
class Match:
    """``path`` matches the text ``:param`` literally (``%``, ``_``, ``*`` are no wildcards).

    ``kind``: where the text is (anywhere, at the start, at the end). ``folded``: case-insensitive,
    by lowering both sides with Unicode rules (``Planner.values`` lowers the text; the column is
    compiled as ``lower(column)``, which on SQLite must be ``fold``, its own lower() knows ASCII
    only) and then comparing exactly: a case-insensitive collation would also ignore accents, and
    ``a`` would match ``ä`` on MariaDB. A case-sensitive match is exact too: code point by code point.
    """

    path: Path
    kind: PatternKind
    folded: bool
    param: str


@dataclass(frozen=True, slots=True)
class And:
    """All of ``items``; no item: true."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of ``items``; no item: false (no row)."""

    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


@dataclass(frozen=True, slots=True)
class Across:
    """Some row related through ``relation`` (a relation of the model the condition is on) meets
    ``where``, whose paths start at the related model: one correlated ``EXISTS``, whatever the
    relation's kind (a many-to-many one through its join table)."""

    relation: str
    where: Condition


Condition = Compare | In | IsNull | Match | And | Or | Not | Across

TRUE = And(())
FALSE = Or(())


@dataclass(frozen=True, slots=True)
class Order:
    """One ORDER BY term. ``nulls``: where NULLs go, "first" or "last"; None where the column has none.

    NULL is the smallest value on every database: first ascending, last descending. PostgreSQL
    sorts it largest unless told; SQLite and MySQL/MariaDB sort it smallest already (an adapter
    says the clause only where its database needs it). None on a NOT NULL column: a NULLS clause
    there would keep PostgreSQL from reading the order off a plain b-tree index.
    """

    path: Path
    descending: bool
    nulls: Literal["first", "last"] | None


@dataclass(frozen=True, slots=True)
class PerGroup:
    """At most ``:param`` rows per value of ``path``: the first of each group in ``order``.

    An adapter compiles it as a subquery of the rows matching ``where``, numbered within each group
    (``ROW_NUMBER() OVER (PARTITION BY path ORDER BY order)``, which SQLite 3.25+, PostgreSQL and
    MariaDB 10.2+ have), around which the page keeps those numbered up to ``:param``, then orders
    and limits as for any page. The plan's ``columns`` hold the ``order`` of the page, so that the
    outer statement orders by the subquery's own columns.
    """

    path: Path
    order: tuple[Order, ...]
    param: str = "group_limit"


@dataclass(frozen=True, slots=True)
class Plan:
    """The statement of one query shape. ``where`` selects the matching rows (what a count counts);
    the page adds ``after`` (the keyset condition of a cursor, or None), orders by ``order`` and
    takes at most ``:limit`` rows after ``:offset`` of them (no OFFSET when ``offset`` is False)."""

    columns: tuple[str, ...]
    where: And
    after: Condition | None
    order: tuple[Order, ...]
    offset: bool
    count: bool
    # Parameters whose text is a pattern's, and its kind: an adapter writing the pattern itself
    # (LIKE, GLOB) makes it with PatternSyntax.pattern.
    patterns: tuple[tuple[str, PatternKind], ...] = field(default=())
    # The first rows of each group only (a query's ``Group``), or None: every matching row.
    group: PerGroup | None = None


# -- the rules -------------------------------------------------------------------------------------

# Filter operator -> (kind, folded). ``iendswith`` is no operator of the query language.
_MATCHES: dict[str, tuple[PatternKind, bool]] = {
    "contains": ("contains", False),
    "startswith": ("startswith", False),
    "endswith": ("endswith", False),
    "icontains": ("contains", True),
    "istartswith": ("startswith", True),
}
_COMPARISONS = frozenset({"eq", "ne", "lt", "lte", "gt", "gte"})


def fold(value: str | None) -> str | None:
    """Case folding for ``Match(folded=True)``, on both sides: Python's Unicode-aware ``lower``.

    Adapters register it as SQLite's ``lower`` (or a function of their own name), whose own
    folds ASCII only: ``ÄRG`` would not find ``ärger`` there, as it does on PostgreSQL and MariaDB.
    """
    return None if value is None else value.lower()


def filter_path(info: ModelInfo, name: str) -> Path:
    """The path of a filter's field: one field of the model, or ``author__username`` through relations."""
    return (name,) if name in info.by_name else tuple(name.split("__"))


def _condition(info: ModelInfo, f: Filter, param: str) -> Compare | In | IsNull | Match:
    path = filter_path(info, f.field)
    if f.op in _COMPARISONS:
        return Compare(path, f.op, param, exact=True)
    if f.op == "in":
        return In(path, param)
    if f.op == "isnull":
        return IsNull(path, bool(f.value))
    kind, folded = _MATCHES[f.op]
    return Match(path, kind, folded, param)


def _across(info: ModelInfo, f: Filter, param: str, within: Mapping[Path, tuple[Condition, ...]]) -> Condition:
    """A filter's condition; through relations whose rows ``within`` holds conditions on, nested
    ``Across``, each level's conditions beside the rest of the path in its ``EXISTS``."""
    leaf = _condition(info, f, param)
    *relations, last = leaf.path
    if not any(tuple(relations[: i + 1]) in within for i in range(len(relations))):
        return leaf  # one path, compiled as an EXISTS per relation
    condition: Condition = replace(leaf, path=(last,))
    for i in reversed(range(len(relations))):
        scoped = within.get(tuple(relations[: i + 1]), ())
        condition = Across(relations[i], And((condition, *scoped)) if scoped else condition)
    return condition


def _within(query: Query) -> dict[Path, tuple[Condition, ...]]:
    """``query.within`` by relation path, each an exact equality on the related row (``w<i>``)."""
    found: dict[Path, tuple[Condition, ...]] = {}
    for i, f in enumerate(query.within):
        *relations, name = f.field.split("__")
        found[tuple(relations)] = (*found.get(tuple(relations), ()), Compare((name,), "eq", f"w{i}", exact=True))
    return found


def _after(info: ModelInfo, sort: tuple[Sort, ...], nulls: tuple[bool, ...]) -> Condition:
    """Rows strictly after the ``a<i>`` parameters in the order of ``sort``, NULL being the smallest value.

    ``nulls`` says which of those values are NULL: that changes the condition's shape (``IS NULL``
    where ``= :a<i>`` would never be true). The exact condition is an OR over the keys: the keys
    before this one equal, this one beyond.
    """
    branches: list[Condition] = []
    equal: list[Condition] = []
    for i, (key, null) in enumerate(zip(sort, nulls, strict=True)):
        path, param = (key.field,), f"a{i}"
        nullable = info.by_name[key.field].nullable
        beyond: Condition | None
        if not key.descending:
            # After NULL, ascending, come the non-NULL values.
            beyond = IsNull(path, False) if null else Compare(path, "gt", param)
        elif null:
            beyond = None  # nothing is smaller than NULL
        elif nullable:
            beyond = Or((Compare(path, "lt", param), IsNull(path)))
        else:
            beyond = Compare(path, "lt", param)
        if beyond is not None:
            branches.append(And((*equal, beyond)) if equal else beyond)
        equal.append(IsNull(path) if null else Compare(path, "eq", param))
    if not branches:
        return FALSE
    # The OR is exact but opaque to index range scans; the bound on the first key, implied by
    # it, lets the database seek in an index on that key at any depth.
    bound = _first_key_bound(info, sort[0], nulls[0])
    keyset = branches[0] if len(branches) == 1 else Or(tuple(branches))
    return keyset if bound is None else And((bound, keyset))


def _first_key_bound(info: ModelInfo, key: Sort, null: bool) -> Condition | None:
    path = (key.field,)
    if not key.descending:
        return None if null else Compare(path, "gte", "a0")  # after NULL ascending: any row
    if null:
        return IsNull(path)
    if info.by_name[key.field].nullable:
        return Or((Compare(path, "lte", "a0"), IsNull(path)))
    return Compare(path, "lte", "a0")


def _order(info: ModelInfo, key: Sort) -> Order:
    nullable = info.by_name[key.field].nullable
    return Order((key.field,), key.descending, ("last" if key.descending else "first") if nullable else None)


def shape(query: Query) -> Hashable:
    """What the plan of ``query`` depends on: its values aside, but for those that shape the SQL
    (``isnull``'s, and which cursor values are NULL)."""
    return (
        query.fields,
        query.sort,
        tuple((f.field, f.op, f.value if f.op == "isnull" else None) for f in query.filters),
        None if query.after is None else tuple(v is None for v in query.after),
        bool(query.offset),
        query.count,
        None if query.group is None else query.group.field,
        tuple(f.field for f in query.within),
    )


class Planner:
    """The plans of one model's lists, built once per query shape."""

    def __init__(self, info: ModelInfo, size: int = 512) -> None:
        self.info = info
        self.size = size
        self.plans: dict[Hashable, Plan] = {}

    def plan(self, query: Query, key: Hashable | None = None) -> Plan:
        """The plan of ``query`` (``key``: its ``shape``, if already known)."""
        key = shape(query) if key is None else key
        found = self.plans.get(key)
        if found is None:
            if len(self.plans) >= self.size:  # shapes come from clients: bounded, starts over when full
                self.plans.clear()
            found = self.plans[key] = self.build(query)
        return found

    def build(self, query: Query) -> Plan:
        within = _within(query)
        where = And(tuple(_across(self.info, f, f"f{i}", within) for i, f in enumerate(query.filters)))
        after = None
        if query.after is not None:
            after = _after(self.info, query.sort, tuple(v is None for v in query.after))
        patterns = tuple((f"f{i}", _MATCHES[f.op][0]) for i, f in enumerate(query.filters) if f.op in _MATCHES)
        order = tuple(_order(self.info, key) for key in query.sort)
        return Plan(
            columns=query.fields,
            where=where,
            after=after,
            order=order,
            offset=bool(query.offset),
            count=query.count,
            patterns=patterns,
            group=None if query.group is None else self._group(query, order),
        )

    def _group(self, query: Query, order: tuple[Order, ...]) -> PerGroup:
        group = query.group
        assert group is not None
        if query.after is not None or query.offset or query.count:
            raise ValueError("a query with a Group has no cursor, offset or count")
        if group.field not in self.info.by_name:
            raise ValueError(f"{self.info.name} has no field {group.field!r} to group by")
        missing = [key.field for key in query.sort if key.field not in query.fields]
        if missing:
            raise ValueError(f"a query with a Group selects the fields it sorts by; missing: {missing}")
        # Within a group its own column is one value: ordering by it would change nothing.
        return PerGroup((group.field,), tuple(term for term in order if term.path != (group.field,)))

    @staticmethod
    def values(query: Query) -> dict[str, Any]:
        """The values of the plan's parameters for this request.

        ``limit`` is one more than the page size: the extra row says whether there is a next page.
        """
        values: dict[str, Any] = {"limit": query.limit + 1, "offset": query.offset}
        for i, f in enumerate(query.filters):
            value = f.value
            if f.op in _FOLDED:
                value = fold(value)
            values[f"f{i}"] = value
        if query.after is not None:
            for i, value in enumerate(query.after):
                values[f"a{i}"] = value
        if query.group is not None:
            values["group_limit"] = query.group.limit
        for i, f in enumerate(query.within):
            values[f"w{i}"] = f.value
        return values


_FOLDED = frozenset(op for op, (_, folded) in _MATCHES.items() if folded)


@dataclass(frozen=True, slots=True)
class PatternSyntax:
    """How a database's pattern operator is written, for an adapter that writes the pattern itself.

    ``escapes`` make every character of the text literal. LIKE's escape is ``!`` rather than a
    backslash: the same in every SQL dialect, whatever its string-literal rules. SQLite's GLOB
    (case-sensitive where its LIKE ignores ASCII case) has no escape: a bracket holds the character.
    """

    operator: str
    wildcard: str
    escapes: Mapping[int, str]  # for str.translate
    escape: str | None = None  # the ESCAPE character, for ``LIKE ... ESCAPE '!'``

    def pattern(self, kind: PatternKind, text: str) -> str:
        """The pattern matching ``text`` literally where ``kind`` says."""
        wild = self.wildcard
        before = wild if kind != "startswith" else ""
        after = wild if kind != "endswith" else ""
        return f"{before}{text.translate(self.escapes)}{after}"


LIKE = PatternSyntax("LIKE", "%", str.maketrans({"!": "!!", "%": "!%", "_": "!_"}), escape="!")
GLOB = PatternSyntax("GLOB", "*", str.maketrans({"*": "[*]", "?": "[?]", "[": "[[]"}))
