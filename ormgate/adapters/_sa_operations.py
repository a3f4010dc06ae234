"""The five operations of one SQLAlchemy model, each on an open sync ``Connection``, with statements built once."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ..errors import NotFound
from ..links import Links, split_links
from ..plan import LIKE, Order, Plan, Planner, shape
from ..query import Query
from ..scope import FIRST
from ..scope import built as scope_built
from ..scope import condition as scope_condition
from ._sa_compile import _compiler
from ._sa_describe import _columns, _single_table, _unique_constraints, describe
from ._sa_dialects import _BEGIN_WRITE, _NULLS_LARGEST
from ._sa_fast import Compiled, compile_read
from ._sa_groups import grouped
from ._sa_links import write_links
from .base import Check, Hook, Page, Row, ShapeCache, Where

# The primary key's parameter in an UPDATE whose SET comes from the other parameters' keys.
_KEY = "ormgate_key"


class _Shape:
    """The statements of one query shape, and the page statement compiled for the fast path once needed."""

    __slots__ = ("count", "fast", "page", "patterns")

    def __init__(self, page: Any, count: Any, plan: Plan) -> None:
        self.page = page
        self.count = count
        self.patterns = plan.patterns
        self.fast: Compiled | bool | None = False  # False: not compiled yet


class _Scoped:
    """The statement by key of one scope shape (ormgate.scope), its locking twin, and its fast-path form."""

    __slots__ = ("by_pk", "fast", "locked")

    def __init__(self, by_pk: Any) -> None:
        self.by_pk = by_pk
        self.locked = by_pk.with_for_update()
        self.fast: Compiled | bool | None = False  # False: not compiled yet


class _Operations:
    """The five operations of one model, each on an open sync ``Connection``."""

    def __init__(self, model: type[Any], fields: Sequence[str]) -> None:
        self.model = model
        self.info = describe(model)
        # A write may set the lists of many-to-many relations: written after the row, in its unit of work.
        self.linked = any(r.kind == "many_to_many" for r in self.info.relations)
        self.columns = _columns(model)
        self.table = sa.inspect(model).local_table
        self.pk = self.columns[self.info.pk.name]
        # A single-table-inheritance subclass: its rows only, and its discriminator on insert.
        # Equalities rather than IN: an expanding parameter would keep reads off the fast path.
        single = _single_table(model)
        self.only: list[Any] = [] if single is None else [sa.or_(*(single[0] == value for value in single[2]))]
        self.fixed: dict[str, Any] = {} if single is None else {single[0].key: single[1]}
        self.read = [self.columns[name].label(name) for name in fields]
        # SQLite's RETURNING answers a REAL column's whole number as an integer (its storage
        # form: 6 for 6.0), where a SELECT answers 6.0: the write's answer, and its ETag, would
        # differ from the GET's. Such values of the float columns are made floats again.
        self.floats = [f.name for f in self.info.fields if f.name in fields and f.python_type is float]
        # A mapper keyed by several columns (ormgate serve maps a composite key so): ``pk`` is then a list of
        # one tuple of their values in key order, for the statements' expanding parameter (a row value).
        key = list(sa.inspect(model).primary_key)
        self.composite = len(key) > 1
        self.key_fields = [c.key for c in key]
        is_key = self._composite_key(key) if self.composite else lambda name: self.pk == sa.bindparam(name)
        self.by_pk = sa.select(*self.read).where(is_key("pk"), *self.only)
        self.insert_plain = sa.insert(self.table)
        self.insert_returning = self.insert_plain.returning(*self.read)
        self.update_plain = sa.update(self.table).where(is_key(_KEY), *self.only)
        self.delete_by_pk = sa.delete(self.table).where(is_key("pk"), *self.only)
        self.update_returning = self.update_plain.returning(*self.read)
        self._cache: ShapeCache[_Shape] = ShapeCache()
        self._scoped: ShapeCache[_Scoped] = ShapeCache()
        self.planner = Planner(self.info)
        field_of_column = {column.name: key for key, column in self.columns.items()}
        self.constraint_fields = {
            **field_of_column,
            **{name: field_of_column.get(col, col) for name, col in _unique_constraints(self.table).items()},
        }

    def _key_after(self, pk: Any, values: Row) -> Any:
        """The row's key once ``values`` are written: a write may change a key the client sets."""
        if self.composite:
            return [tuple(values.get(name, old) for name, old in zip(self.key_fields, pk[0], strict=True))]
        return values.get(self.info.pk.name, pk)

    @staticmethod
    def _composite_key(key: list[sa.Column[Any]]) -> Callable[[str], Any]:
        return lambda name: sa.tuple_(*key).in_(sa.bindparam(name, expanding=True))

    @staticmethod
    def _rows(result: sa.CursorResult[Any]) -> list[Row]:
        keys = list(result.keys())
        # all() fetches in one call; iterating the result fetches row by row. Not strict:
        # the keys are the row's own, and the check doubles the cost of this line.
        return [dict(zip(keys, row, strict=False)) for row in result.all()]

    def _returned(self, conn: sa.Connection, result: sa.CursorResult[Any]) -> list[Row]:
        """The rows a write's RETURNING answered, as a SELECT would have (see ``floats``)."""
        rows = self._rows(result)
        if self.floats and conn.dialect.name == "sqlite":
            for row in rows:
                for name in self.floats:
                    if type(row[name]) is int:
                        row[name] = float(row[name])
        return rows

    def statements(self, dialect: str, query: Query) -> _Shape:
        """The page and count statements of the query's shape, built once and reused."""
        key = shape(query)
        return self._cache.get((dialect, key), self._build, dialect, query, key)

    def _build(self, dialect: str, query: Query, key: Hashable) -> _Shape:
        plan = self.planner.plan(query, key)
        compile_ = _compiler(self.columns, dialect, self.model)
        where = [*self.only, *map(compile_, plan.where.items)]
        count = sa.select(sa.func.count()).select_from(self.table).where(*where)
        if plan.after is not None:
            where.append(compile_(plan.after))

        def ordered(column: Any, term: Order) -> Any:
            by = column.desc() if term.descending else column.asc()
            if term.nulls is not None and dialect in _NULLS_LARGEST:
                by = by.nulls_first() if term.nulls == "first" else by.nulls_last()
            return by

        if plan.group is not None:  # the first rows of each group (ormgate.adapters._sa_groups)
            return _Shape(grouped(self.columns, plan, where, ordered), None, plan)
        order = [ordered(self.columns[term.path[-1]], term) for term in plan.order]
        page = (
            sa.select(*(self.columns[name].label(name) for name in plan.columns))
            .where(*where)
            .order_by(*order)
            .limit(sa.bindparam("limit", type_=sa.Integer()))
        )
        if plan.offset:
            page = page.offset(sa.bindparam("offset", type_=sa.Integer()))
        return _Shape(page, count if plan.count else None, plan)

    @staticmethod
    def parameters(query: Query, shape: _Shape) -> dict[str, Any]:
        """The values of a list statement's parameters."""
        params = Planner.values(query)
        for name, kind in shape.patterns:
            params[name] = LIKE.pattern(kind, params[name])
        return params

    def list(self, conn: sa.Connection, query: Query) -> Page:
        shape = self.statements(conn.dialect.name, query)
        params = self.parameters(query, shape)
        rows = self._rows(conn.execute(shape.page, params))
        total = None if shape.count is None else conn.execute(shape.count, params).scalar_one()
        return Page(rows, total)

    def fast_list(self, dialect: sa.Dialect, query: Query) -> tuple[Compiled, dict[str, Any]] | None:
        """The page statement of the query compiled for the fast path and its parameters, or None
        when it cannot take it."""
        shape = self.statements(dialect.name, query)
        if shape.fast is False:
            shape.fast = compile_read(shape.page, dialect)
        assert not isinstance(shape.fast, bool)
        return None if shape.fast is None else (shape.fast, self.parameters(query, shape))

    def scoped(self, dialect: str, where: Where) -> tuple[_Scoped | None, dict[str, Any]]:
        """The statements by key with ``where``'s conditions (built once per scope shape), and their
        parameters (a new dict: the caller's to add the key to)."""
        if not where:
            return None, {}
        if len(where) == 1:  # the usual scope, once its statement is built: without a call
            ((name, value),) = where.items()
            found = self._scoped.built.get((dialect, (name,)))
            if found is not None:
                return found, {FIRST: value}
        return scope_built(self._scoped, dialect, where, self._build_scoped, dialect, where)

    def _build_scoped(self, dialect: str, where: Mapping[str, Any]) -> _Scoped:
        condition = scope_condition(where)[0]
        return _Scoped(self.by_pk.where(_compiler(self.columns, dialect)(condition)))

    def fast_get(self, dialect: sa.Dialect, pk: Any, where: Where) -> tuple[Compiled | None, dict[str, Any]] | None:
        """A scoped GET compiled for the fast path and its parameters; None without a scope."""
        scoped, values = self.scoped(dialect.name, where)
        if scoped is None:
            return None
        if scoped.fast is False:
            scoped.fast = compile_read(scoped.by_pk, dialect)
        assert not isinstance(scoped.fast, bool)
        values["pk"] = pk
        return scoped.fast, values

    def get(self, conn: sa.Connection, pk: Any, where: Where = None) -> Row | None:
        scoped, values = self.scoped(conn.dialect.name, where)
        statement = self.by_pk if scoped is None else scoped.by_pk
        values["pk"] = pk
        rows = self._rows(conn.execute(statement, values))
        return rows[0] if rows else None

    def _values(self, values: Row) -> dict[str, Any]:
        """Written values as parameters of the statements built once: keyed by column key."""
        return {self.columns[name].key: value for name, value in values.items()}

    @staticmethod
    def _begin_write(conn: sa.Connection) -> None:
        begin = _BEGIN_WRITE.get(conn.dialect.name)
        if begin is not None:
            conn.exec_driver_sql(begin)

    def create(self, conn: sa.Connection, values: Row, hook: Hook | None = None) -> Row:
        links: Links = {}
        if self.linked:
            values, links = split_links(self.info, values)
        self._begin_write(conn)
        if hook is not None:
            values = dict(values)  # the hook's to change; a retried unit of work starts from the request's
            hook("before", conn, values)
        row = self._insert(conn, values)
        if links:
            write_links(conn, row[self.info.pk.name], links)
        if hook is not None:  # after the lists: the hook sees the row as written, its pairs too
            hook("after", conn, row)
        return row

    def _insert(self, conn: sa.Connection, values: Row) -> Row:
        # The statements are built once; the parameters' keys make the column list, and
        # SQLAlchemy caches the compiled form per key set (building one per request was
        # most of a write's own CPU).
        params = {**self._values(values), **self.fixed}
        if conn.dialect.insert_returning:
            return self._returned(conn, conn.execute(self.insert_returning, params))[0]
        result = conn.execute(self.insert_plain, params)
        assert result.inserted_primary_key is not None
        key = result.inserted_primary_key
        row = self.get(conn, [tuple(key)] if self.composite else key[0])
        assert row is not None
        return row

    def _lock(self, conn: sa.Connection, pk: Any, check: Check | None, where: Where = None) -> None:
        # A scoped write locks the row in scope first: out of scope, nothing is written; in scope,
        # no other transaction can move it out before this one commits.
        if check is None and not where:
            return
        scoped, values = self.scoped(conn.dialect.name, where)
        statement = self.by_pk.with_for_update() if scoped is None else scoped.locked
        values["pk"] = pk
        row = self._rows(conn.execute(statement, values))
        if not row:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if check is not None:
            check(row[0])

    def update(
        self,
        conn: sa.Connection,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        links: Links = {}
        if self.linked:
            values, links = split_links(self.info, values)
        self._begin_write(conn)
        self._lock(conn, pk, check, where)
        if hook is not None:
            values = dict(values)
            hook("before", conn, values)
        row = self._write(conn, pk, values)
        if links:
            write_links(conn, pk, links)
        if hook is not None:
            hook("after", conn, row)
        return row

    def _write(self, conn: sa.Connection, pk: Any, values: Row) -> Row:
        if values:
            params = {**self._values(values), _KEY: pk}
            if conn.dialect.update_returning:
                rows = self._returned(conn, conn.execute(self.update_returning, params))
                if not rows:
                    raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
                return rows[0]
            # Rows matched (SQLAlchemy asks MySQL for found rather than changed rows): none is no such row.
            if conn.execute(self.update_plain, params).rowcount == 0:
                raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        row = self.get(conn, self._key_after(pk, values))
        if row is None:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        return row

    def delete(
        self, conn: sa.Connection, pk: Any, check: Check | None, where: Where = None, hook: Hook | None = None
    ) -> None:
        self._begin_write(conn)
        self._lock(conn, pk, check, where)
        if hook is not None:
            hook("before", conn, {self.info.pk.name: pk})
        if conn.execute(self.delete_by_pk, {"pk": pk}).rowcount == 0:
            raise NotFound(f"no {self.info.name} with {self.info.pk.name}={pk}")
        if hook is not None:
            hook("after", conn, {self.info.pk.name: pk})
