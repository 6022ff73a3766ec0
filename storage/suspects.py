"""Pages the rules refused (``suspect_pages``): how often, with what content, and when stored.

Invariants: the refusal count is per page and content, so other content starts it again
at 1 (and clears ``stored_at``); an article stored in spite of the rules (``review``)
marks its page's row stored, never deletes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage.models import SuspectPage
from storage.records import ArticleRecord, SuspectRecord

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from storage.records import Record


def record_suspects(session: Session, records: Sequence[Record], now: dt.datetime) -> None:
    """Count refusals per page and content; mark pages stored in spite of the rules."""
    for record in records:
        if isinstance(record, SuspectRecord):
            _refused(session, record)
        elif isinstance(record, ArticleRecord) and record.review:
            row = session.get(SuspectPage, record.url)
            if row is not None:
                row.stored_at = record.at or now


def _refused(session: Session, record: SuspectRecord) -> None:
    row = session.get(SuspectPage, record.url)
    if row is None:
        session.add(
            SuspectPage(
                url=record.url,
                content_hash=record.content_hash,
                reason=record.reason,
                times=1,
                first_at=record.at,
                last_at=record.at,
            )
        )
    elif row.content_hash == record.content_hash:
        row.times += 1
        row.last_at = record.at
    else:  # other content: the count starts again
        row.content_hash, row.reason, row.times = record.content_hash, record.reason, 1
        row.first_at = row.last_at = record.at
        row.stored_at = None
    session.flush()
