"""SQLAlchemy: a row's many-to-many lists written with it, on the unit of work's connection.

``_sa_operations._Operations`` calls ``write_links`` after a create or an update that sets them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..links import Links, missing_link


def _through(relation: Any) -> sa.Table:
    through = relation.through
    return through if isinstance(through, sa.Table) else sa.inspect(through).local_table


def write_links(conn: sa.Connection, pk: Any, links: Links) -> None:
    """The join tables hold exactly the listed pairs for the row ``pk``: those gone deleted, new ones added."""
    for relation, ids in links.items():
        table = _through(relation)
        local, remote = table.c[relation.through_local], table.c[relation.through_remote]
        conn.execute(sa.delete(table).where(local == pk))
        if ids:
            try:
                conn.execute(sa.insert(table), [{local.key: pk, remote.key: value} for value in ids])
            except sa.exc.IntegrityError as exc:  # the row's key is there: an id names no row
                raise missing_link(relation) from exc
