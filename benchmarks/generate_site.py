"""Write a benchmark copy of the site: the snapshot's markup with N articles.

    .venv/bin/python benchmarks/generate_site.py --articles 5000 --out /tmp/site [--seed 1]

writes ``<out>/large/`` laid out like ``tests/fixtures/site/v1/`` and ``<out>/manifest.json``
(``snapshots.large.files[]`` with each file's ``Last-Modified``), so that
``SiteServer(out, "large", faults={})`` serves it. ``manifest["large"]`` holds what a full
crawl must find (pages, articles, dead links), for the benchmark to check the crawl did it all.

Nothing is invented: the page skeletons (head, header, footer, listing and article markup)
are cut from the v1 pages, and every article is built from a v1 article taken as its model:
the model's info line (date format, source and author spans) and its leading and trailing
attribution paragraphs are kept, its body paragraphs are replaced by blocks drawn from all
v1 article bodies (styled ``<p>``, sections, tables, lists, images, scripts, ad boxes…), as
many as the model has, give or take 30%. Multi-page articles, GBK pages, syndicated copies,
articles listed in a second category, dead listing links and the forms of listing links
(relative, tracking parameters, ``#comments``) come in the proportions the snapshot has.
Listings hold 20 items a page, newest first, with the snapshot's pagelist. The same seed
writes the same bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import html
import json
import random
import re
import shutil
import sys
import time
from dataclasses import dataclass
from email.utils import format_datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.snapshot import (
    CONTENT_OPEN,
    SNAPSHOT,
    Model,
    Snapshot,
    load_snapshot,
    texty_text,
    visible,
)

VERSION = "large"
PER_PAGE = 20
CATEGORIES = {"rdjj": "热点聚焦", "sjbg": "数据报告", "zcfg": "政策法规", "jxal": "教学案例"}
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# The newest article; older ones step back from here (about a dozen a day, as on the site).
NEWEST = dt.datetime(2025, 8, 22, 18, 0, tzinfo=SHANGHAI)
MEAN_GAP_MINUTES = 120
CRAWL_DAY = "Fri, 22 Aug 2025 22:00:00 GMT"
FIRST_ID = 100001
_UTF8_META = '<meta charset="utf-8">'
_GBK_META = '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'


@dataclass(slots=True)
class Article:
    id: int
    slug: str
    published: dt.datetime
    model: Model
    title: str
    blocks: list[str]
    multi_page: bool
    gbk: bool
    listed_in: list[str]
    copy_of: Article | None = None

    @property
    def path(self) -> str:
        return f"/news/{self.slug}/{self.published:%Y/%m%d}/{self.id}.html"

    def page_path(self, page: int) -> str:
        return self.path if page == 1 else self.path.replace(".html", f"_{page}.html")


@dataclass(slots=True)
class _Entry:
    """One item of a listing: an article, or a link to a page that does not exist."""

    published: dt.datetime
    path: str
    title: str
    cat_name: str
    summary: str


class Generator:
    def __init__(self, snapshot: Snapshot, seed: int) -> None:
        self.snap = snapshot
        self.rng = random.Random(seed)  # noqa: S311 -- a reproducible site, not a secret
        self.files: dict[str, bytes] = {}
        self.last_modified: dict[str, str] = {}

    # -- plan -----------------------------------------------------------------------

    def plan(self, count: int) -> tuple[list[Article], list[tuple[str, _Entry]]]:
        rng, ratios = self.rng, self.snap.ratios
        moment = NEWEST
        moments = []
        for _ in range(count):
            moments.append(moment)
            gap = rng.expovariate(1 / MEAN_GAP_MINUTES)
            moment -= dt.timedelta(minutes=gap, seconds=rng.randrange(60))
        moments.reverse()  # ids grow with time
        texty = [i for i, t in enumerate(self.snap.texty) if t]
        used: set[tuple[str, tuple[int, ...]]] = set()
        articles: list[Article] = []
        dead: list[tuple[str, _Entry]] = []
        next_id = FIRST_ID
        for published in moments:
            model = rng.choice(self.snap.models)
            slug = rng.choice(list(CATEGORIES))
            size = max(2, round(model.body_blocks * rng.uniform(0.7, 1.3)))
            while True:  # one article per distinct (title, body): no accidental merges
                picks = rng.sample(range(len(self.snap.blocks)), size)
                picks += [rng.choice(texty)] if not any(self.snap.texty[i] for i in picks) else []
                title = rng.choice(self.snap.titles)
                key = (title, tuple(sorted(i for i in picks if self.snap.texty[i])))
                if key not in used:
                    used.add(key)
                    break
            listed_in = [slug]
            if rng.random() < ratios["cross_listed"]:
                listed_in.append(rng.choice([s for s in CATEGORIES if s != slug]))
            article = Article(
                id=next_id,
                slug=slug,
                published=published,
                model=model,
                title=title,
                blocks=[self.snap.blocks[i] for i in picks],
                multi_page=rng.random() < ratios["multi_page"],
                gbk=rng.random() < ratios["gbk"],
                listed_in=listed_in,
            )
            next_id += 1
            articles.append(article)
            if rng.random() < ratios["copy"]:
                other = rng.choice([s for s in CATEGORIES if s != slug])
                copy = Article(
                    id=next_id,
                    slug=other,
                    published=published,
                    model=model,
                    title=title,
                    blocks=article.blocks,
                    multi_page=article.multi_page,
                    gbk=article.gbk,
                    listed_in=[other],
                    copy_of=article,
                )
                next_id += 1
                articles.append(copy)
            if rng.random() < ratios["dead_link"]:
                path = f"/news/{slug}/{published:%Y/%m%d}/{next_id}.html"
                next_id += 1
                dead.append(
                    (
                        slug,
                        _Entry(published, path, rng.choice(self.snap.titles), CATEGORIES[slug], ""),
                    )
                )
        return articles, dead

    # -- pages ----------------------------------------------------------------------

    def _info(self, article: Article) -> str:
        lines = [
            '<div class="article-info">',
            f'<span class="cat">{CATEGORIES[article.slug]}</span>',
        ]
        pattern = article.model.time_pattern
        if pattern:
            p = article.published
            when = pattern.format(
                Y=p.year,
                m=f"{p.month:02}",
                d=f"{p.day:02}",
                mu=p.month,
                du=p.day,
                H=f"{p.hour:02}",
                M=f"{p.minute:02}",
                S=f"{p.second:02}",
            )
            lines.append(f'<span class="time">{when}</span>')
        lines += article.model.spans
        views = self.rng.randrange(100, 9000)
        lines.append(f'<span class="views">阅读：<script>document.write({views});</script></span>')
        lines.append("</div>")
        return "\n".join(lines) + "\n"

    def _page_links(self, article: Article, page: int, pages: int) -> str:
        if pages == 1:
            return ""
        name = Path(article.path).name
        parts = [] if page == 1 else [f'<a href="{_page_name(name, page - 1)}">上一页</a>']
        parts += [
            f'<span class="current">{n}</span>'
            if n == page
            else f'<a href="{_page_name(name, n)}">{n}</a>'
            for n in range(1, pages + 1)
        ]
        if page < pages:
            parts.append(f'<a href="{_page_name(name, page + 1)}">下一页</a>')
        return f'<div class="article-pages">{" ".join(parts)}</div>\n'

    def _prev_next(self, prev: Article | None, nxt: Article | None) -> str:
        def link(label: str, other: Article | None) -> str:
            if other is None:
                return f"<p>{label}：没有了</p>"
            title = html.escape(other.title)
            return f'<p>{label}：<a href="{other.path}" title="{title}">{title}</a></p>'

        return f'<div class="prev-next">\n{link("上一篇", prev)}\n{link("下一篇", nxt)}\n</div>\n'

    def _related(self, articles: list[Article]) -> str:
        items = []
        for other in self.rng.sample(articles, min(3, len(articles))):
            title = html.escape(other.title)
            query = "?from=related" if self.rng.random() < 0.3 else ""
            items.append(f'  <li><a href="{other.path}{query}" title="{title}">{title}</a></li>')
        return (
            '<div class="related">\n<h3>相关阅读</h3>\n<ul>\n'
            + "\n".join(items)
            + "\n</ul>\n</div>\n"
        )

    def article_pages(
        self, article: Article, prev: Article | None, nxt: Article | None, every: list[Article]
    ) -> None:
        snap = self.snap
        body = article.blocks
        halves = [body[: len(body) // 2], body[len(body) // 2 :]] if article.multi_page else [body]
        title = html.escape(article.title)
        cat = CATEGORIES[article.slug]
        description = html.escape(visible(next((b for b in body if texty_text(b)), body[0]))[:120])
        related = self._related(every)
        for page, half in enumerate(halves, start=1):
            blocks = (article.model.head if page == 1 else []) + half
            if page == len(halves):
                blocks += article.model.tail
            suffix = f"({page})" if page > 1 else ""
            text = (
                f"{snap.article_top}<title>{title}{suffix} - {cat} - 电商资讯网</title>\n"
                f"{snap.keywords_line}"
                f'<meta name="description" content="{description}">\n'
                f"{snap.article_mid}"
                f'<div class="position">当前位置：<a href="/">首页</a> &gt; '
                f'<a href="/news/{article.slug}/">{cat}</a> &gt; 正文</div>\n'
                f'<div class="article">\n<h1 class="article-title">{title}</h1>\n'
                f"{self._info(article)}"
                f"{CONTENT_OPEN}" + "\n".join(blocks) + "\n</div>\n"
                f"{self._page_links(article, page, len(halves))}"
                f"{snap.share_line}"
                f"{self._prev_next(prev, nxt)}"
                f"{related}"
                f"</div>\n</div>\n{snap.footer}"
            )
            self._put(article.page_path(page), text, article.gbk, _http_date(article.published))

    def _href(self, listing_slug: str, article_path: str) -> str:
        kind, suffix = self.rng.choice(self.snap.link_forms)
        target_slug, tail = article_path.removeprefix("/news/").split("/", 1)
        if kind == "parent":
            return f"../{target_slug}/{tail}".replace(".html", ".html" + suffix, 1)
        if kind in ("dot", "plain") and target_slug == listing_slug:
            return ("./" if kind == "dot" else "") + tail.replace(".html", ".html" + suffix, 1)
        return article_path.replace(".html", ".html" + suffix, 1)

    def listing_pages(self, slug: str, entries: list[_Entry]) -> int:
        snap = self.snap
        name = CATEGORIES[slug]
        entries.sort(key=lambda e: (e.published, e.path), reverse=True)
        pages = max(1, -(-len(entries) // PER_PAGE))
        for page in range(1, pages + 1):
            items = []
            for entry in entries[(page - 1) * PER_PAGE : page * PER_PAGE]:
                title = html.escape(entry.title)
                shown = html.escape(
                    entry.title if len(entry.title) <= 24 else entry.title[:20] + "…"
                )
                href = self._href(slug, entry.path)
                items.append(
                    f'<li>\n  <h3><a href="{href}" title="{title}" target="_blank">{shown}</a></h3>\n'
                    f'  <div class="meta"><span class="cat">{entry.cat_name}</span>'
                    f'<span class="date">{entry.published:%Y-%m-%d}</span></div>\n'
                    f'  <p class="summary">{html.escape(entry.summary)}</p>\n</li>'
                )
            title = name if page == 1 else f"{name}_第{page}页"
            text = (
                f"{snap.listing_top}<title>{title} - 电商资讯网</title>\n{snap.listing_mid}"
                f'<div class="position">当前位置：<a href="/">首页</a> &gt; '
                f'<a href="/news/{slug}/">{name}</a></div>\n'
                f'<div class="list-box">\n<h2 class="list-title">{name}</h2>\n'
                f'<ul class="news-list">\n' + "\n".join(items) + "\n</ul>\n"
                f"{_pagelist(slug, page, pages, len(entries))}</div>\n</div>\n{snap.footer}"
            )
            path = f"/news/{slug}/" + ("index.html" if page == 1 else f"list_{page}.html")
            self._put(path, text, gbk=False, last_modified=CRAWL_DAY)
        return pages

    def index_page(self, newest: list[Article]) -> None:
        items = "\n".join(
            f'  <li><a href="{a.path}?from=index" title="{html.escape(a.title)}">'
            f'{html.escape(a.title)}</a><span class="date">{a.published:%m-%d}</span></li>'
            for a in newest
        )
        text = re.sub(
            r'(<ul class="latest-list">\n).*?(\n</ul>)',
            lambda m: m.group(1) + items + m.group(2),
            self.snap.index_page,
            flags=re.DOTALL,
        )
        self._put("/index.html", text, gbk=False, last_modified=CRAWL_DAY)

    def _put(self, path: str, text: str, gbk: bool, last_modified: str) -> None:
        if gbk:
            data = text.replace(_UTF8_META, _GBK_META, 1).encode("gb18030")
        else:
            data = text.encode("utf-8")
        self.files[path] = data
        self.last_modified[path] = last_modified


def _page_name(name: str, page: int) -> str:
    return name if page == 1 else name.replace(".html", f"_{page}.html")


def _pagelist(slug: str, page: int, pages: int, count: int) -> str:
    """The snapshot's pagelist: 首页, 上一页, a window of page numbers, 下一页 (not on the
    last page), 末页, 共N页 M条."""

    def href(n: int) -> str:
        return f"/news/{slug}/" if n == 1 else f"list_{n}.html"

    lines = [f'<a href="/news/{slug}/">首页</a>']
    lines.append(
        '<span class="disabled">上一页</span>'
        if page == 1
        else f'<a href="{href(page - 1)}">上一页</a>'
    )
    lines += [
        f'<span class="thisclass">{n}</span>' if n == page else f'<a href="{href(n)}">{n}</a>'
        for n in range(max(1, page - 4), min(pages, page + 4) + 1)
    ]
    if page < pages:
        lines.append(f'<a href="{href(page + 1)}">下一页</a>')
    lines.append(f'<a href="{href(pages)}">末页</a>')
    lines.append(f'<span class="pageinfo">共{pages}页 {count}条</span>')
    return '<div class="pagelist">\n' + "\n".join(lines) + "\n</div>\n"


def _http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _summary(article: Article) -> str:
    text = "".join(visible(b) for b in article.blocks if texty_text(b))
    return text[:80] + "…"


def generate(articles: int, out: Path, seed: int = 1) -> dict[str, Any]:
    """Write the site under ``out`` (replacing ``out/large``); return ``manifest["large"]``."""
    snap = load_snapshot()
    gen = Generator(snap, seed)
    plan, dead = gen.plan(articles)
    by_slug: dict[str, list[Article]] = {slug: [] for slug in CATEGORIES}
    for article in plan:
        by_slug[article.slug].append(article)
    for same_category in by_slug.values():
        for i, article in enumerate(same_category):
            prev = same_category[i - 1] if i else None
            nxt = same_category[i + 1] if i + 1 < len(same_category) else None
            gen.article_pages(article, prev, nxt, same_category)
    entries: dict[str, list[_Entry]] = {slug: [] for slug in CATEGORIES}
    for article in plan:
        entry = _Entry(
            article.published,
            article.path,
            article.title,
            CATEGORIES[article.slug],
            _summary(article),
        )
        for slug in article.listed_in:
            entries[slug].append(entry)
    for slug, entry in dead:
        entries[slug].append(entry)
    listing_pages = sum(gen.listing_pages(slug, entries[slug]) for slug in CATEGORIES)
    gen.index_page(sorted(plan, key=lambda a: a.published, reverse=True)[:8])
    for name in snap.static_files:
        gen.files["/" + name] = (SNAPSHOT / name).read_bytes()
        gen.last_modified["/" + name] = "Wed, 01 Jan 2025 01:00:00 GMT"

    site = out / VERSION
    if site.exists():
        shutil.rmtree(site)
    folders: set[Path] = set()
    files = []
    for path, data in sorted(gen.files.items()):
        target = site / path.lstrip("/")
        if target.parent not in folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            folders.add(target.parent)
        target.write_bytes(data)
        files.append(
            {
                "path": path,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "last_modified": gen.last_modified[path],
            }
        )
    further = sum(1 for a in plan if a.multi_page)
    summary = {
        "articles": articles,
        "seed": seed,
        "article_urls": len(plan),
        "copies": sum(1 for a in plan if a.copy_of is not None),
        "stored_articles": sum(1 for a in plan if a.copy_of is None),
        "multi_page": further,
        "gbk_pages": sum(1 for a in plan if a.gbk),
        "cross_listed": sum(1 for a in plan if len(a.listed_in) > 1),
        "dead_links": len(dead),
        "listing_pages": listing_pages,
        # What a full crawl fetches: robots.txt, listings, article pages, dead links.
        "crawl_requests": 1 + listing_pages + len(plan) + further + len(dead),
        "bytes": sum(f["bytes"] for f in files),  # type: ignore[misc]  # ints by construction
        "ratios": snap.ratios,
    }
    manifest = {
        "generator": "benchmarks/generate_site.py",
        "seed": str(seed),
        "large": summary,
        "snapshots": {VERSION: {"crawl_time": "2025-08-23T06:00:00+08:00", "files": files}},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), "utf-8")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=5000, help="articles (default 5000)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = generate(args.articles, args.out, args.seed)
    shown = {k: v for k, v in summary.items() if k != "ratios"}
    print(f"wrote {args.out / VERSION} in {time.perf_counter() - started:.1f}s: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
