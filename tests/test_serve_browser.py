"""`ecnews serve` as a person sees it: a real crawl of the snapshot, the real command, and
the system's Chromium (headless, driven by Playwright) on the front page, an article, the
search and the chart. What is checked is what a reader checks: the Chinese text, the
+08:00 dates, a point per day on the chart, and Chinese drawn as glyphs, not boxes.

Chromium and CJK fonts come from Debian (`.ci/run`, README); under CI=true their absence
fails the test instead of skipping it. ECNEWS_SCREENSHOTS=1 refreshes the screenshots in
docs/ that the README and docs/web-view.md show.
"""

from __future__ import annotations

import os
import re
import select
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, SITE, crawl_env, ecnews
from tests.siteserver import SiteServer

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from playwright.sync_api import BrowserContext, Page, Playwright

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUERY = "海外仓 备货"
SEARCH_HIT = "跨境电商卖家加码海外仓，提前备战下半年销售旺季"
START_TIMEOUT = 30.0
PAGE_TIMEOUT_MS = 30_000
DOCS = ROOT / "docs"


def required(what: str, install: str) -> None:
    """A missing browser or font fails under CI (which must install it), else skips."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: CI must install it ({install}, see .ci/run)")
    pytest.skip(f"{what} is missing ({install})")


def chromium() -> str:
    found = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)  # noqa: PTH110
    if found is None:
        required("chromium", "apt-get install chromium")
    assert found is not None
    return found


def chinese_fonts() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        required("fontconfig", "apt-get install fontconfig")
    assert fc_list is not None
    listed = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.split("\n")
    fonts = [line for line in listed if line.strip()]
    if not fonts:
        required("a font with Chinese glyphs", "apt-get install fonts-noto-cjk")
    return fonts


def start_serving(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """`ecnews serve --port 0`, and the address it says it serves on."""
    server = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stderr is not None
    deadline = time.monotonic() + START_TIMEOUT
    said = ""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stderr], [], [], 0.5)
        if ready:
            said = server.stderr.readline()
            if found := re.search(r"on (http://\S+)/$", said.strip()):
                return server, found.group(1)
        if server.poll() is not None:
            break
    server.kill()
    server.communicate(timeout=10)
    pytest.fail(f"ecnews serve did not start within {START_TIMEOUT}s: {said!r}")


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """The snapshot crawled into a SQLite file by the real command."""
    tmp_path = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{tmp_path / 'ecnews.db'}"
    with SiteServer(SITE, "v1") as site:
        crawl = ecnews("crawl", "--base-url", site.url, "--mode", "full",
                       database_url=url, tmp_path=tmp_path)  # fmt: skip
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    return url, tmp_path


# Per test, like the browser: no process of a test outlives it.
@pytest.fixture
def served(database: tuple[str, Path]) -> Iterator[str]:
    url, tmp_path = database
    server, address = start_serving(crawl_env(url, tmp_path))
    try:
        yield address
    finally:
        server.terminate()
        server.communicate(timeout=10)


@pytest.fixture
def playwright() -> Iterator[Playwright]:
    """One Playwright driver per test: its sync API cannot be started twice at once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright, tmp_path: Path) -> Iterator[BrowserContext]:
    executable = chromium()
    chinese_fonts()
    profile = tmp_path / "chromium-profile"  # a fresh --user-data-dir
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=executable,
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1280, "height": 900},
        locale="zh-CN",
    )
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser: BrowserContext, served: str) -> Iterator[Page]:
    """A tab that may reach the web view only: everything it needs is served locally."""
    elsewhere: list[str] = []
    own = urlsplit(served).netloc

    def only_local(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    tab = browser.new_page()
    tab.route("**/*", only_local)
    yield tab
    tab.close()
    assert not elsewhere, f"the page asked for resources elsewhere: {elsewhere}"


def view_rows(url: str, sql: str, **params: object) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows = list(connection.execute(text(sql), params))
    engine.dispose()
    return rows


def screenshot(page: Page, name: str, tmp_path: Path) -> None:
    shot = tmp_path / name
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    if os.environ.get("ECNEWS_SCREENSHOTS"):
        shutil.copyfile(shot, DOCS / name)


# Draws two different Chinese characters and a private-use one (never in a font: drawn as
# the missing-glyph box) in the page's own font; tofu would make all three the same.
GLYPHS_DIFFER = """(selector) => {
  const font = getComputedStyle(document.querySelector(selector)).fontFamily;
  const draw = (ch) => {
    const canvas = document.createElement('canvas');
    canvas.width = 64; canvas.height = 64;
    const ctx = canvas.getContext('2d');
    ctx.font = `48px ${font}`;
    ctx.fillText(ch, 4, 52);
    return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
  };
  const [a, b, missing] = ['电', '商', '\\ue000'].map(draw);
  return {different: a !== b, notBoxes: a !== missing && b !== missing};
}"""


def assert_chinese_is_drawn(page: Page, selector: str) -> None:
    drawn = page.evaluate(GLYPHS_DIFFER, selector)
    assert drawn == {"different": True, "notBoxes": True}, "Chinese is drawn as boxes (tofu)"


def test_front_page_shows_the_newest_articles(
    page: Page, served: str, database: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = database
    newest = view_rows(url, "SELECT title, published_at, published_date FROM article_view "
                            "ORDER BY published_at DESC LIMIT 1")[0]  # fmt: skip
    page.goto(served + "/")
    assert urlsplit(page.url).path == "/ecnews/article_view"
    first_row = page.locator("table.rows-and-columns tbody tr").first
    assert first_row.locator("td.col-title").inner_text().strip() == newest.title
    assert first_row.locator("td.col-published_at").inner_text().strip() == newest.published_at
    assert newest.published_at.endswith("+08:00")
    facets = page.locator(".facet-info").all_inner_texts()
    assert any(newest.published_date in facet for facet in facets)
    assert any("热点聚焦 (rdjj)" in facet for facet in facets)
    assert_chinese_is_drawn(page, "td.col-title")
    screenshot(page, "web-front.png", tmp_path)


def test_an_article_reads_like_an_article(
    page: Page, served: str, database: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = database
    page.goto(served + "/")
    title_link = page.locator("table.rows-and-columns tbody tr td.col-title a").first
    title = title_link.inner_text().strip()
    title_link.click()  # as a reader does
    page.wait_for_url(re.compile(r"/-/articles/\d+$"))
    article_id = int(page.url.rsplit("/", 1)[1])
    stored = view_rows(
        url, "SELECT published_at, body FROM article_view WHERE id = :id", id=article_id
    )[0]
    assert page.locator("h1.ecnews-title").inner_text().strip() == title
    shown_time = page.locator("p.ecnews-meta time").inner_text().strip()
    assert shown_time == stored.published_at
    assert shown_time.endswith("+08:00")
    paragraphs = page.locator(".ecnews-body p").all_inner_texts()
    assert paragraphs == [line.strip() for line in stored.body.split("\n") if line.strip()]
    assert page.locator(".ecnews-urls li").count() >= 1
    assert page.get_by_role("heading", name="Earlier versions").is_visible()
    assert_chinese_is_drawn(page, ".ecnews-body p")
    screenshot(page, "web-article.png", tmp_path)


def test_search_finds_the_article(page: Page, served: str, tmp_path: Path) -> None:
    page.goto(f"{served}/ecnews/search?q={quote(QUERY)}")
    results = page.locator("table.rows-and-columns tbody tr")
    assert results.count() >= 1
    assert results.first.locator("td.col-title").inner_text().strip() == SEARCH_HIT
    assert "«海外仓»" in results.first.locator("td.col-snippet").inner_text()
    assert results.first.locator("td.col-published_at").inner_text().strip().endswith("+08:00")
    assert not page.locator("textarea#sql-editor").is_visible()  # results first
    assert_chinese_is_drawn(page, "td.col-title")
    screenshot(page, "web-search.png", tmp_path)


def test_the_chart_has_a_point_per_day(
    page: Page, served: str, database: tuple[str, Path], tmp_path: Path
) -> None:
    url, _ = database
    per_day = {
        row.day: row.articles
        for row in view_rows(
            url,
            "SELECT v.published_date AS day, count(*) AS articles FROM article_view v "
            "JOIN article_categories ac ON ac.article_id = v.id GROUP BY v.published_date",
        )
    }
    page.goto(served + "/-/dashboards/articles")
    points = page.locator('#chart-last_90_days svg [aria-roledescription="point"]')
    points.first.wait_for()
    labels = points.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    shown = {}
    for label in labels:
        day = re.search(r"day: (\d{4}-\d\d-\d\d)", label)
        total = re.search(r"articles, all categories: (\d+)", label)
        assert day, label
        assert total, label
        shown[day.group(1)] = int(total.group(1))
    assert len(labels) == len(shown) == 90  # one point per day, zeros included
    assert max(shown) == max(per_day)  # the 90 days end at the newest article
    assert {day: n for day, n in shown.items() if n} == {
        day: n for day, n in per_day.items() if day in shown
    }
    bars = page.locator('#chart-whole_span svg [aria-roledescription="bar"]')
    assert bars.count() == len(
        view_rows(
            url,
            "SELECT DISTINCT v.published_date, ac.category_id FROM article_view v "
            "JOIN article_categories ac ON ac.article_id = v.id",
        )
    )
    assert_chinese_is_drawn(page, "h1")
    screenshot(page, "web-chart.png", tmp_path)


def test_web_view_is_read_only(served: str) -> None:
    request = urllib.request.Request(  # our own 127.0.0.1 server
        f"{served}/ecnews/articles/1/-/delete", method="POST", data=b""
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # our own 127.0.0.1 server
    refused.value.close()
    assert refused.value.code in {403, 404, 405}
    with urllib.request.urlopen(f"{served}/ecnews/latest.json?_shape=array", timeout=10) as page:
        assert page.status == 200


def test_the_tofu_check_sees_boxes(playwright: Playwright, tmp_path: Path) -> None:
    """The glyph check fails where Chromium has no Chinese font (here: no font at all)."""
    executable = chromium()
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd">'
        f"<fontconfig><cachedir>{tmp_path / 'fc-cache'}</cachedir></fontconfig>"
    )
    browser = playwright.chromium.launch(
        executable_path=executable,
        args=CHROMIUM_FLAGS,
        env={**os.environ, "FONTCONFIG_FILE": str(config)},
    )
    try:
        tab = browser.new_page()
        tab.set_content("<p>电商新闻</p>")
        with pytest.raises(AssertionError, match="tofu"):
            assert_chinese_is_drawn(tab, "p")
    finally:
        browser.close()
