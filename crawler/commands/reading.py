"""What the reading commands share: the one way they open the database (read-only, through
storage.db.open_readonly), their argument types, the category check and the output file.

Readers never write: no file is created, no schema migrated, no journal mode changed, and
no write lock taken, so a reader never waits on a crawl and a crawl never waits on it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import sys
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from sqlalchemy import select

from crawler.commands import CommandError
from crawler.exitcodes import EXIT_USAGE
from crawler.settings import NEWS_CATEGORIES, database_options, database_url
from storage.db import DatabaseOptions, ReadError, ReadOnlyDatabase, open_readonly
from storage.models import Category
from storage.preflight import unreachable, url_problem
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from collections.abc import Iterator

    from sqlalchemy.orm import Session

_DAYS_AGO = re.compile(r"(\d+)d")


def reachable_url(url: str | None = None) -> tuple[str, DatabaseOptions]:
    """The configured database URL and its options, once the URL is valid (else
    CommandError, exit 2) and its server answers (else CommandError, exit 1)."""
    url = database_url(url)
    if problem := url_problem(url):
        raise CommandError(problem, EXIT_USAGE)
    options = database_options()
    if problem := unreachable(url, options.pg_connect_timeout):
        raise CommandError(problem)
    return url, options


def open_database(url: str | None = None) -> ReadOnlyDatabase:
    """The configured database, read-only; CommandError (exit 2 for a bad URL, else 1)
    when it cannot be read as it is."""
    url, options = reachable_url(url)
    try:
        return open_readonly(url, options)
    except ReadError as error:
        raise CommandError(str(error)) from error


@contextlib.contextmanager
def reading(url: str | None = None) -> Iterator[Session]:
    """A session on the read-only database, disposed of afterwards."""
    database = open_database(url)
    try:
        with database.sessions() as session:
            yield session
    finally:
        database.dispose()


def check_category(session: Session, slug: str | None) -> None:
    """CommandError (exit 2) unless `slug` is a configured listing or one the database
    holds from an older setting."""
    if slug is None:
        return
    known = sorted({*NEWS_CATEGORIES, *session.scalars(select(Category.slug))})
    if slug not in known:
        raise CommandError(f"unknown category {slug!r}; known: {', '.join(known)}", EXIT_USAGE)


def day(text: str) -> dt.date:
    """An argument type for dates: ISO (2025-08-01), `today`, `yesterday`, or `7d` (seven
    days before today), in the site's time zone."""
    today = dt.datetime.now(SITE_TZ).date()
    named = {"today": today, "yesterday": today - dt.timedelta(days=1)}
    if (lowered := text.strip().lower()) in named:
        return named[lowered]
    if match := _DAYS_AGO.fullmatch(lowered):
        return today - dt.timedelta(days=int(match.group(1)))
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date: use 2025-08-01, today, yesterday or 7d"
        ) from None


def positive(text: str) -> int:
    """An argument type for --limit: a whole number of at least 1."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: must be a whole number, at least 1")
    return number


@contextlib.contextmanager
def output(path: str | None) -> Iterator[TextIO]:
    """The text file to write (`-o`), else standard output; CommandError when it cannot
    be opened."""
    if not path:
        yield sys.stdout
        return
    with _opened(path, "w") as out:
        yield out


@contextlib.contextmanager
def binary_output(path: str | None) -> Iterator[BinaryIO]:
    """The binary file to write (`-o`), else standard output's bytes."""
    if not path:
        yield sys.stdout.buffer
        return
    with _opened(path, "wb") as out:
        yield out


def _opened(path: str, mode: str) -> Any:
    try:
        if "b" in mode:
            return open(path, mode)  # noqa: PTH123  # pathlib adds nothing here; the caller closes it
        return open(path, mode, encoding="utf-8", newline="")  # noqa: PTH123  # idem
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from error
