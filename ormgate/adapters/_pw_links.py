"""Peewee: a row's many-to-many lists written with it, in one transaction."""

from __future__ import annotations

from typing import Any

import peewee as pw

from ..adapters.base import Check, Hook, Row, Where
from ..relations import Links, missing_link, split_links
from ._pw_describe import _api_fields
from ._pw_store import _SyncStore


class LinkedStore(_SyncStore):
    """The store of a model with many-to-many relations: a write that sets their lists runs in a transaction."""

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

    def create(self, values: Row, hook: Hook | None = None) -> Row:
        values, links = split_links(self.info, values)
        if not links:
            return super().create(values, hook)

        def create() -> Row:
            changed = dict(values)  # the hook's to change; a repeated unit of work starts from the request's
            if hook is not None:
                hook("before", self.db, changed)
            row = self._get(self.model.insert(self._insertable(changed)).execute())
            assert row is not None
            self._links(row[self.info.pk.name], links)
            if hook is not None:
                hook("after", self.db, row)
            return row

        return self._run(create)

    def update(
        self, pk: Any, values: Row, check: Check | None = None, where: Where = None, hook: Hook | None = None
    ) -> Row:
        values, links = split_links(self.info, values)
        if not links:
            return super().update(pk, values, check, where, hook)

        def update() -> Row | None:
            row = self._update(pk, values, check, where, hook)
            if row is not None:
                self._links(pk, links)
            return row

        row = self._run(update)
        if row is None:
            raise self._not_found(pk)
        return row

    def _insertable(self, values: Row) -> dict[Any, Any]:
        defaults = {name: d() if callable(d) else d for name, d in self.defaults if name not in values}
        fields = _api_fields(self.model)
        return {fields[name]: value for name, value in {**defaults, **values}.items()}
