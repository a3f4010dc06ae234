"""Whether a read may skip its ORM's execution machinery, and how its rows are built: one owner.

Each adapter has a fast path for reads: the statement built once per query shape,
run on the connection's cursor, its rows turned into dicts by generated code
(``rows_to_dicts``). It must give exactly what the ORM's own path gives, or not
be taken (docs/adapters.md). The rules for that are here, each with its reason;
an adapter only states facts about its ORM (``Facts``: which hooks have a
listener or an override, which options are in force, which driver runs the read)
and asks ``refusal``. A refused read takes the ORM's own path. Every rule has a
test in tests/unit/test_fast.py, and the answers to them through HTTP are in
tests/conformance/test_fast_paths.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# -- hooks: where a user's code runs as the ORM executes a read ----------------------------------
#
# A listener or an override on any of these would not run for a fast read, so its presence sends
# reads down the ORM's path: an instrumentation (OpenTelemetry) must see every statement, and a
# hook may set what the read depends on (a "begin" listener's SET LOCAL for row-level security).
# Hooks the fast paths go through too are not listed, as they see every read either way:
# SQLAlchemy's pool events (connect, checkout: fast reads take pooled connections) and its
# dialect's do_connect; Django's execute_wrapper and debug cursor (its fast GET runs on
# connection.cursor()); Peewee's Database.execute_sql (its fast reads call it).
_SQLALCHEMY_HOOKS = (
    # Engine (ConnectionEvents): the Connection's execution and its transaction.
    "before_execute",
    "after_execute",
    "before_cursor_execute",
    "after_cursor_execute",
    "engine_connect",
    "set_connection_execution_options",
    "begin",
    "commit",
    "rollback",
    # Dialect (DialectEvents): how the Connection calls the cursor and sees its errors.
    "do_execute",
    "do_execute_no_params",
    "do_setinputsizes",
    "handle_error",
)
HOOKS: Mapping[str, tuple[str, ...]] = {
    "sqlalchemy": _SQLALCHEMY_HOOKS,
    "sqlalchemy async": _SQLALCHEMY_HOOKS,  # an AsyncEngine's listeners are its sync_engine's
    # A default manager's get_queryset is built per call and may depend on when and who asks
    # (a tenant, a soft-delete switch); the fast GET's statement is built once.
    "django": ("Manager.get_queryset",),
    # An override of Database.execute (outside Peewee) sees the query object; fast reads call
    # execute_sql with the SQL of a statement built once.
    "peewee": ("Database.execute",),
}

# -- execution options (SQLAlchemy): those that leave a one-statement read as it is ----------------
#
# Caching, buffering and options of writes. Any other option is assumed to change the read:
# schema_translate_map changes its SQL, isolation_level is applied to each Connection by a
# listener, and an option added in a later release is not known to be harmless.
NEUTRAL_OPTIONS = frozenset(
    {
        "compiled_cache",
        "stream_results",
        "max_row_buffer",
        "yield_per",
        "insertmanyvalues_page_size",
        "preserve_rowcount",
    }
)

# -- drivers: those an ORM's fast path is written for, by ORM; None: any -------------------------
#
# SQLAlchemy's fast reads run on the DBAPI connection outside a transaction, which costs nothing
# only where the driver allows it (see _sa_fast): pysqlite and aiosqlite begin no transaction for
# a SELECT, psycopg's autocommit is a client-side switch, asyncpg commits a lone statement by
# itself. PyMySQL and aiomysql would spend a round trip on the switch, and psycopg's async twin
# (also "psycopg") has no fetch written for it: they take the Connection. Django's and Peewee's
# fast reads run on the ORM's own cursor, whatever the driver.
DRIVERS: Mapping[str, frozenset[str] | None] = {
    "sqlalchemy": frozenset({"pysqlite", "psycopg"}),  # psycopg2 would work alike, but is not tested
    "sqlalchemy async": frozenset({"aiosqlite", "asyncpg"}),
    "django": None,
    "peewee": None,
}

# -- column types --------------------------------------------------------------------------------
#
# No type is refused: fast rows go through the conversions the ORM's own path applies
# (SQLAlchemy's bind and result processors for the dialect and the driver's type codes, a
# TypeDecorator's process_result_value among them; Django's converters as its compiler lists
# them, from_db_value among them; Peewee's python_value). A conversion is skipped only where
# ``as_is`` allows it.


def as_is(columns: Mapping[str, type[Any]], identities: Mapping[type[Any], type[Any]]) -> dict[str, type[Any]]:
    """For the columns whose conversion may be skipped, the type of value it may be skipped for.

    ``columns``: column name -> the class of its ORM field or type; ``identities``: the
    ORM's own classes whose conversion returns a value of the given type as it is. The
    class must be exactly one of those: a subclass may convert differently (a Peewee
    field overriding python_value).
    """
    return {name: identities[kind] for name, kind in columns.items() if kind in identities}


@dataclass(slots=True)  # not frozen: made per read, and a frozen one takes three times as long to make
class Facts:
    """What an adapter knows about a read it would run on its fast path."""

    orm: str  # a key of HOOKS and DRIVERS: "sqlalchemy async" for an AsyncEngine
    # The DBAPI driver's name; None where it is not in question (the ORM's fast path takes any,
    # or the store asked once: the driver of an engine never changes).
    driver: str | None = None
    hooks: tuple[str, ...] = ()  # those of HOOKS[orm] with a listener or an override now
    options: Mapping[str, Any] | None = None  # execution options in force
    logged: bool = False  # the ORM logs each statement it executes


def refusal(facts: Facts) -> str | None:
    """Why the read must take the ORM's own path, or None when its fast path gives the same."""
    drivers = DRIVERS[facts.orm]
    if drivers is not None and facts.driver is not None and facts.driver not in drivers:
        return f"{facts.orm} has no fast path on the driver {facts.driver!r}"
    hooks = [hook for hook in facts.hooks if hook in HOOKS[facts.orm]] if facts.hooks else None
    if hooks:
        return f"{facts.orm} runs {', '.join(hooks)} as it executes a read"
    if facts.options and not facts.options.keys() <= NEUTRAL_OPTIONS:
        unknown = sorted(set(facts.options) - NEUTRAL_OPTIONS)
        return f"the execution options {', '.join(unknown)} may change the read"
    if facts.logged:
        # The ORM's log is a record of every statement; a read missing from it misleads.
        return f"{facts.orm} logs every statement"
    return None
