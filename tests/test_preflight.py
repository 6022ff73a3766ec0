"""The checks made before a crawl starts, and the verdict on a site that never answered."""

from __future__ import annotations

from pathlib import Path

import pytest
from scrapy.utils.project import get_project_settings

from crawler.monitors import site_unreachable
from crawler.preflight import site_url_problem
from crawler.run import DEFAULT_LOCK_FILE, default_lock_file
from storage.db import redacted
from storage.preflight import url_problem


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8765", "https://news.example.com/", "http://[::1]:80/", "HTTP://Host/"],
    ids=["port", "https", "ipv6", "upper-case"],
)
def test_good_site_urls(url: str) -> None:
    assert site_url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("htp://host/", "scheme must be http or https"),
        ("ftp://host/", "scheme must be http or https"),
        ("javascript:alert(1)", "scheme must be http or https"),
        ("host/news", "no scheme"),
        ("http://", "no host"),
        ("http://host:99999/", "Port out of range"),
        ("http://host:abc/", "Port could not be cast"),
        ("http://host:0/", "port 0"),
        ("http://[::1/", "Invalid IPv6 URL"),
    ],
    ids=["typo", "ftp", "javascript", "no-scheme", "no-host", "port-range", "port-text",
         "port-0", "broken-ipv6"],
)  # fmt: skip
def test_bad_site_urls(url: str, says: str) -> None:
    problem = site_url_problem(url)
    assert problem is not None
    assert says in problem


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///data/ecnews.db",
        "sqlite:////abs/ecnews.db",
        "postgresql+psycopg://ecnews@db:5432/ecnews",
        "postgresql://ecnews@db/ecnews",
    ],
    ids=["sqlite", "sqlite-absolute", "psycopg", "postgresql-default-driver"],
)
def test_good_database_urls(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("nonsense", "is not a database URL"),
        ("", "is not a database URL"),
        ("postgres://u@h/d", "write postgresql+psycopg://"),
        ("mysql://u@h/d", "mysql is not supported"),
        ("postgresql+psycopg2://u@h/d", "is not installed"),
        ("nosuchdriver://u@h/d", "unknown driver 'nosuchdriver'"),
        ("postgresql+psycopg://u@h/", "names no database"),
    ],
    ids=["unparseable", "empty", "postgres", "mysql", "missing-driver", "unknown-driver",
         "no-database"],
)  # fmt: skip
def test_bad_database_urls(url: str, says: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert says in problem


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://u:s3cret@h/d", "postgresql+psycopg://u:***@h/d"),
        ("postgresql+psycopg://u@h/d?password=s3cret", "postgresql+psycopg://u@h/d?password=***"),
        ("not a url s3cret", "<unparseable DATABASE_URL>"),
    ],
    ids=["userinfo", "query-parameter", "unparseable"],
)
def test_passwords_never_shown(url: str, shown: str) -> None:
    assert redacted(url) == shown


LISTINGS_FAILED = {"news/listing/failed": 4}


@pytest.mark.parametrize(
    ("stats", "reason"),
    [
        (
            {**LISTINGS_FAILED, "news/listing/failed/DownloadConnectionRefusedError": 4},
            "connection refused (every listing page, after retries)",
        ),
        (
            {**LISTINGS_FAILED, "news/listing/failed/CannotResolveHostError": 4},
            "cannot resolve the host (every listing page, after retries)",
        ),
        (
            {
                **LISTINGS_FAILED,
                "news/listing/failed/DownloadTimeoutError": 3,
                "news/listing/failed/TCPTimedOutError": 1,
            },
            "no answer within DOWNLOAD_TIMEOUT (every listing page, after retries)",
        ),
        ({**LISTINGS_FAILED, "news/listing/failed/http_503": 4}, None),
        (
            {
                **LISTINGS_FAILED,
                "news/listing/failed/DownloadTimeoutError": 3,
                "news/listing/failed/http_500": 1,
            },
            None,
        ),
        (
            {
                "news/listing/pages": 1,
                "news/listing/failed/DownloadTimeoutError": 3,
            },
            None,
        ),
        ({}, None),
    ],
    ids=["refused", "dns", "timeouts", "http-errors", "mixed", "one-listing-read", "no-failure"],
)
def test_site_unreachable_verdict(stats: dict[str, int], reason: str | None) -> None:
    assert site_unreachable(stats) == reason


@pytest.mark.parametrize(
    ("url", "lock"),
    [
        ("sqlite:////srv/ecnews/ecnews.db", Path("/srv/ecnews/ecnews.db.lock")),
        ("sqlite:///data/x.db", Path("data/x.db.lock")),
        ("postgresql+psycopg://ecnews@db/ecnews", Path(DEFAULT_LOCK_FILE)),
    ],
    ids=["sqlite-absolute", "sqlite-relative", "postgresql"],
)
def test_the_lock_sits_next_to_the_sqlite_database(url: str, lock: Path) -> None:
    assert default_lock_file(url) == lock


@pytest.mark.parametrize("setting", ["REMOTE_CONTROL_ENABLED", "TELNETCONSOLE_ENABLED"])
def test_no_remote_access_unless_turned_on(monkeypatch: pytest.MonkeyPatch, setting: str) -> None:
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "crawler.settings")
    assert get_project_settings().getbool(setting) is False
