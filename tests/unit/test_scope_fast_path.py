"""A scoped GET or list is just more conditions: it stays on SQLAlchemy's fast read path (issue 16)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ormgate.adapters._sa_fast import Compiled
from ormgate.adapters._sa_stores import _SyncStore
from ormgate.adapters.base import ShapeCache
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from ormgate.query import Filter, Query, Sort
from ormgate.scope import Scope, built, condition, shape
from tests.conformance.models.sqlalchemy import Item


def test_scoped_reads_compile_for_the_fast_path_once_per_scope_shape(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'fast.sqlite3'}")
    store = SQLAlchemyAdapter(engine).store(Item, ["id", "name", "category_id"])
    sync = store.sync  # type: ignore[union-attr]
    assert isinstance(sync, _SyncStore)
    ops, dialect = sync.ops, engine.dialect
    found = ops.fast_get(dialect, 7, {"category_id": 1})
    assert found is not None
    compiled, params = found
    assert isinstance(compiled, Compiled)
    assert params == {"ormgate_s0": 1, "pk": 7}
    # Another tenant: the same statement, other values.
    again = ops.fast_get(dialect, 8, {"category_id": 2})
    assert again is not None
    assert again[0] is compiled
    assert again[1] == {"ormgate_s0": 2, "pk": 8}
    assert ops.fast_get(dialect, 7, None) is None  # unscoped: the store's own fast GET
    # Two names, in either order: one statement, each value bound to its own name's condition.
    two = ops.fast_get(dialect, 7, {"name": "a", "category_id": 1})
    swapped = ops.fast_get(dialect, 7, {"category_id": 1, "name": "a"})
    assert two is not None
    assert swapped is not None
    assert two[0] is swapped[0] is not compiled
    assert two[1] == swapped[1] == {"ormgate_s0": 1, "ormgate_s1": "a", "pk": 7}
    cache: ShapeCache[object] = ShapeCache()
    for where in ({"category_id": 3}, {"name": "b", "category_id": 3}):
        made, values = built(cache, "get", where, object)
        assert values == condition(where)[1]  # the values of the statement's own parameters
        assert cache.built[("get", shape(where))] is made  # kept by its shape: built once
        assert built(cache, "get", dict(reversed(where.items())), object)[0] is made
    query = Query(("id", "name"), (Sort("id"),), 20, Scope({"category_id": 1}).filters())
    listed = ops.fast_list(dialect, query)
    assert listed is not None
    assert listed[1]["f0"] == 1
    other = ops.fast_list(dialect, Query(("id", "name"), (Sort("id"),), 20, (Filter("category_id", "eq", 2),)))
    assert other is not None
    assert other[0] is listed[0]
    engine.dispose()
