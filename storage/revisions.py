"""A stored URL fetched again: revise the article in place, or hold a much poorer version.

Invariants:

- nothing stored is replaced without its old version kept in ``revisions`` (the row says
  from when it was valid and why it was replaced);
- an unchanged version moves only last-seen times, and forgets any held version;
- a much poorer version (body shrunk below ``POORER_BODY_SHARE`` or cut short, date or
  source lost) is held in ``held_changes``, not applied; it is applied only when the site
  still serves the same version ``HELD_APPLY_AFTER`` after it was first held. While held,
  its page keeps no validators (``storage/batch.py``), so a 304 cannot hide it;
- a generic extractor's reading (``layout_version = generic``, no layout proven) is a
  stopgap, not a standard: a layout's reading replaces it as is (revision reason
  ``layout``), never held against it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from sqlalchemy import delete

from storage.dedupe import WHITE_SPACE, key_after_edit
from storage.layouts import GENERIC
from storage.models import Article, HeldChange, Revision
from storage.outcome import Outcome

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage.dedupe import Prepared
    from storage.records import ArticleRecord

logger = logging.getLogger(__name__)

# A version much poorer than the stored one is applied only if the site still serves it
# this long after it was first held (an outage's error page does not last a day).
HELD_APPLY_AFTER = dt.timedelta(hours=24)
# Much poorer: the body keeps less than this share of the stored one's characters.
POORER_BODY_SHARE = 0.5

CONTENT_FIELDS = ("title", "body", "published_at", "date_precision", "source_title", "author")


def revise(
    session: Session,
    article_id: int,
    prepared: Prepared,
    source_id: int | None,
    held_apply_after: dt.timedelta,
) -> Outcome:
    """Write the re-fetched `prepared` version over the stored article `article_id`."""
    record, now = prepared.record, prepared.at
    article = session.get_one(Article, article_id)
    unchanged = all(getattr(article, f) == getattr(record, f) for f in CONTENT_FIELDS)
    if unchanged and article.source_id == source_id:
        article.last_seen_at = now
        article.layout_version = record.layout_version or article.layout_version
        session.execute(delete(HeldChange).where(HeldChange.article_id == article_id))
        session.flush()
        return Outcome.UNCHANGED
    stopgap = article.layout_version == GENERIC and record.layout_version != GENERIC
    reason = None if stopgap else poorer(article, record, source_id)
    if reason is not None and _hold(session, article, prepared, reason, held_apply_after):
        article.last_seen_at = now
        session.flush()
        return Outcome.HELD
    why = "layout" if stopgap else record.revision_reason or "crawl"
    session.add(_revision(article, why, now))
    _apply(session, article, prepared, source_id)
    return Outcome.UPDATED


def poorer(article: Article, record: ArticleRecord, source_id: int | None) -> str | None:
    """Why the re-fetched `record` is much poorer than the stored `article`, or None."""
    old, new = WHITE_SPACE.sub("", article.body), WHITE_SPACE.sub("", record.body)
    if len(new) < POORER_BODY_SHARE * len(old):
        return "body_shrunk"
    if len(new) < len(old) and old.startswith(new):
        return "body_cut"  # the stored text, cut short: a page that arrived incomplete
    if article.published_at is not None and record.published_at is None:
        return "date_lost"
    if (article.source_id or article.source_title) and not (source_id or record.source_title):
        return "source_lost"
    return None


def _revision(article: Article, reason: str, now: dt.datetime) -> Revision:
    """The stored version, kept as it was until `now`."""
    return Revision(
        article_id=article.id,
        title=article.title,
        body=article.body,
        content_hash=article.content_hash,
        published_at=article.published_at,
        date_precision=article.date_precision,
        source_name=article.source.name if article.source else None,
        source_title=article.source_title,
        author=article.author,
        valid_from=article.updated_at,
        replaced_at=now,
        reason=reason,
    )


def _apply(session: Session, article: Article, prepared: Prepared, source_id: int | None) -> None:
    record, now = prepared.record, prepared.at
    key = key_after_edit(session, article, prepared.key, record.url)
    for field in CONTENT_FIELDS:
        setattr(article, field, getattr(record, field))
    article.published_raw = record.published_raw
    article.source_id = source_id
    article.content_hash = prepared.hash
    article.dedupe_key = key
    article.updated_at = now
    article.last_seen_at = now
    article.layout_version = record.layout_version
    session.flush()


def _hold(
    session: Session,
    article: Article,
    prepared: Prepared,
    reason: str,
    apply_after: dt.timedelta,
) -> bool:
    """Whether this poorer version is held (recorded in held_changes, not applied).
    Once the site has served the same version for `apply_after` it is not held any
    more: it is applied, and forgotten here."""
    hash_, now = prepared.hash, prepared.at
    held = session.get(HeldChange, article.id)
    if held is not None and held.content_hash == hash_:
        return _still_held(session, held, now, apply_after)
    if held is not None:
        session.delete(held)
        session.flush()
    session.add(
        HeldChange(
            article_id=article.id,
            content_hash=hash_,
            reason=reason,
            first_held_at=now,
            last_held_at=now,
            times=1,
        )
    )
    logger.warning("Article %s: a poorer version (%s) is held, not applied", article.url, reason)
    return True


def _still_held(
    session: Session, held: HeldChange, now: dt.datetime, apply_after: dt.timedelta
) -> bool:
    """The same poorer version served again: still held, or applied once it lasted."""
    if now - held.first_held_at >= apply_after:
        session.delete(held)
        logger.warning(
            "Applying the poorer version of article %s held since %s",
            held.article_id,
            held.first_held_at,
        )
        return False
    held.last_held_at = now
    held.times += 1
    return True
