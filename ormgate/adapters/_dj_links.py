"""Django: a row's many-to-many lists written with it, in the unit of work's transaction."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, connections

from ..links import Links, missing_link
from ._dj_store import _SyncStore, zero_key_is_missing


class LinkedStore(_SyncStore):
    """The store of a model with many-to-many relations: a write may set their lists.

    ``_SyncStore``'s create and update hand a write's lists to ``_links`` once the row is written.
    """

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
