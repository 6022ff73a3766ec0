"""`ecnews reextract`: the stored articles extracted again from the archive, with the
rules of today, without a request to the site (docs/archive.md).

The news spider and every pipeline run as in a full crawl; the archive answers the
downloads. Changed articles get a revision whose reason is ``reextract``; the never-worse
rules hold (a much poorer version is held, not applied). ``--rebuild`` replays every
archived crawl in order into an empty database: disaster recovery.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.archive.changes import (
    Changes,
    compare,
    describe,
    last_listed,
    stored,
    would_change,
)
from crawler.archive.store import IndexEntry, index_entries
from crawler.commands.reading import day
from crawler.exitcodes import EXIT_FAILED, EXIT_LOCKED, EXIT_OK, EXIT_USAGE
from crawler.stats_keys import ARTICLE_FAILED
from crawler.urls import canonical_url
from pipelines.stats_keys import PERSIST_HELD, PERSIST_UPDATED
from storage.db import Database, DatabaseOptions, ReadError
from storage.preflight import unreachable, url_problem

if TYPE_CHECKING:
    import argparse
    from collections import Counter

    from scrapy.settings import Settings

    from crawler.archive import runner

PROG = "ecnews reextract"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "reextract", help="extract the stored articles again from the archive (no requests)"
    )
    parser.add_argument(
        "--since", type=day, help="published on/after DATE (ISO, today, yesterday, 7d)"
    )
    parser.add_argument("--url", help="only this article")
    parser.add_argument("--category", help="only this category slug's listings")
    parser.add_argument("--dry-run", action="store_true", help="print what would change")
    parser.add_argument(
        "--rebuild", action="store_true", help="replay every archived crawl into an empty database"
    )
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")


class _Stop(Exception):
    """One line for the user, then this exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def run(args: argparse.Namespace) -> int:
    # Scrapy only now: the other commands start without it.
    from crawler.archive import runner  # noqa: PLC0415
    from crawler.run import CrawlLock, LockHeld, lock_file  # noqa: PLC0415

    try:
        settings, entries, before = _prepare(args)
        replays = _replays(args, settings, entries, before)
    except _Stop as stop:
        return _fail(str(stop), stop.code)
    database_url = settings["DATABASE_URL"]
    lock = lock_file(database_url, settings["ECNEWS_LOCK_FILE"])
    try:
        with CrawlLock(lock):
            outcome = runner.run(settings, settings["ARCHIVE_DIR"], replays, dry_run=args.dry_run)
    except LockHeld as held:
        return _fail(f"a crawl is running (pid {held}, lock {lock}); exiting", EXIT_LOCKED)
    if args.dry_run:
        changes = would_change(before, outcome.records)
        _print_changes(changes)
    else:
        changes = compare(before, stored(database_url, DatabaseOptions.from_settings(settings)))
    pages = outcome.total(runner.PAGES_READ)
    _summary(outcome, changes, pages, dry_run=args.dry_run, rebuild=args.rebuild)
    for problem in outcome.problems:
        print(f"{PROG}: {problem}", file=sys.stderr)
    return EXIT_FAILED if outcome.problems else EXIT_OK


def _prepare(
    args: argparse.Namespace,
) -> tuple[Settings, list[IndexEntry], dict[str, dict[str, Any]]]:
    """The settings, the archive's captures and the stored articles, or _Stop."""
    try:
        settings = _settings(args.settings)
    except ValueError as error:
        raise _Stop(str(error), EXIT_USAGE) from error
    database_url = settings["DATABASE_URL"]
    if problem := url_problem(database_url):
        raise _Stop(problem, EXIT_USAGE)
    folder = Path(settings["ARCHIVE_DIR"])
    entries = list(index_entries(folder)) if folder.is_dir() else []
    if not entries:
        raise _Stop(f"no archive under {folder} (ECNEWS_ARCHIVE_DIR)", EXIT_USAGE)
    categories = settings.getdict("NEWS_CATEGORIES")
    if args.category and args.category not in categories:
        known = ", ".join(categories)
        raise _Stop(f"unknown category {args.category!r}; known: {known}", EXIT_USAGE)
    if args.rebuild and (args.dry_run or args.url or args.since or args.category):
        raise _Stop("--rebuild takes no other option", EXIT_USAGE)
    options = DatabaseOptions.from_settings(settings)
    if problem := unreachable(database_url, options.pg_connect_timeout):
        raise _Stop(problem, EXIT_FAILED)
    if not args.dry_run:
        # Created (--rebuild) or brought to the schema's head.
        Database(database_url, options=options).dispose()
    try:
        before = stored(database_url, options)
    except ReadError as error:
        raise _Stop(str(error), EXIT_FAILED) from error
    if args.rebuild and before:
        raise _Stop(f"--rebuild needs an empty database; {len(before)} articles stored", EXIT_USAGE)
    if not args.rebuild and not before:
        raise _Stop("no stored article to reextract (for an empty database: --rebuild)", EXIT_USAGE)
    return settings, entries, before


def _replays(
    args: argparse.Namespace,
    settings: Settings,
    entries: list[IndexEntry],
    before: dict[str, dict[str, Any]],
) -> list[runner.Replay]:
    from crawler.archive import runner  # noqa: PLC0415

    common: dict[str, Any] = {"base_url": settings.get("NEWS_SITE_URL") or _site_of(entries)}
    if args.rebuild:
        # Each archived crawl again, in order, as it went: its captures, and the older ones.
        return [
            runner.Replay(until, {**common, "reason": "crawl"}) for until in _crawl_ends(entries)
        ]
    only = _only(before, args.url, args.since)
    if only is not None and not only:
        raise _Stop("no stored article matches --url/--since", EXIT_USAGE)
    if args.category:
        common["categories"] = args.category
    options = DatabaseOptions.from_settings(settings)
    unlisted = _unlisted(
        settings["DATABASE_URL"],
        options,
        entries=entries,
        before=before,
        only=only,
        category=args.category,
    )
    return [runner.Replay(None, {**common, "only": only, "unlisted": unlisted})]


def _unlisted(
    database_url: str,
    options: DatabaseOptions,
    *,
    entries: list[IndexEntry],
    before: dict[str, dict[str, Any]],
    only: frozenset[str] | None,
    category: str | None,
) -> dict[str, Any]:
    """The stored articles to replay even if no listing links them now: each one with a
    page in the archive (its last copy) and a listing the database remembers."""
    from crawler.archive.replay import Listed  # noqa: PLC0415

    archived = {entry.url for entry in entries if 200 <= entry.status < 300}
    urls = [u for u in before if u in archived and (only is None or u in only)]
    return {
        url: Listed(slug, name, title, day)
        for url, (slug, name, title, day) in last_listed(database_url, urls, options).items()
        if category is None or slug == category
    }


def _settings(pairs: list[str]) -> Settings:
    from scrapy.utils.project import get_project_settings  # noqa: PLC0415

    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    settings = get_project_settings()
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"-s takes NAME=VALUE, not {pair!r}")
        settings.set(name, value, priority="cmdline")
    return settings


def _fail(message: str, code: int) -> int:
    print(f"{PROG}: {message}", file=sys.stderr)
    return code


def _site_of(entries: list[IndexEntry]) -> str:
    """The site the archive holds: the host of its newest capture."""
    newest = max(entries, key=lambda entry: entry.fetched_at)
    split = urlsplit(newest.url)
    return f"{split.scheme}://{split.netloc}"


def _crawl_ends(entries: list[IndexEntry]) -> list[dt.datetime]:
    """When each archived crawl (one writer: one process) took its last capture, in order."""
    ends: dict[str, dt.datetime] = {}
    for entry in entries:
        run = entry.file.rsplit("-", 1)[0]
        ends[run] = max(ends.get(run, entry.fetched_at), entry.fetched_at)
    return sorted(ends.values())


def _only(
    before: dict[str, dict[str, Any]], url: str | None, since: dt.date | None
) -> frozenset[str] | None:
    """The article URLs --url/--since select (every URL of each), None for all."""
    if url is None and since is None:
        return None
    wanted = canonical_url(url) if url else None
    chosen: set[str] = set()
    for record in before.values():
        urls = {record["url"], *(record.get("urls") or [])}
        if wanted is not None and wanted not in urls:
            continue
        if since is not None:
            published = record.get("published_at")
            if not published or dt.date.fromisoformat(published[:10]) < since:
                continue
        chosen.update(urls)
    return frozenset(chosen)


def _print_changes(changes: Changes) -> None:
    for url, diffs in sorted(changes.articles.items()):
        print(url)
        for name, old, new in diffs:
            print(f"  {name}: {describe(old)} -> {describe(new)}")
    for url in sorted(changes.new):
        print(f"{url}\n  new article")


def _summary(
    outcome: runner.Outcome, changes: Changes, pages: int, *, dry_run: bool, rebuild: bool
) -> None:
    per_field: Counter[str] = changes.per_field
    fields = ", ".join(f"{name} {count}" for name, count in sorted(per_field.items())) or "none"
    verb = "would change" if dry_run else "changed"
    stored_new = len(changes.new)
    lines = [
        f"pages read: {pages}",
        f"articles {verb}: {len(changes.articles)} (by field: {fields})",
        f"articles new: {stored_new}" + (" (rebuilt)" if rebuild else ""),
        f"held (poorer, not applied): {outcome.total(PERSIST_HELD)}",
        f"failed: {outcome.total(ARTICLE_FAILED)}",
    ]
    if not dry_run:
        lines.insert(2, f"revisions written: {outcome.total(PERSIST_UPDATED)}")
    print("\n".join(lines))
