"""Ids of the category and source rows a batch refers to, inserting the missing ones.

Invariants: category and source rows are never deleted, so an id seen committed is cached
for the process (per database) and looked up once; an id this transaction inserted is
cached only once the transaction commits, so a rolled-back id is never reused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event, select

from storage.models import Category, Source
from storage.records import ArticleRecord, ListingRecord, Record, WalkRecord
from storage.statements import table

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

# (database, kind, name) -> id of category and source rows seen committed.
_COMMITTED_IDS: dict[tuple[str, str, str], int] = {}


class References:
    def __init__(self, session: Session, database_key: str, insert: Any) -> None:
        self.session = session
        self._database_key = database_key
        self._insert = insert
        self._uncommitted_ids: dict[tuple[str, str, str], int] = {}

    def category_id(self, slug: str) -> int:
        return self._cached("slug", slug)

    def source_id(self, name: str) -> int:
        return self._cached("name", name)

    def resolve(self, records: Sequence[Record]) -> None:
        """Look up (inserting the missing) every category and source `records` name."""
        categories: dict[str, str] = {}
        sources: set[str] = set()
        for record in records:
            if isinstance(record, ArticleRecord):
                if record.category_slug:
                    categories.setdefault(
                        record.category_slug, record.category_name or record.category_slug
                    )
                if record.source:
                    sources.add(record.source)
            elif isinstance(record, ListingRecord | WalkRecord):
                categories.setdefault(
                    record.category_slug, record.category_name or record.category_slug
                )
        if categories:
            self._ids(Category, "slug", {slug: {"name": n} for slug, n in categories.items()})
        if sources:
            self._ids(Source, "name", {name: {} for name in sources})

    def _cached(self, kind: str, value: str) -> int:
        key = (self._database_key, kind, value)
        found = self._uncommitted_ids.get(key) or _COMMITTED_IDS.get(key)
        if found is None:
            raise KeyError(f"{kind} {value!r} was not resolved for this batch")
        return found

    def _ids(self, model: Any, kind: str, wanted: dict[str, dict[str, Any]]) -> None:
        """Look up (inserting the missing) category or source rows by their unique name."""
        missing = [
            v
            for v in wanted
            if (self._database_key, kind, v) not in _COMMITTED_IDS
            and (self._database_key, kind, v) not in self._uncommitted_ids
        ]
        if not missing:
            return
        column = getattr(model, kind)
        found: dict[str, int] = dict(
            self.session.execute(select(column, model.id).where(column.in_(missing))).all()
        )
        absent = [v for v in missing if v not in found]
        if absent:
            self.session.execute(
                self._insert(table(model)).on_conflict_do_nothing(index_elements=[kind]),
                [{kind: v, **wanted[v]} for v in absent],
            )
            found.update(
                self.session.execute(select(column, model.id).where(column.in_(absent))).all()
            )
        if not self._uncommitted_ids:
            # Cached for the process only once this transaction commits.
            event.listen(self.session, "after_commit", self._promote_ids, once=True)
        for value, id_ in found.items():
            self._uncommitted_ids[(self._database_key, kind, value)] = int(id_)

    def _promote_ids(self, _session: Session) -> None:
        _COMMITTED_IDS.update(self._uncommitted_ids)
        self._uncommitted_ids.clear()
