"""Related rows embedded in a resource's rows: ``?include=author,comments.author`` (docs/relationships.md).

A resource declares which relation paths a client may include, and for each
the read schema of the embedded rows and how many rows an embedded list may
hold. Loading is ORM-neutral: each included relation is read with one batched
``IN`` query through the target model's own ``Store.list`` (the plan every
adapter already compiles), whatever the page size and however long the lists
(a list's first rows are kept per key by the query's ``Group``); a nested
relation is read the same way from the rows of its parent relation. A
many-to-one relation embeds an object or null, a one-to-many one a list
ordered by primary key. An include that names the target's ``Resource`` reads
as that resource does for the request: its read scope's conditions join the
batched query (rows out of scope are not embedded), its hidden fields are
neither shown nor selectable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import pydantic

from .adapters.base import Adapter, Row, Store
from .errors import BadQuery
from .model import FieldInfo, ModelInfo, RelationInfo
from .query import MAX_OFFSET, Filter, Group, Query, Sort
from .schemas import ModelSchemas, derive
from .scope import Scope

if TYPE_CHECKING:
    from .resource import Resource

DEFAULT_MAX_ITEMS = 20


@dataclass(frozen=True, slots=True)
class Include:
    """How one relation path may be embedded.

    ``resource``: the target's own ``Resource``, which then serves the embedded rows as its own
    reads: its read schema, its read ``scope`` for the request (rows out of it are left out) and
    that scope's hidden fields; a filter across the relation obeys that scope's hidden fields too.
    Otherwise ``schemas`` says what the embedded rows show: by default **every field of the
    target**, whatever another resource of the target hides (docs/relationships.md).
    ``max_items``: the most rows an embedded list holds (its first ones by primary key); for a
    to-one relation it has no use.
    """

    schemas: ModelSchemas | None = None
    max_items: int = DEFAULT_MAX_ITEMS
    resource: Resource | None = None

    def __post_init__(self) -> None:
        if self.max_items < 1:
            raise ValueError("Include.max_items must be at least 1")
        if self.resource is not None and self.schemas is not None:
            raise ValueError("Include: give the resource (whose schemas it uses) or schemas, not both")


@dataclass(slots=True)
class _Node:
    """One includable relation: how to read it and what may be included under it."""

    relation: RelationInfo
    info: ModelInfo
    schemas: ModelSchemas
    store: Store
    max_items: int
    # The target's resource, whose read scope the embedded rows obey; None: every row, every field.
    resource: Resource | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    # A many-to-many relation's join model, read for the pairs before the targets.
    through: tuple[Store, ModelInfo] | None = None

    @property
    def readable(self) -> tuple[str, ...]:
        return self.schemas.read_fields


@dataclass(frozen=True, slots=True)
class Embedding:
    """What one request includes: relation name -> (fields shown, what is included under it, the
    filters of the target's scope)."""

    items: Mapping[str, tuple[tuple[str, ...], Embedding, tuple[Filter, ...]]]


# The scopes of one request's included resources, by relation path ("comments.author"): only those
# whose resource has a scope for it (None, an unscoped request, is left out).
Scopes = Mapping[str, Scope]


NONE = Embedding({})


def _bad(parameter: str, message: str, allowed: Sequence[str] = ()) -> BadQuery:
    """A 400 naming the parameter, as ormgate.query words its own."""
    error: dict[str, Any] = {"field": parameter, "message": message}
    if allowed:
        error["allowed"] = sorted(allowed)
    detail = f"{parameter}: {message}" + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else "")
    return BadQuery(detail, field=parameter, errors=[error])


def _relation(info: ModelInfo, name: str, path: str) -> RelationInfo:
    found = next((r for r in info.relations if r.name == name), None)
    if found is None:
        known = ", ".join(r.name for r in info.relations) or "none"
        raise ValueError(f"{info.name} has no relation {name!r} (in path {path!r}); its relations: {known}")
    return found


class Includes:
    """The includable relation paths of one resource, parsed and loaded."""

    def __init__(
        self,
        info: ModelInfo,
        adapter: Adapter,
        declared: Mapping[str, Include | int | None] | Collection[str],
    ) -> None:
        self.info = info
        self.roots: dict[str, _Node] = {}
        items = declared.items() if isinstance(declared, Mapping) else ((path, None) for path in declared)
        # Parents before children, whatever the order declared.
        for path, option in sorted(items, key=lambda item: item[0].count(".")):
            include = option if isinstance(option, Include) else Include(max_items=option or DEFAULT_MAX_ITEMS)
            *parents, name = path.split(".")
            level, owner = self.roots, info
            for i, parent in enumerate(parents):
                node = level.get(parent)
                if node is None:
                    raise ValueError(f"include path {path!r}: declare {'.'.join(parents[: i + 1])!r} too")
                level, owner = node.children, node.info
            relation = _relation(owner, name, path)
            target = adapter.describe(relation.target)
            resource = include.resource
            if resource is not None and resource.info.table != target.table:
                raise ValueError(
                    f"include path {path!r} reaches {target.name}, not the resource's {resource.info.name}"
                )
            schemas = include.schemas or (resource.schemas if resource is not None else derive(target))
            # The store may read any column (the keys of nested relations), and shows only those asked.
            store = adapter.store(relation.target, [f.name for f in target.fields])
            level[name] = node = _Node(relation, target, schemas, store, include.max_items, resource)
            if relation.kind == "many_to_many":
                through = adapter.describe(relation.through)
                node.through = (adapter.store(relation.through, [f.name for f in through.fields]), through)
        self.paths = tuple(sorted(self._paths(self.roots, "")))
        # The paths whose rows a resource with a read scope serves: the request must solve those scopes.
        self.scoped: dict[str, Resource] = {
            path: node.resource
            for path, node in self._nodes("", self.roots)
            if node.resource is not None and node.resource.scope is not None
        }

    @property
    def dependencies(self) -> tuple[Callable[..., Any], ...]:
        """The scope dependencies of the included resources, each once."""
        return tuple(dict.fromkeys(r.scope for r in self.scoped.values() if r.scope is not None))

    def _paths(self, level: Mapping[str, _Node], prefix: str) -> list[str]:
        found = []
        for name, node in level.items():
            found.append(prefix + name)
            found.extend(self._paths(node.children, f"{prefix}{name}."))
        return found

    # -- the request's include= and the dotted names of its fields= -------------------------------

    def split(self, raw: bytes, cap: int, scopes: Scopes) -> tuple[Embedding, list[tuple[str, str]]]:
        """What a query string (at most ``cap`` bytes) includes, and its other parameters (for QueryParser)."""
        if len(raw) > cap:
            message = f"{len(raw)} bytes, at most {cap}"
            raise BadQuery(
                f"query_string: {message}",
                field="query_string",
                errors=[{"field": "query_string", "message": message, "maximum": cap}],
            )
        items = parse_qsl(raw.decode("latin-1"), keep_blank_values=True)  # as Starlette parses it
        include = [v for k, v in items if k == "include"]
        if len(include) > 1:
            raise _bad("include", "given more than once")
        rest: list[tuple[str, str]] = []
        dotted: list[str] = []
        for key, value in items:
            if key == "fields":
                names = value.split(",")
                dotted += [n for n in names if "." in n]
                # Once each: the document admits as many names as there are, embedded ones included.
                plain = list(dict.fromkeys(n for n in names if "." not in n))
                # Only embedded fields asked for: the row shows its own fields all the same.
                if plain or not dotted:
                    rest.append((key, ",".join(plain)))
            elif key != "include":
                rest.append((key, value))
        return self.parse(include[0] if include else None, dotted, scopes), rest

    def parse(self, include: str | None, dotted: Sequence[str], scopes: Scopes) -> Embedding:
        """The ``Embedding`` a request asks for; a path not declared, or a field not readable, is a 400.

        A field of an embedded row (``author.username``) includes its relation, ``include=`` or not.
        A field the path's scope hides is not readable: refused as one the target does not have.
        """
        paths = [] if include is None else include.split(",")
        if include is not None and (not include or len(paths) > len(self.paths)):
            raise _bad("include", f"give 1 to {len(self.paths)} relation paths", self.paths)
        for path in paths:
            if path not in self.paths:
                raise _bad("include", f"cannot include {path!r}", self.paths)
        for name in dotted:
            if name.rpartition(".")[0] not in self.paths:
                raise _bad("fields", f"{name!r} is in no relation that may be included", self.paths)
        tree: dict[str, Any] = {}
        for path in [*paths, *(name.rpartition(".")[0] for name in dotted)]:
            level = tree
            for name in path.split("."):
                level = level.setdefault(name, {})
        chosen: dict[str, list[str]] = {}
        for name in dotted:
            path, _, leaf = name.rpartition(".")
            level, nodes = tree, self.roots
            node: _Node | None = None
            for part in path.split("."):
                if part not in level or part not in nodes:
                    raise _bad("fields", f"{name!r} is in no included relation")
                level, node = level[part], nodes[part]
                nodes = node.children
            assert node is not None
            readable = _readable(node, scopes.get(path))
            if leaf not in readable:
                raise _bad("fields", f"cannot use {name!r}", [f"{path}.{f}" for f in readable])
            chosen.setdefault(path, []).append(leaf)
        return self._embedding(tree, self.roots, "", chosen, scopes)

    def _embedding(
        self,
        tree: Mapping[str, Any],
        nodes: Mapping[str, _Node],
        prefix: str,
        chosen: Mapping[str, list[str]],
        scopes: Scopes,
    ) -> Embedding:
        items = {}
        for name, below in tree.items():
            node = nodes[name]
            path = prefix + name
            scope = scopes.get(path)
            shown = tuple(dict.fromkeys(chosen[path])) if path in chosen else _readable(node, scope)
            filters = () if scope is None else scope.filters()
            items[name] = (shown, self._embedding(below, node.children, path + ".", chosen, scopes), filters)
        return Embedding(items)

    def within(self, across: Collection[str], scopes: Scopes) -> tuple[Filter, ...]:
        """The conditions that keep the filters ``across`` relations (``comments__body``) to related
        rows in their scope: the scope's equalities on each relation of the path (``comments__team``),
        as ``Query.within``, compiled inside the same ``EXISTS`` as the filter (ormgate.plan.Across).

        To-one and to-many alike: a post has comments of many teams, and only one in scope counts.
        """
        found: dict[str, Any] = {}
        for name in across:
            level, relations = self.roots, name.split("__")[:-1]
            for i, relation in enumerate(relations):
                node = level.get(relation)
                if node is None:
                    break
                scope = scopes.get(".".join(relations[: i + 1]))
                for field_name, value in ({} if scope is None else scope.where).items():
                    found["__".join([*relations[: i + 1], field_name])] = value
                level = node.children
        # In a fixed order: the statement's shape depends on the names alone.
        return tuple(Filter(path, "eq", found[path]) for path in sorted(found))

    def hidden_across(self, across: Collection[str], scopes: Scopes) -> frozenset[str]:
        """The filters across relations (``author__email``) whose field the scope of their relation path hides."""
        hidden: set[str] = set()
        for name in across:
            *relations, last = name.split("__")
            scope = scopes.get(".".join(relations))
            if scope is not None and last in scope.hidden:
                hidden.add(name)
        return frozenset(hidden)

    def keys(self, embedding: Embedding) -> tuple[str, ...]:
        """The fields of the resource's rows that its included relations start from."""
        return tuple(self.roots[name].relation.local for name in embedding.items)

    # -- the OpenAPI document ----------------------------------------------------------------------

    def read_model(
        self, read: type[pydantic.BaseModel], selectable: Callable[[type[pydantic.BaseModel]], type[pydantic.BaseModel]]
    ) -> type[pydantic.BaseModel]:
        """``read`` with each includable relation as an optional field: an object or null, or a list.

        ``selectable`` makes a row model whose fields ``?fields=`` may leave out (the embedded rows').
        """
        return self._with_relations(read, self.roots, f"{self.info.name}Embedding", selectable)

    def _with_relations(
        self,
        read: type[pydantic.BaseModel],
        nodes: Mapping[str, _Node],
        prefix: str,
        selectable: Callable[[type[pydantic.BaseModel]], type[pydantic.BaseModel]],
    ) -> type[pydantic.BaseModel]:
        fields: dict[str, Any] = {}
        for name, node in nodes.items():
            # Named by path: the same target embedded at two places is two schemas (their includes differ).
            row = self._with_relations(selectable(node.schemas.read), node.children, f"{prefix}_{name}", selectable)
            many = node.relation.kind != "to_one"
            annotation: Any = list[row] if many else row | None  # type: ignore[valid-type]
            what = f"at most {node.max_items} {node.info.name} rows" if many else f"the {node.info.name} row, or null"
            fields[name] = (annotation, pydantic.Field(default=None, description=f"With ?include={name}: {what}."))
        if not fields:
            return read
        return pydantic.create_model(prefix, __base__=read, **fields)

    def openapi_parameters(self, readable: Sequence[str]) -> list[dict[str, Any]]:
        """The ``include`` parameter, and ``fields`` reaching into embedded rows (``readable``: the row's own)."""
        paths = self.paths
        one = "(" + "|".join(re.escape(p) for p in paths) + ")"
        names = [*readable, *(f"{path}.{name}" for path, node in self._nodes("", self.roots) for name in node.readable)]
        field = "(" + "|".join(re.escape(n) for n in names) + ")"
        return [
            {
                "name": "include",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": f"^{one}(,{one}){{0,{len(paths) - 1}}}$"},
                "description": f"Comma-separated relations to embed in each row, of: {', '.join(paths)}.",
            },
            {
                "name": "fields",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": f"^{field}(,{field}){{0,{len(names) - 1}}}$"},
                "description": f"Comma-separated subset of: {', '.join(readable)}; and of an included relation's "
                "fields, named by its path (author.username).",
            },
        ]

    def longest_query(self) -> int:
        """The most bytes ``include=`` and the embedded names of ``fields=`` add to a query string, percent-encoded."""
        embedded = [f"{path}.{name}" for path, node in self._nodes("", self.roots) for name in node.readable]
        # Each comma may be sent as %2C; the names are ASCII identifiers and dots.
        return len("&include=") + 3 * len(",".join(self.paths)) + 3 * len("," + ",".join(embedded))

    def _nodes(self, prefix: str, level: Mapping[str, _Node]) -> list[tuple[str, _Node]]:
        found = []
        for name, node in level.items():
            found.append((prefix + name, node))
            found.extend(self._nodes(f"{prefix}{name}.", node.children))
        return found

    # -- loading ----------------------------------------------------------------------------------

    async def embed(self, rows: list[Row], embedding: Embedding) -> None:
        """Add each included relation to ``rows``, in place: one batched read per relation and level."""
        await _embed(rows, embedding, self.roots)


def _readable(node: _Node, scope: Scope | None) -> tuple[str, ...]:
    """The fields of ``node``'s rows a request in ``scope`` may see."""
    if scope is None or not scope.hidden:
        return node.readable
    return tuple(name for name in node.readable if name not in scope.hidden)


async def _embed(rows: list[Row], embedding: Embedding, nodes: Mapping[str, _Node]) -> None:
    for name, (shown, below, scoped) in embedding.items.items():
        node = nodes[name]
        relation = node.relation
        # What the embedded rows show, and the keys their own included relations start from.
        needed = tuple(dict.fromkeys([*shown, *(node.children[child].relation.local for child in below.items)]))
        keys = list(dict.fromkeys(row[relation.local] for row in rows if row[relation.local] is not None))
        names = tuple(below.items)
        if relation.kind == "to_one":
            found = await _read(node.store, node.info, needed, relation.remote, keys, len(keys), scoped=scoped)
            await _embed(found, below, node.children)
            by_key = {row[relation.remote]: _shown(row, shown, names) for row in found}
            for row in rows:
                row[name] = by_key.get(row[relation.local])
        elif node.through is None:
            groups = await _read_groups(node.store, node.info, relation.remote, needed, keys, node.max_items, scoped)
            await _embed([r for group in groups.values() for r in group], below, node.children)
            for row in rows:
                row[name] = [_shown(r, shown, names) for r in groups.get(row[relation.local], ())]
        else:
            # The pairs first (at most max_items per row), then their targets: two statements. The
            # target's scope applies to the second: a list holds those of its first pairs in scope.
            store, through = node.through
            local, remote = relation.through_local, relation.through_remote
            pairs = await _read_groups(store, through, local, (local, remote), keys, node.max_items)
            ids = list(dict.fromkeys(p[remote] for group in pairs.values() for p in group))
            found = await _read(node.store, node.info, needed, relation.remote, ids, len(ids), scoped=scoped)
            await _embed(found, below, node.children)
            by_key = {row[relation.remote]: _shown(row, shown, names) for row in found}
            for row in rows:
                members = sorted((p[remote] for p in pairs.get(row[relation.local], ())), key=_order_key)
                row[name] = [by_key[m] for m in members if m in by_key]


def _shown(row: Row, shown: tuple[str, ...], embedded: tuple[str, ...]) -> Row:
    """The row as the client asked for it: the fields shown, then its embedded relations."""
    return {k: row[k] for k in (*shown, *embedded)}


def _order_key(value: Any) -> tuple[bool, Any]:
    return (value is None, value)


async def _read(
    store: Store,
    info: ModelInfo,
    needed: tuple[str, ...],
    column: str,
    keys: list[Any],
    limit: int,
    per_key: int | None = None,
    scoped: tuple[Filter, ...] = (),
) -> list[Row]:
    """The target's rows in scope (``scoped``: its filters) whose ``column`` is one of ``keys`` (at most
    ``limit + 1``; with ``per_key``, the first ``per_key`` of each key by primary key): one statement,
    in (``column``, primary key) order."""
    if not keys:
        return []
    pk = info.pk.name
    fields = tuple(dict.fromkeys([*needed, column, pk]))
    sort = (Sort(column), Sort(pk)) if column != pk else (Sort(pk),)
    group = None if per_key is None else Group(column, per_key)
    query = Query(fields, sort, limit, (*scoped, Filter(column, "in", tuple(keys))), group=group)
    return (await store.list(query)).rows


async def _read_groups(
    store: Store,
    info: ModelInfo,
    column: str,
    needed: tuple[str, ...],
    keys: list[Any],
    max_items: int,
    scoped: tuple[Filter, ...] = (),
) -> dict[Any, list[Row]]:
    """The first ``max_items`` rows (by primary key) of each key's list: one statement however long the
    lists are (a ``Group``: the rows numbered within each key by a window function, ormgate.plan)."""
    # The LIMIT only bounds what the groups already bound (and is bound as a 32-bit integer).
    limit = min(len(keys) * max_items, MAX_OFFSET - 1)
    groups: dict[Any, list[Row]] = {}
    for row in await _read(store, info, needed, column, keys, limit, max_items, scoped):
        groups.setdefault(row[column], []).append(row)
    return groups


def across_fields(
    info: ModelInfo, adapter: Adapter, declared: Mapping[str, Collection[str] | None] | Collection[str]
) -> dict[str, tuple[FieldInfo, Collection[str] | None]]:
    """The filters across relations a resource declares (``filters_across=``), each path with the field it
    ends on and its operators (None: that field's defaults): ``{"author__username": (username, None)}``.

    A path is relation names then a field of the last relation's model, joined by ``__``.
    """
    given = declared if isinstance(declared, Mapping) else dict.fromkeys(declared)
    found: dict[str, tuple[FieldInfo, Collection[str] | None]] = {}
    for path, ops in given.items():
        *names, last = path.split("__")
        if not names:
            raise ValueError(f"filters_across path {path!r} names no relation: relation__field, as author__username")
        model = info
        for name in names:
            model = adapter.describe(_relation(model, name, path).target)
        field = model.by_name.get(last)
        if field is None:
            raise ValueError(f"{model.name} has no field {last!r} (in filters_across path {path!r})")
        found[path] = (field, ops)
    return found
