"""SQLite's timestamps are text: one instant's spellings compare as one, and an index still serves."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from ormgate.adapters._sqlite import HIGHEST, LOWEST, TEXT_TIME, prepare

# One instant, as each writer spells it: Python's str() and CURRENT_TIMESTAMP, Django's Now(), SQLAlchemy before.
WHOLE = ("2024-01-02 12:34:56", "2024-01-02 12:34:56.000", "2024-01-02 12:34:56.000000")
NEIGHBOURS = ("2024-01-02 12:34:55.999999", "2024-01-02 12:34:56.000001", "2024-01-02 12:34:57")


@pytest.fixture
def conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    prepare(conn)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at DATETIME)")
    conn.execute("CREATE INDEX t_at ON t (at)")
    conn.executemany("INSERT INTO t (at) VALUES (?)", [(text,) for text in WHOLE + NEIGHBOURS])
    return conn


def where(op: str) -> str:
    if op == "ne":
        return f"NOT ({where('eq')})"
    bounds = TEXT_TIME[op]
    sql = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
    return " AND ".join(f"at {sql[o]} {bound}(:v)" for o, bound in bounds)


@pytest.mark.parametrize("value", WHOLE)
@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("eq", WHOLE),
        ("ne", NEIGHBOURS),
        ("gt", NEIGHBOURS[1:]),
        ("gte", WHOLE + NEIGHBOURS[1:]),
        ("lt", NEIGHBOURS[:1]),
        ("lte", NEIGHBOURS[:1] + WHOLE),
    ],
)
def test_each_spelling_of_an_instant_compares_as_the_instant(
    conn: sqlite3.Connection, value: str, op: str, expected: tuple[str, ...]
) -> None:
    found = conn.execute(f"SELECT at FROM t WHERE {where(op)}", {"v": value}).fetchall()
    assert sorted(at for (at,) in found) == sorted(expected), (op, value, found)


def test_millis_and_times_of_day(conn: sqlite3.Connection) -> None:
    for value, lowest, highest in [
        ("2024-01-02 12:34:56.120", "2024-01-02 12:34:56.12", "2024-01-02 12:34:56.120000"),
        ("12:34:56", "12:34:56", "12:34:56.000000"),
        ("12:34:56.500000", "12:34:56.5", "12:34:56.500000"),
        ("not a time", "not a time", "not a time"),  # compared as it is
    ]:
        assert conn.execute(f"SELECT {LOWEST}(?), {HIGHEST}(?)", (value, value)).fetchone() == (lowest, highest)
    assert conn.execute(f"SELECT {LOWEST}(NULL), {HIGHEST}(NULL)").fetchone() == (None, None)


@pytest.mark.parametrize("op", ["eq", "gt", "gte", "lt", "lte"])
def test_an_index_on_the_column_serves_the_comparison(conn: sqlite3.Connection, op: str) -> None:
    plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT id FROM t WHERE {where(op)}", {"v": WHOLE[0]}).fetchall()
    assert "USING COVERING INDEX t_at (at" in plan[0][3], plan


def test_the_documented_conversion_of_older_rows() -> None:
    page = (Path(__file__).parents[2] / "docs" / "query.md").read_text()
    section = page[page.index("## Timestamps on SQLite") :]
    sql = section[section.index("```sql") + len("```sql") : section.index("```", section.index("```sql") + 6)]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, seen_at DATETIME, starts_at TIME)")
    rows = [
        ("2024-01-02 12:34:56.000000", "12:34:56.000000"),
        ("2024-01-02 12:34:56.000001", "12:34:56.500000"),
        ("2024-01-02 12:34:50", "12:34:50"),
        (None, None),
    ]
    conn.executemany("INSERT INTO items (seen_at, starts_at) VALUES (?, ?)", rows)
    conn.executescript(sql)
    assert conn.execute("SELECT seen_at, starts_at FROM items ORDER BY id").fetchall() == [
        ("2024-01-02 12:34:56", "12:34:56"),
        *rows[1:],
    ]
