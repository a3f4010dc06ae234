"""SQLAlchemy: a row's many-to-many lists written with it, on the unit of work's connection."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..adapters.base import Check, Hook, Row, Where
from ..relations import Links, missing_link, split_links
from .sqlalchemy import _Operations


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


class LinkedOperations(_Operations):
    """The operations of a model with many-to-many relations: a write may set their lists."""

    def create(self, conn: sa.Connection, values: Row, hook: Hook | None = None) -> Row:
        values, links = split_links(self.info, values)
        row = super().create(conn, values, hook)
        write_links(conn, row[self.info.pk.name], links)
        return row

    def update(
        self,
        conn: sa.Connection,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        values, links = split_links(self.info, values)
        row = super().update(conn, pk, values, check, where, hook)
        write_links(conn, pk, links)
        return row
