"""Names of the Scrapy stats the pipelines keep, in one place: the monitors, the
crawl_runs row and the benchmarks read them. A name ending in ``/`` is a prefix: the
reason, field or outcome follows it (``pipeline/dropped/no_body``)."""

from __future__ import annotations

ARTICLES = "pipeline/articles"
"""Articles that reached validation (the fill rates' denominator)."""
FILLED = "pipeline/filled/"
"""+ field: articles with that field filled."""
DROPPED = "pipeline/dropped"
DROPPED_BY = "pipeline/dropped/"
SANITIZED = "pipeline/sanitized/"
TOO_LONG = "pipeline/too_long/"
INVALID_FIELD = "pipeline/invalid/"
"""+ field: items that failed the item schema check on it (pipelines/check.py)."""

ATTRIBUTION_NONE = "pipeline/attribution/none"

DATES_UNPARSEABLE = "pipeline/dates/unparseable"
DATES_WHY = "pipeline/dates/"
DATES_FROM_LISTING = "pipeline/dates/from_listing"
DATES_MISSING = "pipeline/dates/missing"
DATES_FUTURE = "pipeline/dates/future"

PERSIST = "pipeline/persist/"
"""+ outcome (new, updated, unchanged, merged, held): what storing an article did; held:
a re-fetched version much poorer than the stored one, not applied."""
PERSIST_NEW = "pipeline/persist/new"
PERSIST_UPDATED = "pipeline/persist/updated"
PERSIST_UNCHANGED = "pipeline/persist/unchanged"
PERSIST_MERGED = "pipeline/persist/merged"
PERSIST_HELD = "pipeline/persist/held"
PERSIST_FAILED = "pipeline/persist/failed"
"""Writes that did not reach the database (spooled or rejected): the run fails."""
PERSIST_SPOOLED = "pipeline/persist/spooled"
PERSIST_REJECTED = "pipeline/persist/rejected"
PERSIST_RETRIED = "pipeline/persist/retried"
PERSIST_BATCH_RETRIED = "pipeline/persist/batch_retried"
PERSIST_BATCHES = "pipeline/persist/batches"
PERSIST_REPLAYED = "pipeline/persist/replayed"
PERSIST_REPLAY_STALE = "pipeline/persist/replay_stale"
PERSIST_SPOOL_PENDING = "pipeline/persist/spool_pending"
PERSIST_SPOOL_UNREADABLE = "pipeline/persist/spool_unreadable"
PERSIST_WRITER_FAILED = "pipeline/persist/writer_failed"
"""The writer process died or stalled: every item it held was spooled."""

SUSPECT = "news/article/suspect"
"""Article pages that do not look like the article their listing promised: not stored."""
SUSPECT_BY = "news/article/suspect/"
SUSPECT_STORED = "news/article/suspect_stored"
"""Pages refused by earlier runs with the same content, stored this time for review."""

LAYOUT_CHANGED = "news/layout/changed"
"""The message of a layout learned, proven and stored by this run (crawl_runs keeps it):
set by pipelines/layout.py, so only the worker whose store won says it."""
