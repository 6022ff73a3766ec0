"""`ecnews db backup`: a consistent copy of a SQLite database in one file.

SQLite's online backup API copies the pages as the database shows them, the ones still in
the `-wal` file included, while a crawl may be writing; copying the main file alone (cp)
can miss the newest data or catch a half-written page. The source is opened read-only, the
copy is written beside the target and renamed into place once checked, and it is left in
rollback-journal mode: one self-contained file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING

from storage.db import sqlite_readonly_uri

if TYPE_CHECKING:
    from pathlib import Path

PAGES_PER_STEP = 1024
"""Pages copied per step; between steps a writer may take its lock."""


class BackupError(Exception):
    """The copy could not be made; the message is one line for the user."""


def backup_sqlite(source: Path, target: Path) -> int:
    """Copy `source` to `target` (which must not exist); the copy's size in bytes."""
    if target.exists():
        raise BackupError(f"{target} exists; choose a new file (a backup never overwrites)")
    partial = target.with_name(f".{target.name}.partial")
    url = sqlite_readonly_uri(source)
    options = "&".join(f"{key}={value}" for key, value in url.query.items() if key != "uri")
    try:
        with (
            contextlib.closing(sqlite3.connect(f"{url.database}?{options}", uri=True)) as src,
            contextlib.closing(sqlite3.connect(partial)) as copy,
        ):
            src.backup(copy, pages=PAGES_PER_STEP)
            copy.execute("PRAGMA journal_mode=DELETE")
            if (verdict := copy.execute("PRAGMA quick_check").fetchone()[0]) != "ok":
                raise BackupError(f"the copy of {source} does not check out: {verdict}")
        partial.replace(target)
    except sqlite3.Error as error:
        raise BackupError(f"cannot back up {source}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
    return target.stat().st_size
