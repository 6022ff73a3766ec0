"""A legitimate edit that shortens an article (to about a third) is held, never hidden by
a 304 (the held page keeps no validators), and applied once the site still serves it
after the hold period."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from crawler.exitcodes import EXIT_OK
from storage.db import Database
from storage.models import Article, ArticleUrl, HeldChange, Page
from tests.conftest import SITE, ecnews
from tests.siteserver import SiteServer
from tests.test_reliability_support import crawl, latest_run_cell

if TYPE_CHECKING:
    from pathlib import Path

ARTICLE = "news/rdjj/2025/0806/1007.html"
_PARAGRAPH = re.compile(r"<p(?: style=\"text-indent:2em;\")?>.*?</p>", re.DOTALL)
HOLD = ("-s", "PERSIST_HELD_APPLY_AFTER_HOURS=0.0001")  # 0.36 s


def _shortened(html: str) -> str:
    """The page with its body paragraphs after the first few removed (about a third left)."""
    paragraphs = _PARAGRAPH.findall(html)
    total = sum(len(p) for p in paragraphs)
    kept = 0
    for paragraph in paragraphs:
        if kept + len(paragraph) > 0.34 * total:
            html = html.replace(paragraph, "", 1)
        else:
            kept += len(paragraph)
    return html


def _text(html: str) -> int:
    return len(re.sub(r"<[^>]+>|\s", "", "".join(_PARAGRAPH.findall(html))))


def _state(db: str) -> tuple[str, int, str | None]:
    """(body, held versions, the page's stored ETag)."""
    database = Database(db)
    try:
        with database.sessions() as session:
            body = session.scalar(
                select(Article.body).join(ArticleUrl).where(ArticleUrl.url.like(f"%/{ARTICLE}"))
            )
            held = len(session.scalars(select(HeldChange)).all())
            etag = session.scalar(select(Page.etag).where(Page.url.like(f"%/{ARTICLE}")))
    finally:
        database.dispose()
    assert body is not None
    return body, held, etag


@pytest.mark.slow
def test_a_shortened_article_is_held_then_applied(database_url: str, tmp_path: Path) -> None:
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, database_url, tmp_path, "--mode", "full").returncode == EXIT_OK
        port = site.port  # the same URLs next time
    original, held, _ = _state(database_url)
    assert held == 0
    overlay = tmp_path / "overlay"
    (overlay / ARTICLE).parent.mkdir(parents=True)
    page = (SITE / "v1" / ARTICLE).read_text("utf-8")
    (overlay / ARTICLE).write_text(_shortened(page), "utf-8")
    assert 0.25 < _text(_shortened(page)) / _text(page) < 0.4

    with SiteServer(SITE, "v1", overlay=overlay, port=port) as site:
        edit = crawl(site, database_url, tmp_path, "--mode", "full", *HOLD)
        assert edit.returncode == EXIT_OK, edit.stderr[-3000:]
        body, held, etag = _state(database_url)
        assert (body, held) == (original, 1), "the much shorter version is held"
        assert etag is None, "a held page keeps no validators"
        assert _held_in_runs(database_url, tmp_path) == "1", "`ecnews runs` shows it held"

        time.sleep(1)  # past the hold period; the site still serves the short version
        site.clear_log()
        again = crawl(site, database_url, tmp_path, "--mode", "full", *HOLD)
        assert again.returncode == EXIT_OK, again.stderr[-3000:]
        fetched = [r.status for r in site.log if r.path.endswith(ARTICLE)]
        assert fetched == [200], f"the held page was fetched whole, not 304: {fetched}"
    body, held, etag = _state(database_url)
    assert held == 0
    assert body != original
    assert len(body) < 0.45 * len(original)
    assert etag is not None, "applied: the validators are stored again"


def _held_in_runs(db: str, tmp_path: Path) -> str:
    """The `held` cell of the latest run in `ecnews runs`."""
    shown = ecnews("runs", database_url=db, tmp_path=tmp_path)
    assert shown.returncode == EXIT_OK, shown.stderr
    return latest_run_cell(shown.stdout, "held")
