"""Peewee: a row's many-to-many lists written with it, in one transaction."""

from __future__ import annotations

from typing import Any

import peewee as pw

from ..adapters.base import Row
from ..links import Links, missing_link, split_links
from ._pw_describe import _api_fields
from ._pw_store import _SyncStore


class LinkedStore(_SyncStore):
    """The store of a model with many-to-many relations: a write that sets their lists runs in a transaction.

    The writes themselves, hooks included, are ``_SyncStore``'s: it calls ``_links`` after the row.
    """

    def _split(self, values: Row) -> tuple[Row, Links]:
        return split_links(self.info, values)

    def _links(self, pk: Any, links: Links) -> None:
        for relation, ids in links.items():
            through = self.adapter.bound(relation.through)
            fields = _api_fields(through)
            local, remote = fields[relation.through_local], fields[relation.through_remote]
            through.delete().where(local == pk).execute()
            if ids:
                try:
                    through.insert_many([{local: pk, remote: value} for value in ids]).execute()
                except pw.IntegrityError as exc:  # the row's key is there: an id names no row
                    raise missing_link(relation) from exc
