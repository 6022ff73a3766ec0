"""crawler.urls: canonical article URLs (spec, field **url**)."""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from parsel import Selector
from w3lib.encoding import html_to_unicode

from crawler.urls import (
    TRACKING_PARAMS,
    canonical_url,
    is_tracking_param,
    normalize_url,
    page_number,
    same_host,
    url_path,
)

SITE = Path(__file__).resolve().parent / "fixtures" / "site"
ROOT = "http://127.0.0.1:8080"
LISTING = f"{ROOT}/news/rdjj/"
LISTING_2 = f"{ROOT}/news/jxal/list_2.html"
ARTICLE = f"{ROOT}/news/rdjj/2025/0722/1006.html"

# id: (url, base, expected normalize_url)
NORMALIZE_CASES: dict[str, tuple[str, str | None, str]] = {
    # --- link forms from the site README
    "root-relative": (
        "/news/rdjj/2025/0822/1001.html",
        LISTING,
        f"{ROOT}/news/rdjj/2025/0822/1001.html",
    ),
    "folder-relative": ("2025/0822/1024.html", LISTING, f"{ROOT}/news/rdjj/2025/0822/1024.html"),
    "folder-relative-from-list-page": (
        "2025/0801/1031.html",
        LISTING_2,
        f"{ROOT}/news/jxal/2025/0801/1031.html",
    ),
    "dot-slash": ("./2025/0814/1032.html", LISTING_2, f"{ROOT}/news/jxal/2025/0814/1032.html"),
    "dot-dot": (
        "../rdjj/2025/0822/1001.html",
        f"{ROOT}/news/zcfg/",
        f"{ROOT}/news/rdjj/2025/0822/1001.html",
    ),
    "dot-dot-from-list-page": (
        "../zcfg/2025/0623/1019.html",
        LISTING_2,
        f"{ROOT}/news/zcfg/2025/0623/1019.html",
    ),
    "sibling-page": ("1006_2.html", ARTICLE, f"{ROOT}/news/rdjj/2025/0722/1006_2.html"),
    "absolute": (f"{ROOT}/about.html", LISTING, f"{ROOT}/about.html"),
    "scheme-relative": (
        "//127.0.0.1:8080/a.html",
        "https://x.test/",
        "https://127.0.0.1:8080/a.html",
    ),
    "empty-is-base": ("", LISTING, LISTING),
    "fragment-only-is-base": ("#comments", ARTICLE, ARTICLE),
    "dot-segments-in-absolute": (
        f"{ROOT}/news/./rdjj/../zcfg/a.html",
        None,
        f"{ROOT}/news/zcfg/a.html",
    ),
    "dot-dot-above-root": ("../../../../a.html", LISTING, f"{ROOT}/a.html"),
    # --- tracking parameters
    "spm": (
        "/news/rdjj/2025/0806/1007.html?spm=a1.b2.4",
        LISTING,
        f"{ROOT}/news/rdjj/2025/0806/1007.html",
    ),
    "utm-source-medium": (
        "/news/rdjj/2025/0818/1009.html?utm_source=wx&utm_medium=share",
        LISTING,
        f"{ROOT}/news/rdjj/2025/0818/1009.html",
    ),
    "utm-any-suffix": (
        "/a.html?utm_campaign=x&utm_term=y&utm_content=z",
        LISTING,
        f"{ROOT}/a.html",
    ),
    "from-index": (
        "/news/rdjj/2025/0822/1001.html?from=index",
        ROOT,
        f"{ROOT}/news/rdjj/2025/0822/1001.html",
    ),
    "from-and-spm": (
        "2025/0725/1022.html?from=list&spm=c3.d4",
        f"{ROOT}/news/zcfg/",
        f"{ROOT}/news/zcfg/2025/0725/1022.html",
    ),
    "share-fr-source-scene-token": (
        "/a.html?share=1&fr=weibo&source=app&scene=2&share_token=abc",
        ROOT,
        f"{ROOT}/a.html",
    ),
    "tracking-upper-case-name": ("/a.html?UTM_Source=x&SPM=1&From=y", ROOT, f"{ROOT}/a.html"),
    "tracking-blank-value": ("/a.html?spm=&from", ROOT, f"{ROOT}/a.html"),
    "tracking-like-names-kept": (
        "/a.html?sources=1&fromage=2&utm=3&spm_id=4",
        ROOT,
        f"{ROOT}/a.html?fromage=2&sources=1&spm_id=4&utm=3",
    ),
    "tracking-dropped-others-kept": (
        "/a.html?id=7&spm=1&page=2&utm_source=x",
        ROOT,
        f"{ROOT}/a.html?id=7&page=2",
    ),
    # --- fragment
    "fragment-comments": (
        "/news/jxal/2025/0718/1030.html#comments",
        ROOT,
        f"{ROOT}/news/jxal/2025/0718/1030.html",
    ),
    "fragment-after-tracking": ("/a.html?spm=1#top", ROOT, f"{ROOT}/a.html"),
    # --- scheme, host, port
    "upper-case-host": (
        "HTTP://WWW.Example.COM/News/A.html",
        None,
        "http://www.example.com/News/A.html",
    ),
    "upper-case-scheme-https": ("HTTPS://Example.com/", None, "https://example.com/"),
    "port-80-dropped": ("http://example.com:80/a.html", None, "http://example.com/a.html"),
    "port-443-dropped": ("https://example.com:443/a.html", None, "https://example.com/a.html"),
    "port-80-kept-on-https": (
        "https://example.com:80/a.html",
        None,
        "https://example.com:80/a.html",
    ),
    "port-443-kept-on-http": (
        "http://example.com:443/a.html",
        None,
        "http://example.com:443/a.html",
    ),
    "other-port-kept": ("http://example.com:8080/a.html", None, "http://example.com:8080/a.html"),
    "empty-port": ("http://example.com:/a.html", None, "http://example.com/a.html"),
    "no-path": ("http://example.com", None, "http://example.com/"),
    "no-path-with-query": ("http://example.com?b=1", None, "http://example.com/?b=1"),
    "ipv6-default-port": ("http://[::1]:80/a", None, "http://[::1]/a"),
    "idn-host": ("http://中文.example/a", None, "http://xn--fiq228c.example/a"),
    "userinfo-kept-host-lowered": ("http://User:PW@Host.COM:80/", None, "http://User:PW@host.com/"),
    # --- query order
    "params-sorted": ("/a.html?b=2&a=1&c=3", ROOT, f"{ROOT}/a.html?a=1&b=2&c=3"),
    "repeated-names-stable": ("/a.html?t=b&a=1&t=a&t=c", ROOT, f"{ROOT}/a.html?a=1&t=b&t=a&t=c"),
    "blank-value-kept": ("/a.html?b=&a=1", ROOT, f"{ROOT}/a.html?a=1&b="),
    "empty-query-dropped": ("/a.html?", ROOT, f"{ROOT}/a.html"),
    "only-tracking-no-question-mark": ("/a.html?spm=1&utm_x=2", ROOT, f"{ROOT}/a.html"),
    "empty-pairs-dropped": ("/a.html?&&a=1&&", ROOT, f"{ROOT}/a.html?a=1"),
    "space-as-plus": ("/s?q=a%20b", ROOT, f"{ROOT}/s?q=a+b"),
    "non-ascii-query": ("/search?q=电商", ROOT, f"{ROOT}/search?q=%E7%94%B5%E5%95%86"),
    "gbk-escapes-kept": ("/s?q=%B5%E7", ROOT, f"{ROOT}/s?q=%B5%E7"),
    # --- path encoding
    "non-ascii-path": ("/news/中文.html", ROOT, f"{ROOT}/news/%E4%B8%AD%E6%96%87.html"),
    "escape-case-upper": ("/news/%e4%b8%ad.html", ROOT, f"{ROOT}/news/%E4%B8%AD.html"),
    "unreserved-unescaped": ("/a%7Eb%2Dc.html", ROOT, f"{ROOT}/a~b-c.html"),
    "slash-escape-kept": ("/a%2fb.html", ROOT, f"{ROOT}/a%2Fb.html"),
    "space-in-path": ("/a b.html", ROOT, f"{ROOT}/a%20b.html"),
    "path-case-kept": ("/News/RDJJ/A.HTML", ROOT, f"{ROOT}/News/RDJJ/A.HTML"),
    "trailing-slash-kept": ("/news/rdjj/", ROOT, f"{ROOT}/news/rdjj/"),
    "whitespace-around": (
        "  \n/news/rdjj/2025/0822/1001.html\t ",
        ROOT,
        f"{ROOT}/news/rdjj/2025/0822/1001.html",
    ),
    "backslashes": ("http://example.com\\a\\b.html", None, "http://example.com/a/b.html"),
    # --- non-article URLs are normalised but not remapped
    "listing-page": ("list_2.html", LISTING, f"{ROOT}/news/rdjj/list_2.html"),
    "about": ("/about.html?from=footer", ROOT, f"{ROOT}/about.html"),
    "search-kept-query": ("/search?q=x&spm=1", ROOT, f"{ROOT}/search?q=x"),
    # --- relative without a base stays relative
    "relative-no-base": ("/news/a.html?spm=1#x", None, "/news/a.html"),
    "relative-no-base-dots": ("/news/x/../a.html", None, "/news/a.html"),
}


@pytest.mark.parametrize(
    ("url", "base", "expected"), NORMALIZE_CASES.values(), ids=list(NORMALIZE_CASES)
)
def test_normalize_url(url: str, base: str | None, expected: str) -> None:
    assert normalize_url(url, base) == expected


# id: (url, base, expected canonical_url)
CANONICAL_CASES: dict[str, tuple[str, str | None, str]] = {
    "page-2": ("1006_2.html", ARTICLE, ARTICLE),
    "page-3-absolute": (f"{ROOT}/news/rdjj/2025/0722/1006_3.html", None, ARTICLE),
    "page-2-with-tracking": ("/news/rdjj/2025/0722/1006_2.html?spm=1#c", ROOT, ARTICLE),
    "page-12": ("/news/rdjj/2025/0722/1006_12.html", ROOT, ARTICLE),
    "page-1-explicit": ("/news/rdjj/2025/0722/1006_1.html", ROOT, ARTICLE),
    "page-keeps-query": ("/news/a/1006_2.html?x=1", ROOT, f"{ROOT}/news/a/1006.html?x=1"),
    "page-2-htm": ("/news/a/1006_2.htm", ROOT, f"{ROOT}/news/a/1006.htm"),
    "page-2-relative-no-base": ("1006_2.html", None, "1006.html"),
    "article-unchanged": (ARTICLE, None, ARTICLE),
    "article-with-from": (f"{ARTICLE}?from=related", None, ARTICLE),
    "listing-untouched": ("list_2.html", LISTING, f"{ROOT}/news/rdjj/list_2.html"),
    "listing-root-untouched": ("/news/rdjj/", ROOT, f"{ROOT}/news/rdjj/"),
    "about-untouched": ("/about.html", ROOT, f"{ROOT}/about.html"),
    "underscore-word-untouched": ("/news/a/foo_2.html", ROOT, f"{ROOT}/news/a/foo_2.html"),
    "page-0-untouched": ("/news/a/1006_0.html", ROOT, f"{ROOT}/news/a/1006_0.html"),
    "folder-not-file-untouched": ("/news/1006_2.html/x", ROOT, f"{ROOT}/news/1006_2.html/x"),
    "home": ("/?from=index", ROOT, f"{ROOT}/"),
}


@pytest.mark.parametrize(
    ("url", "base", "expected"), CANONICAL_CASES.values(), ids=list(CANONICAL_CASES)
)
def test_canonical_url(url: str, base: str | None, expected: str) -> None:
    assert canonical_url(url, base) == expected


PAGE_NUMBER_CASES: dict[str, tuple[str, int]] = {
    "article": (ARTICLE, 1),
    "page-2": ("/news/rdjj/2025/0722/1006_2.html", 2),
    "page-3-relative": ("1006_3.html", 3),
    "page-12-with-query-fragment": ("/a/1006_12.html?spm=1#x", 12),
    "listing-page": ("/news/rdjj/list_2.html", 1),
    "about": ("/about.html", 1),
    "folder": ("/news/rdjj/", 1),
    "empty": ("", 1),
    "junk": ("http://[::1", 1),
}


@pytest.mark.parametrize(("url", "number"), PAGE_NUMBER_CASES.values(), ids=list(PAGE_NUMBER_CASES))
def test_page_number(url: str, number: int) -> None:
    assert page_number(url) == number


SAME_HOST_CASES: dict[str, tuple[str, str, bool]] = {
    "same": (ARTICLE, ROOT, True),
    "relative": ("/news/rdjj/", ROOT, True),
    "host-case": ("http://127.0.0.1:8080/A", "HTTP://127.0.0.1:8080/", True),
    "other-scheme-same-port": ("https://127.0.0.1:8080/", ROOT, True),
    "default-port-explicit": ("http://example.com:80/a", "http://example.com/", True),
    "default-ports-across-schemes": ("https://example.com/a", "http://example.com/", True),
    "upper-case-host": ("http://EXAMPLE.com/a", "http://example.com", True),
    "other-port": ("http://127.0.0.1:8081/", ROOT, False),
    "other-host": ("http://www.ebrun.com/", ROOT, False),
    "subdomain": ("http://www.example.com/", "http://example.com/", False),
    "javascript": ("javascript:;", ROOT, False),
    "mailto": ("mailto:a@example.com", "http://example.com/", False),
    "bad-port": ("http://127.0.0.1:99999/", ROOT, False),
    "broken-ipv6": ("http://[::1/", ROOT, False),
    "site-relative": ("http://example.com/", "/relative", False),
}


@pytest.mark.parametrize(
    ("url", "site", "same"), SAME_HOST_CASES.values(), ids=list(SAME_HOST_CASES)
)
def test_same_host(url: str, site: str, same: bool) -> None:
    assert same_host(url, site) is same


URL_PATH_CASES: dict[str, tuple[str, str]] = {
    "article": (ARTICLE, "/news/rdjj/2025/0722/1006.html"),
    "with-query": (f"{ROOT}/search?q=x", "/search?q=x"),
    "fragment-dropped": (f"{ROOT}/a.html#c", "/a.html"),
    "no-path": ("http://example.com", "/"),
    "already-a-path": ("/news/rdjj/", "/news/rdjj/"),
    "not-normalised": ("http://h/a.html?spm=1", "/a.html?spm=1"),
    "canonical": (canonical_url("1006_2.html?spm=1", ARTICLE), "/news/rdjj/2025/0722/1006.html"),
}


@pytest.mark.parametrize(("url", "path"), URL_PATH_CASES.values(), ids=list(URL_PATH_CASES))
def test_url_path(url: str, path: str) -> None:
    assert url_path(url) == path


BAD_CASES: dict[str, tuple[str, str | None, str]] = {
    "javascript": ("javascript:;", LISTING, "unsupported URL scheme 'javascript'"),
    "mailto": ("mailto:a@example.com", None, "unsupported URL scheme 'mailto'"),
    "ftp": ("ftp://example.com/a", None, "unsupported URL scheme 'ftp'"),
    "empty": ("", None, "empty URL"),
    "blank": (" \t\n", None, "empty URL"),
    "port-out-of-range": ("http://example.com:99999/", None, "Port"),
    "port-not-a-number": ("http://example.com:8x/", None, "Port could not be cast"),
    "broken-ipv6": ("http://[::1/", None, "IPv6"),
    "no-host": ("http:///a.html", None, "no host"),
    "only-userinfo": ("http://user@/a.html", None, "no host"),
    "blank-host": ("http://example.com@ :/", None, "no host"),
    "bad-base": ("a.html", "http://[::1/", "IPv6"),
}


@pytest.mark.parametrize(("url", "base", "message"), BAD_CASES.values(), ids=list(BAD_CASES))
def test_unusable_url_raises_value_error(url: str, base: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize_url(url, base)
    with pytest.raises(ValueError, match=re.escape(message)):
        canonical_url(url, base)


def test_error_names_the_url() -> None:
    with pytest.raises(ValueError, match=re.escape("'http://example.com:99999/'")):
        normalize_url("http://example.com:99999/")


def test_url_path_broken_raises_value_error() -> None:
    with pytest.raises(ValueError, match="cannot parse URL"):
        url_path("http://[::1/")


@pytest.mark.parametrize("value", [None, b"/a.html", 3], ids=["none", "bytes", "int"])
def test_not_a_string_is_type_error(value: Any) -> None:
    with pytest.raises(TypeError):
        normalize_url(value)
    with pytest.raises(TypeError):
        url_path(value)
    assert page_number(value) == 1
    assert same_host(value, ROOT) is False


@pytest.mark.parametrize(
    "name",
    [*sorted(TRACKING_PARAMS), "utm_source", "utm_medium", "UTM_CAMPAIGN", " spm "],
    ids=lambda name: name.strip() or "blank",
)
def test_is_tracking_param(name: str) -> None:
    assert is_tracking_param(name)


@pytest.mark.parametrize("name", ["id", "page", "q", "utm", "sources", "spm_id"], ids=str)
def test_is_not_tracking_param(name: str) -> None:
    assert not is_tracking_param(name)


# --- every article link in the snapshot maps onto a gold URL ---------------------------------


def _gold_urls() -> frozenset[str]:
    return frozenset(
        url
        for version in ("v1", "v2")
        for line in (SITE / f"gold-{version}.jsonl").read_text("utf-8").splitlines()
        for url in json.loads(line)["urls"]
    )


def _listing_links() -> list[Any]:
    cases: list[Any] = []
    for page in sorted(SITE.glob("v*/news/*/*.html")):  # listing pages
        _, *parts = page.relative_to(SITE).parts
        folder_url = "/".join(parts[:-1]) + "/"
        base = f"{ROOT}/{folder_url if parts[-1] == 'index.html' else '/'.join(parts)}"
        _, text = html_to_unicode(None, page.read_bytes())
        cases.extend(
            pytest.param(href, base, id=f"{page.relative_to(SITE)}:{href}")
            for href in Selector(text=text).css("ul.news-list a::attr(href)").getall()
        )
    return cases


GOLD_URLS = _gold_urls()
LISTING_LINKS = _listing_links()


def test_snapshot_has_listing_links() -> None:
    assert len(LISTING_LINKS) >= 40


@pytest.mark.parametrize(("href", "base"), LISTING_LINKS)
def test_listing_link_canonicalises_to_gold(href: str, base: str) -> None:
    url = canonical_url(href, base)
    assert same_host(url, ROOT)
    path = url_path(url)
    # A listing may link a page that does not exist (404): no gold record, but a clean path.
    exists = any((SITE / version / path.lstrip("/")).is_file() for version in ("v1", "v2"))
    assert path in GOLD_URLS or (not exists and "?" not in path)


# --- properties -------------------------------------------------------------------------------

URL_PIECES = st.sampled_from(
    [
        *"/ab?&=#%.;:@~!'(*+ 中\\",
        *("_2", ".html", "1006", "..", "%2f", "%7E", "%e4%b8%ad", "%B5", "\t", "\x00"),
        *("spm", "utm_source", "from", "id", "t"),
    ]
)
URLS = st.builds(
    lambda scheme, host, port, rest: f"{scheme}://{host}{port}{''.join(rest)}",
    st.sampled_from(["http", "https", "HTTP", "HtTpS"]),
    st.sampled_from(["example.com", "EXAMPLE.com", "127.0.0.1", "[::1]", "中文.example", "a.b.c"]),
    st.sampled_from(["", ":80", ":443", ":8080", ":"]),
    st.lists(URL_PIECES, max_size=20),
)
RELATIVE = st.lists(URL_PIECES, max_size=20).map("".join)


@given(url=st.one_of(URLS, RELATIVE, st.text(max_size=60)))
@settings(max_examples=600, deadline=None)
def test_normalize_url_idempotent(url: str) -> None:
    try:
        once = normalize_url(url, "http://example.com/news/rdjj/")
    except ValueError:
        return
    assert normalize_url(once) == once
    assert canonical_url(once) == canonical_url(canonical_url(once))
    assert "#" not in once


@given(url=URLS)
@settings(max_examples=400, deadline=None)
def test_normalize_url_without_base_idempotent(url: str) -> None:
    try:
        once = normalize_url(url)
    except ValueError:
        return
    assert normalize_url(once) == once
    assert once == once.strip()
    assert not any(
        is_tracking_param(pair.split("=")[0])
        for pair in url_path(once).partition("?")[2].split("&")
        if pair
    )


@given(text=st.text(max_size=80), base=st.one_of(st.none(), st.text(max_size=30)))
@settings(max_examples=400, deadline=None)
def test_only_value_error_on_junk(text: str, base: str | None) -> None:
    with contextlib.suppress(ValueError):
        normalize_url(text, base)
    with contextlib.suppress(ValueError):
        canonical_url(text, base)
    page_number(text)
    same_host(text, base or "http://example.com/")
