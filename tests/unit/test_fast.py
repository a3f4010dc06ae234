"""Each rule of ``ormgate.adapters._fast``: the facts an adapter states, and the decision on them.

tests/conformance/test_fast_paths.py shows the same decisions through HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import peewee as pw
import pytest
import sqlalchemy as sa
from playhouse.postgres_ext import PostgresqlExtDatabase

from ormgate.adapters import _pw_store as peewee_store
from ormgate.adapters._fast import DRIVERS, HOOKS, NEUTRAL_OPTIONS, Facts, as_is, refusal
from ormgate.adapters._sa_fast import driver_refusal, facts


def test_nothing_to_refuse() -> None:
    assert refusal(Facts("sqlalchemy", driver="psycopg")) is None
    assert refusal(Facts("sqlalchemy", driver="pysqlite", options={name: 1 for name in NEUTRAL_OPTIONS})) is None
    assert refusal(Facts("django")) is None
    assert refusal(Facts("peewee", driver="anything")) is None  # its fast reads run on Peewee's cursor


@pytest.mark.parametrize(
    ("orm", "driver"),
    [("sqlalchemy", "pymysql"), ("sqlalchemy", "aiosqlite"), ("sqlalchemy async", "psycopg"), ("sqlalchemy async", "")],
)
def test_a_driver_without_a_fast_path_is_refused(orm: str, driver: str) -> None:
    why = refusal(Facts(orm, driver=driver))
    assert why == f"{orm} has no fast path on the driver {driver!r}"
    assert DRIVERS["django"] is None
    assert DRIVERS["peewee"] is None


@pytest.mark.parametrize(("orm", "hook"), [(orm, hook) for orm, hooks in HOOKS.items() for hook in hooks])
def test_every_hook_is_refused(orm: str, hook: str) -> None:
    driver = "asyncpg" if orm == "sqlalchemy async" else "psycopg"
    assert refusal(Facts(orm, driver=driver, hooks=(hook,))) == f"{orm} runs {hook} as it executes a read"


def test_a_hook_of_another_orm_or_one_gone_through_is_no_reason() -> None:
    assert refusal(Facts("peewee", hooks=("execute_sql", "do_connect"))) is None


@pytest.mark.parametrize("option", ["schema_translate_map", "isolation_level", "some_future_option"])
def test_an_option_not_known_neutral_is_refused(option: str) -> None:
    why = refusal(Facts("sqlalchemy", driver="psycopg", options={"compiled_cache": None, option: 1}))
    assert why == f"the execution options {option} may change the read"


def test_a_logged_statement_is_refused() -> None:
    assert refusal(Facts("sqlalchemy", driver="psycopg", logged=True)) == "sqlalchemy logs every statement"


def test_a_conversion_is_skipped_for_the_exact_class_only() -> None:
    class Shouting(pw.CharField):
        def python_value(self, value: Any) -> Any:
            return value.upper()

    identities = {pw.CharField: str, pw.IntegerField: int}
    columns = {"name": pw.CharField, "shout": Shouting, "n": pw.IntegerField, "when": pw.DateField}
    assert as_is(columns, identities) == {"name": str, "n": int}


# -- the facts each adapter states ---------------------------------------------------------------


def test_sqlalchemy_facts(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'facts.sqlite3'}")
    assert facts(engine).hooks == ()
    sa.event.listen(engine, "do_connect", lambda *args: None)  # gone through: fast reads take pooled connections
    sa.event.listen(engine.pool, "checkout", lambda *args: None)
    assert refusal(facts(engine)) is None
    sa.event.listen(engine, "handle_error", lambda *args: None)
    sa.event.listen(engine, "begin", lambda *args: None)
    assert facts(engine).hooks == ("begin", "handle_error")
    assert refusal(facts(engine)) == "sqlalchemy runs begin, handle_error as it executes a read"
    engine.dispose()
    mysql = sa.create_engine("mysql+pymysql://nobody@127.0.0.1:1/none")  # never connects
    assert refusal(facts(mysql)) is None  # the driver is asked about once, per store:
    assert driver_refusal(mysql.dialect) == "sqlalchemy has no fast path on the driver 'pymysql'"
    assert driver_refusal(engine.dialect) is None


def test_peewee_facts(tmp_path: Path) -> None:
    class Timed(pw.SqliteDatabase):
        def execute_sql(self, sql: str, params: Any = None) -> Any:
            return super().execute_sql(sql, params)  # type: ignore[no-untyped-call]

    class Routed(pw.SqliteDatabase):
        def execute(self, query: Any, **options: Any) -> Any:
            return super().execute(query, **options)  # type: ignore[no-untyped-call]

    class RoutedTimed(Routed, Timed):
        pass

    path = str(tmp_path / "facts.sqlite3")
    assert peewee_store._hooks(pw.SqliteDatabase(path)) == ()
    assert peewee_store._hooks(Timed(path)) == ()  # fast reads call execute_sql: it sees them
    assert peewee_store._hooks(PostgresqlExtDatabase("none")) == ()  # Peewee's own execute
    assert peewee_store._hooks(Routed(path)) == ("Database.execute",)
    assert peewee_store._hooks(RoutedTimed(path)) == ("Database.execute",)


def test_a_django_get_compiles_only_from_inputs_it_can_tell_apart() -> None:
    from ormgate.adapters._dj_compiled import distinct

    # A key equal to a scope value: which parameter is which would be a guess.
    assert not distinct([7, 3, 7])
    assert distinct([7, 3, "7"])  # another type: a parameter of one is never the other's
    assert distinct([7])
