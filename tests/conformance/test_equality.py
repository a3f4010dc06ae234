"""One meaning of equality: text SQLite and PostgreSQL tell apart is told apart on every database.

MariaDB's default collation (utf8mb4_general_ci) ignores case and accents, pads
with spaces and weighs every character beyond the BMP alike, so that a unique
index took each pair of NAMES for one value and ``?name=`` found both. Tables
ormgate creates compare code points; its equality filters do on other tables too.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ormgate.adapters.peewee import PeeweeAdapter, connect
from ormgate.adapters.sqlalchemy import SQLAlchemyAdapter
from tests import databases
from tests.conformance.test_contract import assert_problem
from tests.conftest import NOT_TESTED, Served

# Distinct strings, each after the one it collided with: case, accents, a trailing space,
# characters beyond the BMP, and a decomposed accent.
NAMES = ["alice", "ALICE", "e", "é", "e\u0301", "a", "a ", "😀🎉", "💩🎈"]
PASSWORD = "correct horse"


def _ids(api: Served, path: str, **params: str) -> list[int]:
    response = api.client.get(path, params={"limit": "100", **params})
    assert response.status_code == 200, response.text
    return [row["id"] for row in response.json()["items"]]


def _created(api: Served, path: str, body: dict[str, Any]) -> int:
    response = api.client.post(path, json=body)
    assert response.status_code == 201, (body, response.text)
    return int(response.json()["id"])


def test_usernames_and_emails_that_differ_are_different_users(users_service: Served) -> None:
    users = users_service
    users.clear("users")
    # Emails differing in the case of their local part (which is the user's) are two addresses.
    emails = {"alice": "Grace@example.com", "ALICE": "grace@example.com"}
    made = {
        name: _created(
            users, "/users", {"username": name, "email": emails.get(name, f"user{i}@example.com"), "password": PASSWORD}
        )
        for i, name in enumerate(NAMES)
    }
    for name, user in made.items():
        assert _ids(users, "/users", username=name) == [user], repr(name)
    chosen = ["ALICE", "a ", "😀🎉"]
    assert sorted(_ids(users, "/users", username__in=",".join(chosen))) == sorted(made[n] for n in chosen)
    assert _ids(users, "/users", email="grace@example.com") == [made["ALICE"]]
    assert _ids(users, "/users", email="Grace@example.com") == [made["alice"]]
    # An update is held to the same meaning: "Alice" is taken by nobody.
    response = users.client.patch(f"/users/{made['alice']}", json={"username": "Alice"})
    assert response.status_code == 200, response.text
    # And the very same value is still a conflict.
    duplicate = {"username": "a ", "email": "x@example.com", "password": PASSWORD}
    body = assert_problem(users.client.post("/users", json=duplicate), 409)
    assert body["errors"][0]["field"] == "username"
    assert users.scalar("SELECT COUNT(*) FROM users") == len(NAMES)


def test_category_names_that_differ_are_different_categories(contract: Served) -> None:
    tag = uuid.uuid4().hex[:8]
    made = {name: _created(contract, "/categories", {"name": tag + name}) for name in NAMES}
    try:
        _assert_exact_filters(contract, "/categories", tag, made)
    finally:
        for category in made.values():
            assert contract.client.delete(f"/categories/{category}").status_code == 204


def test_equality_is_exact_on_a_column_under_the_databases_default_collation(contract: Served) -> None:
    """The filters of a table ormgate did not create, e.g. by a migration with the database's defaults."""
    tag = uuid.uuid4().hex[:8]
    made = {name: _created(contract, "/items", {"name": tag + name}) for name in NAMES}
    try:
        with _database_default_collation(contract, "items", "name"):
            _assert_exact_filters(contract, "/items", tag, made)
    finally:
        for item in made.values():
            assert contract.client.delete(f"/items/{item}").status_code == 204


def _assert_exact_filters(api: Served, path: str, tag: str, made: dict[str, int]) -> None:
    """``eq``, ``in`` and ``ne`` on ``name`` tell every one of ``made`` (``tag`` + name -> id) apart."""
    for name, row in made.items():
        assert _ids(api, path, name=tag + name) == [row], repr(name)
        others = [other for n, other in made.items() if n != name]
        assert sorted(_ids(api, path, name__ne=tag + name, name__startswith=tag)) == sorted(others), repr(name)
    chosen = ["ALICE", "é", "a ", "💩🎈"]
    found = _ids(api, path, name__in=",".join(tag + n for n in chosen))
    assert sorted(found) == sorted(made[n] for n in chosen)


@contextlib.contextmanager
def _database_default_collation(api: Served, table: str, column: str) -> Iterator[None]:
    """``table.column`` as a table made without ormgate has it, for the time of the block.

    On SQLite and PostgreSQL ormgate's tables already have the database's defaults.
    """
    if api.pair.database != "mysql":
        yield
        return
    where = "TABLE_SCHEMA = DATABASE() AND TABLE_NAME = :table AND COLUMN_NAME = :column"
    with api.engine.connect() as conn:
        kind, nullable, collation = conn.execute(
            sa.text(f"SELECT COLUMN_TYPE, IS_NULLABLE, COLLATION_NAME FROM information_schema.COLUMNS WHERE {where}"),
            {"table": table, "column": column},
        ).one()
    default = api.scalar(
        "SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()"
    )
    # The test proves something only where that collation takes two of NAMES for one value.
    assert api.scalar(f"SELECT _utf8mb4'ALICE' COLLATE {default} = _utf8mb4'alice'") == 1

    def alter(to: str) -> None:
        null = "NULL" if nullable == "YES" else "NOT NULL"
        with api.engine.begin() as conn:
            conn.execute(sa.text(f"ALTER TABLE {table} MODIFY {column} {kind} COLLATE {to} {null}"))

    alter(default)
    try:
        yield
    finally:
        alter(collation)


@pytest.fixture
def mysql_database(tmp_path: Path) -> Iterator[databases.TestDatabase]:
    why = databases.unavailable("mysql")
    if why is not None:
        if databases.REQUIRED:
            pytest.fail(f"{why}; ORMGATE_REQUIRE_DATABASES=1 requires it")
        pytest.skip(NOT_TESTED + why)
    db = databases.TestDatabase("mysql", "collation", tmp_path)
    yield db
    db.drop()


def _collations(db: databases.TestDatabase) -> dict[str, str]:
    engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT TABLE_NAME, COLLATION_NAME FROM information_schema.COLUMNS"
                " WHERE TABLE_SCHEMA = DATABASE() AND COLUMN_NAME = 'name'"
            )
        ).all()
    engine.dispose()
    return {table: collation for table, collation in rows}


@pytest.mark.mysql
@pytest.mark.sqlalchemy
def test_sqlalchemy_tables_that_choose_a_collation_keep_it(mysql_database: databases.TestDatabase) -> None:
    class Base(DeclarativeBase):
        pass

    class Plain(Base):
        __tablename__ = "plain"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(20), unique=True)

    class Own(Base):
        __tablename__ = "own"
        __table_args__ = {"mysql_collate": "utf8mb4_unicode_ci"}  # noqa: RUF012 (SQLAlchemy reads a plain dict)
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(sa.String(20), unique=True)

    engine = sa.create_engine(mysql_database.sync_url)
    asyncio.run(SQLAlchemyAdapter(engine).create_tables([Plain, Own]))
    engine.dispose()
    assert _collations(mysql_database) == {"plain": "utf8mb4_nopad_bin", "own": "utf8mb4_unicode_ci"}
    # The options were lent for the DDL only: the user's tables are as declared.
    assert dict(Base.metadata.tables["plain"].kwargs) == {}
    assert dict(Base.metadata.tables["own"].kwargs) == {"mysql_collate": "utf8mb4_unicode_ci"}


@pytest.mark.mysql
@pytest.mark.peewee
def test_peewee_tables_that_choose_a_collation_keep_it(mysql_database: databases.TestDatabase) -> None:
    class Plain(pw.Model):
        name = pw.CharField(max_length=20, unique=True)

        class Meta:
            table_name = "plain"

    class Own(pw.Model):
        name = pw.CharField(max_length=20, unique=True)

        class Meta:
            table_name = "own"
            table_settings = ("COLLATE=utf8mb4_unicode_ci",)

    database = connect(mysql_database.sync_url)
    asyncio.run(PeeweeAdapter(database).create_tables([Plain, Own]))
    database.close()
    assert _collations(mysql_database) == {"plain": "utf8mb4_nopad_bin", "own": "utf8mb4_unicode_ci"}
    assert Plain._meta.table_settings is None
    assert Own._meta.table_settings == ("COLLATE=utf8mb4_unicode_ci",)
