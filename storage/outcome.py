"""What a batch did with each article record, and the race that makes it retry.

Invariant: every article record of a batch gets exactly one ``Outcome``; a batch that
raises ``ConcurrentWrite`` has written nothing the caller keeps (it rolls back and retries).
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    MERGED = "merged"
    """Same title and body as a stored article under another URL: the URL became an alias."""
    HELD = "held"
    """A re-fetched version much poorer than the stored one: not applied (held_changes)."""
    STALE = "stale"
    """A spooled record older than what the database holds: not written again."""


class ConcurrentWrite(Exception):
    """Another writer stored the same URL or content between our read and our write."""
