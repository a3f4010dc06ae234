"""Django: a row's many-to-many lists written with it, in the unit of work's transaction."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from ..adapters.base import Check, Hook, Row, Where
from ..relations import Links, missing_link, split_links
from .django import _SyncStore, zero_key_is_missing


class LinkedStore(_SyncStore):
    """The store of a model with many-to-many relations: a write may set their lists."""

    def _links(self, pk: Any, links: Links) -> None:
        # Through the join model's manager, as ``related.set()`` writes them; delete, then insert.
        for relation, ids in links.items():
            through = relation.through._default_manager.using(self.adapter.alias)
            through.filter(**{relation.through_local: pk}).delete()
            try:
                with zero_key_is_missing(missing_link(relation)):
                    through.bulk_create(
                        [
                            relation.through(**{relation.through_local: pk, relation.through_remote: value})
                            for value in ids
                        ]
                    )
                # Django makes foreign keys deferred (PostgreSQL, SQLite): checked now, the failure
                # is this list's, not an anonymous one at COMMIT.
                if ids:
                    connections[self.adapter.alias].check_constraints(table_names=[relation.through._meta.db_table])
            except IntegrityError as exc:  # the row's key is there: an id names no row
                raise missing_link(relation) from exc

    def _create(self, connection: BaseDatabaseWrapper, values: Row, hook: Hook | None = None) -> Row:
        values, links = split_links(self.info, values)
        row = super()._create(connection, values, hook)
        self._links(row[self.info.pk.name], links)
        return row

    def _update(
        self,
        connection: BaseDatabaseWrapper,
        pk: Any,
        values: Row,
        check: Check | None,
        where: Where = None,
        hook: Hook | None = None,
    ) -> Row:
        values, links = split_links(self.info, values)
        row = super()._update(connection, pk, values, check, where, hook)
        self._links(pk, links)
        return row
