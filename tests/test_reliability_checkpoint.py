"""A successful crawl leaves its data in the SQLite file itself, not in the write-ahead
log beside it: a backup by copying the .db file alone holds every article."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING

import pytest

from crawler.exitcodes import EXIT_OK
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.test_reliability_support import crawl, export

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer


@pytest.mark.slow
def test_the_db_file_alone_holds_the_crawl(site: SiteServer, tmp_path: Path) -> None:
    db = tmp_path / "ecnews.db"
    done = crawl(site, f"sqlite:///{db}", tmp_path)
    assert done.returncode == EXIT_OK, done.stderr[-3000:]
    copy = tmp_path / "copy" / "ecnews.db"
    copy.parent.mkdir()
    shutil.copyfile(db, copy)  # no -wal, no -shm
    problems = compare(export(f"sqlite:///{copy}"), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "\n".join(problems)
