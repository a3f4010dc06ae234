"""What makes ``ormgate serve`` without ``--allow-writes`` read-only at the database, not only in its routes.

Without ``--allow-writes`` no write route exists; this module makes the connections themselves
unable to write, so that neither a bug nor the connection set-up can change the database:

- SQLite: the file is opened read-only, as the URI filename ``file:<path>?mode=ro``. Nothing is
  created beside it (no ``-wal``, ``-shm`` or ``-journal``) and its journal mode is left as it is
  (the adapter's WAL switch is skipped for such a connection, see ``adapters/_sqlite.py``), so a
  read-only file in a read-only directory is servable.
- PostgreSQL: each new connection runs ``SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY``
  (its ``default_transaction_read_only``): any write is refused by the server.
- MySQL/MariaDB: each new connection runs ``SET SESSION TRANSACTION READ ONLY``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

_READ_ONLY_SESSION = {
    "postgresql": "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
    "mysql": "SET SESSION TRANSACTION READ ONLY",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}


def read_only_url(url: str) -> sa.URL:
    """``url`` opening its database read-only where the URL can say so: a SQLite file as ``file:…?mode=ro``."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return parsed
    query = dict(parsed.query)
    if str(query.get("uri", "")).lower() not in ("true", "1"):
        # A path becomes a URI filename: '?', '#' and '%' in it are percent-encoded.
        parsed = parsed.set(database=f"file:{quote(parsed.database or '', safe='/')}")
        query["uri"] = "true"
    query["mode"] = "ro"  # whatever mode a URI filename asked for
    return parsed.set(query=query)


def read_only_sessions(engine: sa.Engine | AsyncEngine) -> None:
    """Make every connection the engine opens read-only at the database (PostgreSQL, MySQL/MariaDB)."""
    sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
    statement = _READ_ONLY_SESSION.get(sync_engine.dialect.name)
    if statement is None:
        return

    def connect(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(statement)
        cursor.close()
        # On PostgreSQL a SET is undone with the transaction it ran in: committed, it is the session's.
        dbapi_connection.commit()

    sa.event.listen(sync_engine, "connect", connect)
