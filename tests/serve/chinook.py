"""The Chinook sample database (../shared/data/chinook) loaded into a database a test makes, and extras beside it.

The PostgreSQL script names everything in snake case (``album.artist_id``), the SQLite file and the
MySQL script in Pascal case (``Album.ArtistId``): ``Names`` gives each database's spelling.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from tests.databases import TestDatabase

DATA = Path(os.environ.get("ORMGATE_CHINOOK", Path(__file__).parents[3] / "shared" / "data" / "chinook"))
if not DATA.exists():  # the worktree's layout: /work/wt/<branch>, the data in /work/shared
    DATA = Path("/work/shared/data/chinook")

# Rows per table, as the data set documents them (15,607 in all).
ROWS = {
    "Album": 347,
    "Artist": 275,
    "Customer": 59,
    "Employee": 8,
    "Genre": 25,
    "Invoice": 412,
    "InvoiceLine": 2240,
    "MediaType": 5,
    "Playlist": 18,
    "PlaylistTrack": 8715,
    "Track": 3503,
}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True)
class Names:
    """Chinook's names as one database spells them."""

    database: str

    def __call__(self, name: str) -> str:
        return snake(name) if self.database == "postgresql" else name


def quote(database: str, name: str) -> str:
    return f"`{name}`" if database == "mysql" else f'"{name}"'


# Beside Chinook: a view, a table with a column no JSON type fits, a table whose names are no identifiers,
# and a table without a primary key. {q} quotes a name the database's way.
UNSERVED_TYPE = {"sqlite": "", "postgresql": "point", "mysql": "POINT"}


def extras(database: str) -> list[str]:
    n = Names(database)

    def q(name: str) -> str:
        return quote(database, name)

    autoincrement = {
        "sqlite": "INTEGER PRIMARY KEY",
        "postgresql": "SERIAL PRIMARY KEY",
        "mysql": "INT AUTO_INCREMENT PRIMARY KEY",
    }
    return [
        f"CREATE VIEW {q('Album Titles')} AS SELECT {q(n('AlbumId'))}, {q(n('Title'))} FROM {q(n('Album'))}",
        f"CREATE TABLE {q('Gadget')} ({q('GadgetId')} INT PRIMARY KEY, {q('Label')} VARCHAR(20) NOT NULL, "
        f"{q('Location')} {UNSERVED_TYPE[database]} NULL)",
        f"INSERT INTO {q('Gadget')} ({q('GadgetId')}, {q('Label')}) VALUES (1, 'one'), (2, 'two')",
        f"CREATE TABLE {q('order line')} ({q('line id')} {autoincrement[database]}, "
        f"{q('unit price')} NUMERIC(10, 2) NOT NULL, {q('Qty-1')} INT NULL)",
        f"INSERT INTO {q('order line')} ({q('unit price')}, {q('Qty-1')}) VALUES (1.50, 2), (0.99, NULL)",
        f"CREATE TABLE {q('Note')} ({q('Body')} VARCHAR(40) NOT NULL, {q('Stars')} INT NOT NULL)",
        f"INSERT INTO {q('Note')} ({q('Body')}, {q('Stars')}) VALUES ('b', 1), ('a', 2), ('a', 1)",
    ]


def _statements(script: str) -> list[str]:
    """The script's statements, without its DROP/CREATE DATABASE and connection switch."""
    kept = []
    for statement in script.split(";\n"):
        lines = [line for line in statement.splitlines() if line.strip() and not line.startswith("--")]
        text = "\n".join(lines).strip()
        text = re.sub(r"/\*.*?\*/", "", text, flags=re.S).strip()
        if not text or re.match(r"(DROP|CREATE) DATABASE|\\c |USE ", text, re.I):
            continue
        kept.append(text)
    return kept


def load(database: str, tmp: Path) -> TestDatabase:
    """A fresh database holding Chinook and the extras; drop it with ``.drop()``."""
    db = TestDatabase(database, "chinook", tmp)
    try:
        if database == "sqlite":
            shutil.copyfile(DATA / "Chinook_Sqlite.sqlite", db.path)
            db.path.chmod(0o644)
            statements = extras(database)
        else:
            script = (DATA / ("Chinook_PostgreSql.sql" if database == "postgresql" else "Chinook_MySql.sql")).read_text(
                encoding="utf-8-sig"
            )
            statements = _statements(script) + extras(database)
        engine = sa.create_engine(db.sync_url, poolclass=sa.NullPool)
        with engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.replace("%", "%%") if database != "sqlite" else statement)
        engine.dispose()
    except BaseException:
        db.drop()
        raise
    return db
