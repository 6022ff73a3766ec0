"""Pages that answer 200 but are not the article: nothing stored gets worse.

The real crawl against the snapshot server, with these served over the real pages (an
overlay): a "system busy" page in the site's own layout, for new articles in an
incremental run and for every stored article in a full one; a redesign that moves the
content id to the page's wrapper; a server whose Content-Length counts characters. Each
ends with the exit code and reason, the stored articles as they were, and, once the
site recovers, the next run's export equal to gold.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from pipelines.rules import decode_html
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow

GOLD_V1 = load_jsonl(SITE / "gold-v1.jsonl")
GOLD_V2 = load_jsonl(SITE / "gold-v2.jsonl")
_H1 = re.compile(r"(<h1[^>]*>).*?(</h1>)", re.DOTALL)
_INFO = re.compile(r'<div class="article-info">.*?</div>', re.DOTALL)
_CONTENT = re.compile(
    r'(<div class="article-content" id="content">).*?(</div>\s*</div>)', re.DOTALL
)


def _article_paths(version: str) -> list[str]:
    return sorted(
        path.relative_to(SITE / version).as_posix()
        for path in (SITE / version / "news").rglob("*.html")
        if path.parent.name.isdigit()
    )


_CHARSET = re.compile(r"""charset=["']?[\w-]+["']?""", re.IGNORECASE)


def _as_utf8(version: str, path: str) -> str:
    """A snapshot page as UTF-8 text, whatever it was written in (GBK pages too)."""
    decoded = decode_html((SITE / version / path).read_bytes(), "text/html")
    return _CHARSET.sub('charset="utf-8"', decoded.text, count=1)


def _is_utf8(version: str, path: str) -> bool:
    return decode_html((SITE / version / path).read_bytes(), "text/html").encoding == "utf-8"


def _utf8_page(version: str) -> str:
    """An article page of the snapshot in UTF-8: the site's layout for a notice."""
    for path in _article_paths(version):
        try:
            text = (SITE / version / path).read_text("utf-8")
        except UnicodeDecodeError:
            continue
        if _CONTENT.search(text) and "_" not in path.rsplit("/", 1)[-1]:
            return text
    raise AssertionError("no UTF-8 article page in the snapshot")


def busy_page(version: str) -> str:
    """The site's "system busy" notice inside its normal article layout."""
    page = _utf8_page(version)
    page = _H1.sub(r"\g<1>系统繁忙\g<2>", page, count=1)
    page = _INFO.sub("", page, count=1)
    return _CONTENT.sub(r"\g<1><p>系统繁忙，请稍后再试。</p>\g<2>", page, count=1)


def _overlay(tmp_path: Path, pages: dict[str, str]) -> Path:
    folder = tmp_path / "overlay"
    for path, text in pages.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    return folder


def _serve(site: SiteServer, version: str, overlay: Path | None) -> None:
    site.overlay = overlay
    site.set_version(version)


def _suspects(db: str) -> dict[str, Any]:
    stats = last_run(db).stats or {}
    return {k: v for k, v in stats.items() if k.startswith("news/article/suspect")}


def _titles(db: str) -> set[str]:
    return {record["title"] for record in export(db)}


def test_busy_pages_for_new_articles_are_fetched_again(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    new = {url for r in GOLD_V2 for url in r["urls"]} - {url for r in GOLD_V1 for url in r["urls"]}
    assert new
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, db, tmp_path).returncode == EXIT_OK
        notice = busy_page("v2")
        _serve(site, "v2", _overlay(tmp_path, {url.lstrip("/"): notice for url in new}))
        result = crawl(site, db, tmp_path)
        assert result.returncode == EXIT_FAILED, result.stderr[-3000:]
        assert "suspect" in (last_run(db).reason or "")
        assert _suspects(db).get("news/article/suspect") == len(new)
        assert "系统繁忙" not in _titles(db)
        assert not any(len(r["urls"]) > 1 for r in export(db) if r["title"] == "系统繁忙")

        _serve(site, "v2", None)  # the site recovers: the next run fetches them again
        site.clear_log()
        assert crawl(site, db, tmp_path).returncode == EXIT_OK
        fetched = {r.path for r in site.log if r.status == 200}
        assert new <= fetched
        result = crawl(site, db, tmp_path, "--mode", "full")
        assert result.returncode == EXIT_OK, result.stderr[-3000:]
    problems = compare(export(db), GOLD_V2)
    assert not problems, "\n".join(problems)


def test_busy_pages_in_a_full_crawl_overwrite_nothing(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    notice = busy_page("v1")
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, db, tmp_path, "--mode", "full").returncode == EXIT_OK
        before = export(db)
        pages = dict.fromkeys(_article_paths("v1"), notice)
        _serve(site, "v1", _overlay(tmp_path, pages))
        result = crawl(site, db, tmp_path, "--mode", "full")
        assert result.returncode == EXIT_FAILED, result.stderr[-3000:]
        assert export(db) == before, "a stored article changed"
        _serve(site, "v1", None)
        assert crawl(site, db, tmp_path, "--mode", "full").returncode == EXIT_OK
    problems = compare(export(db), GOLD_V1)
    assert not problems, "\n".join(problems)


def _moved_content_id(text: str, *, rename_container: bool) -> str:
    """A redesign: the main wrapper gets id="content" (and, with `rename_container`, the
    body container loses its class)."""
    text = text.replace(
        '<div class="article-content" id="content">', '<div class="article-content">'
    )
    text = text.replace('<div class="main wrap">', '<div class="main wrap" id="content">', 1)
    if rename_container:
        text = text.replace('<div class="article-content">', '<div class="article-text">')
    return text


@pytest.mark.parametrize(
    "rename_container", [False, True], ids=["container-kept", "container-renamed"]
)
def test_content_id_moved_to_the_wrapper(tmp_path: Path, rename_container: bool) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    pages = {
        path: _moved_content_id(_as_utf8("v1", path), rename_container=rename_container)
        for path in _article_paths("v1")
    }
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, db, tmp_path, "--mode", "full").returncode == EXIT_OK
        before = export(db)
        _serve(site, "v1", _overlay(tmp_path, pages))
        result = crawl(site, db, tmp_path, "--mode", "full")
        if rename_container:
            # The container is the whole page now: nothing is taken, the run fails.
            assert result.returncode == EXIT_FAILED, result.stderr[-3000:]
            assert _suspects(db).get("news/article/suspect/content_holds_page")
            assert export(db) == before
        else:
            # The body container is still there: it wins over the wrapper.
            assert result.returncode == EXIT_OK, result.stderr[-3000:]
            problems = compare(export(db), GOLD_V1)
            assert not problems, "\n".join(problems)


def test_a_content_length_in_characters_cuts_nothing_stored(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'ecnews.db'}"
    with SiteServer(SITE, "v1") as site:
        assert crawl(site, db, tmp_path, "--mode", "full").returncode == EXIT_OK
        before = export(db)
        # Changed pages (no 304), served by a server that counts characters, not bytes.
        # Pages whose cut falls inside a character (the usual case for Chinese text);
        # one cut on a character boundary parses as a shorter page, which storage holds.
        pages = {}
        for path in _article_paths("v1"):
            text = _as_utf8("v1", path) + "\n<!-- v2 -->\n" if _is_utf8("v1", path) else ""
            sent = text.encode()[: len(text)]
            if text and sent.decode("utf-8", "replace").endswith("\ufffd") and len(pages) < 8:
                pages[path] = text
        _serve(site, "v1", _overlay(tmp_path, pages))
        for path in pages:
            site.add_fault(f"/{path}", length_in_chars=True)
        result = crawl(site, db, tmp_path, "--mode", "full")
        # Each is dropped as cut mid-character, or (when the decoder made whole characters
        # of its last bytes) held as a cut-short copy of the stored article.
        stats = last_run(db).stats or {}
        cut = _suspects(db).get("news/article/suspect/page_cut", 0)
        assert cut + stats.get("pipeline/persist/held", 0) == len(pages)
        assert cut >= len(pages) // 2
        assert result.returncode == EXIT_FAILED, result.stderr[-3000:]
        assert export(db) == before
        site.clear_faults()
        _serve(site, "v1", None)
        assert crawl(site, db, tmp_path, "--mode", "full").returncode == EXIT_OK
    problems = compare(export(db), GOLD_V1)
    assert not problems, "\n".join(problems)
