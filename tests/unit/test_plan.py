"""The plan of a list: the semantics of docs/query.md as data, before any ORM compiles them."""

from __future__ import annotations

import dataclasses
import re

import pytest

from ormgate.model import FieldInfo, ModelInfo
from ormgate.plan import (
    FALSE,
    GLOB,
    LIKE,
    Across,
    And,
    Compare,
    In,
    IsNull,
    Match,
    Or,
    Order,
    PerGroup,
    Planner,
    fold,
    shape,
)
from ormgate.query import Filter, Group, Query, Sort

INFO = ModelInfo(
    name="Item",
    table="item",
    fields=(
        FieldInfo(name="id", python_type=int, primary_key=True),
        FieldInfo(name="name", python_type=str),
        FieldInfo(name="price", python_type=int, nullable=True),
    ),
)
PRICE, ID = ("price",), ("id",)


def _query(*sort: Sort, after: tuple[object, ...] | None = None, **kwargs: object) -> Query:
    return Query(fields=("id", "name"), sort=sort, limit=10, after=after, **kwargs)  # type: ignore[arg-type]


def test_filters_become_leaves_named_by_path_with_text_compared_exactly() -> None:
    filters = (
        Filter("name", "eq", "a"),
        Filter("price", "in", (1, 2)),
        Filter("price", "isnull", False),
        Filter("name", "icontains", "ÄB"),
        Filter("name", "endswith", "%"),
    )
    plan = Planner(INFO).plan(_query(Sort("id"), filters=filters))
    assert plan.where == And(
        (
            Compare(("name",), "eq", "f0", exact=True),
            In(PRICE, "f1"),
            IsNull(PRICE, False),
            Match(("name",), "contains", True, "f3"),
            Match(("name",), "endswith", False, "f4"),
        )
    )
    assert plan.patterns == (("f3", "contains"), ("f4", "endswith"))
    values = Planner.values(_query(Sort("id"), filters=filters))
    assert values["f3"] == "äb"  # folded with Unicode rules
    assert values["f4"] == "%"  # the text as it is: the pattern syntax escapes it
    assert values["limit"] == 11  # one more row: whether there is a next page


def test_keyset_ascending_is_an_or_over_the_keys_bounded_on_the_first() -> None:
    plan = Planner(INFO).plan(_query(Sort("price"), Sort("id"), after=(5, 7)))
    assert plan.after == And(
        (
            Compare(PRICE, "gte", "a0"),
            Or((Compare(PRICE, "gt", "a0"), And((Compare(PRICE, "eq", "a0"), Compare(ID, "gt", "a1"))))),
        )
    )


def test_keyset_descending_on_a_nullable_key_lets_nulls_in_after_a_value() -> None:
    plan = Planner(INFO).plan(_query(Sort("price", True), Sort("id", True), after=(5, 7)))
    below = Or((Compare(PRICE, "lt", "a0"), IsNull(PRICE)))
    assert plan.after == And(
        (
            Or((Compare(PRICE, "lte", "a0"), IsNull(PRICE))),
            Or((below, And((Compare(PRICE, "eq", "a0"), Compare(ID, "lt", "a1"))))),
        )
    )


def test_keyset_from_a_null_first_key() -> None:
    # Ascending: after NULL come the other NULLs (by key) and every value; no bound.
    ascending = Planner(INFO).plan(_query(Sort("price"), Sort("id"), after=(None, 7)))
    assert ascending.after == Or((IsNull(PRICE, False), And((IsNull(PRICE), Compare(ID, "gt", "a1")))))
    # Descending: NULL is last, only the NULLs after it by key remain.
    descending = Planner(INFO).plan(_query(Sort("price", True), Sort("id", True), after=(None, 7)))
    assert descending.after == And((IsNull(PRICE), And((IsNull(PRICE), Compare(ID, "lt", "a1")))))


def test_keyset_with_nothing_after_is_false() -> None:
    plan = Planner(INFO).plan(_query(Sort("price", True), after=(None,)))
    assert plan.after is FALSE


def test_nulls_are_the_smallest_and_said_only_where_a_column_has_them() -> None:
    plan = Planner(INFO).plan(_query(Sort("price"), Sort("name", True), Sort("id", True)))
    assert plan.order == (Order(PRICE, False, "first"), Order(("name",), True, None), Order(ID, True, None))
    plan = Planner(INFO).plan(_query(Sort("price", True), Sort("id")))
    assert plan.order[0] == Order(PRICE, True, "last")


def test_a_plan_is_built_once_per_shape_and_hashable() -> None:
    planner = Planner(INFO)
    first = planner.plan(_query(Sort("id"), after=(1,)))
    assert planner.plan(_query(Sort("id"), after=(99,))) is first
    assert planner.plan(_query(Sort("id"), after=(1,), offset=3)) is not first
    assert shape(_query(Sort("id"), after=(1,))) != shape(_query(Sort("id"), after=(None,)))
    assert hash(first) == hash(Planner(INFO).build(_query(Sort("id"), after=(2,))))


def test_conditions_within_a_relation_go_inside_each_filter_across_it() -> None:
    # Query.within: the read scope of the related rows (ormgate.relations), in the same EXISTS as the filter.
    filters = (
        Filter("price", "eq", 3),
        Filter("comments__body", "eq", "x"),
        Filter("comments__author__name", "icontains", "Ad"),
        Filter("tags__name", "in", ("a", "b")),
        Filter("owner__name", "eq", "z"),
    )
    within = (Filter("comments__author__team", "eq", 1), Filter("comments__team", "eq", 1))
    query = _query(Sort("id"), filters=filters, within=within)
    team, author_team = Compare(("team",), "eq", "w1", exact=True), Compare(("team",), "eq", "w0", exact=True)
    assert Planner(INFO).plan(query).where == And(
        (
            Compare(PRICE, "eq", "f0", exact=True),
            Across("comments", And((Compare(("body",), "eq", "f1", exact=True), team))),
            Across(
                "comments",
                And((Across("author", And((Match(("name",), "contains", True, "f2"), author_team))), team)),
            ),
            In(("tags", "name"), "f3"),  # no condition within: one path, as without
            Compare(("owner", "name"), "eq", "f4", exact=True),
        )
    )
    values = Planner.values(query)
    assert (values["w0"], values["w1"], values["f2"]) == (1, 1, "ad")


def test_conditions_within_are_part_of_the_shape_their_values_parameters() -> None:
    filters = (Filter("comments__body", "eq", "x"),)
    planner = Planner(INFO)
    first = planner.plan(_query(Sort("id"), filters=filters, within=(Filter("comments__team", "eq", 1),)))
    assert planner.plan(_query(Sort("id"), filters=filters, within=(Filter("comments__team", "eq", 2),))) is first
    unscoped = planner.plan(_query(Sort("id"), filters=filters))
    assert unscoped is not first
    assert unscoped.where == And((Compare(("comments", "body"), "eq", "f0", exact=True),))
    other = _query(Sort("id"), filters=filters, within=(Filter("comments__owner", "eq", 1),))
    assert planner.plan(other) is not first
    assert Planner.values(other)["w0"] == 1


def _grouped(limit: int = 3, **kwargs: object) -> Query:
    """The shape of an embedded list's read (ormgate.relations): by its key, then the primary key."""
    return Query(
        fields=("id", "name", "price"),
        sort=(Sort("price"), Sort("id")),
        limit=100,
        filters=(Filter("price", "in", (1, 2)),),
        group=Group("price", limit),
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_group_numbers_the_rows_of_each_value_in_the_rest_of_the_sort() -> None:
    plan = Planner(INFO).plan(_grouped())
    assert plan.group == PerGroup(PRICE, (Order(ID, False, None),), "group_limit")
    assert plan.where == And((In(PRICE, "f0"),))  # what is numbered: the matching rows
    assert plan.order == (Order(PRICE, False, "first"), Order(ID, False, None))  # the page's own order
    assert (plan.after, plan.offset, plan.count) == (None, False, False)
    assert Planner.values(_grouped(7)) == {"limit": 101, "offset": 0, "f0": (1, 2), "group_limit": 7}
    descending = Planner(INFO).plan(
        Query(("id", "name"), (Sort("name", True), Sort("id", True)), 10, group=Group("price", 2))
    )
    assert descending.group == PerGroup(PRICE, (Order(("name",), True, None), Order(ID, True, None)))
    assert Planner(INFO).plan(_query(Sort("id"))).group is None


def test_a_group_is_part_of_the_shape_and_its_size_a_parameter() -> None:
    planner = Planner(INFO)
    first = planner.plan(_grouped(3))
    assert planner.plan(_grouped(20)) is first  # one statement whatever the size of the groups
    assert shape(_grouped()) != shape(dataclasses.replace(_grouped(), group=None))
    assert shape(_grouped()) != shape(dataclasses.replace(_grouped(), group=Group("id", 3)))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (_grouped(after=(1, 2)), "no cursor, offset or count"),
        (_grouped(offset=5), "no cursor, offset or count"),
        (_grouped(count=True), "no cursor, offset or count"),
        (dataclasses.replace(_grouped(), group=Group("nope", 3)), "no field 'nope'"),
        (dataclasses.replace(_grouped(), fields=("id", "name")), "missing: ['price']"),
    ],
)
def test_a_group_refuses_what_it_could_not_mean(query: Query, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Planner(INFO).plan(query)


@pytest.mark.parametrize(
    ("kind", "text", "like", "glob"),
    [
        ("contains", "50%_off!", "%50!%!_off!!%", "*50%_off!*"),
        ("startswith", "a*?[", "a*?[%", "a[*][?][[]*"),
        ("endswith", "x", "%x", "*x"),
    ],
)
def test_pattern_text_is_literal(kind: str, text: str, like: str, glob: str) -> None:
    assert LIKE.pattern(kind, text) == like  # type: ignore[arg-type]
    assert GLOB.pattern(kind, text) == glob  # type: ignore[arg-type]


def test_fold_is_unicode_aware() -> None:
    assert fold("ÄRGER") == "ärger"
    assert fold(None) is None
