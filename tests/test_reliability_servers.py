"""Bad servers: connection resets, timeouts, 500/502/503/429, truncated bodies.

Two crawls of the snapshot with faults on chosen pages, by the real command over HTTP:

- *recovering*: every fault clears after a few requests. Each page is retried with
  backoff (a 429/503 no sooner than its Retry-After, without holding up other downloads)
  and the export equals gold-v1.
- *never recovering*: the pages keep failing. The run fails (exit 1) and names them;
  nothing broken or partial is stored; the next run, the site healed, completes the
  export.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from crawler.exitcodes import EXIT_FAILED, EXIT_OK
from crawler.middlewares import retry_after_seconds
from tests.conftest import SITE
from tests.gold import compare, load_jsonl
from tests.siteserver import SiteServer
from tests.test_reliability_support import crawl, export, last_run

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.siteserver import LoggedRequest

pytestmark = pytest.mark.slow

GOLD = load_jsonl(SITE / "gold-v1.jsonl")
BACKOFF = 0.2
FAST = ("-s", f"RETRY_BACKOFF_BASE={BACKOFF}", "-s", "DOWNLOAD_TIMEOUT=1")
# A quarter of the responses are injected errors here; the monitor would (rightly) fail
# a real run at 20 %.
ERRORS_EXPECTED = ("-s", "NEWS_MAX_ERROR_RESPONSE_RATIO=0.5")

RECOVERING: dict[str, dict[str, Any]] = {
    "/news/jxal/2025/0604/1027.html": {"reset": 2},
    "/news/jxal/2025/0612/1028.html": {"truncate": 2},
    "/news/jxal/2025/0701/1029.html": {"fail_first": 3, "status": 500},
    "/news/jxal/2025/0718/1030.html": {"fail_first": 1, "status": 502},
    "/news/zcfg/2025/0801/1023.html": {"fail_first": 2, "status": 503},
    "/news/sjbg/2025/0616/1011.html": {"fail_first": 1, "status": 503, "retry_after": 1},
    "/news/rdjj/2025/0619/1005.html": {"fail_first": 1, "status": 429, "retry_after": 2},
    "/news/rdjj/2025/0806/1007.html": {"fail_first": 1, "status": 429, "retry_after": 2},
    "/news/rdjj/2025/0812/1008.html": {"fail_first": 1, "status": 429, "retry_after": 2},
    # The second page of a multi-page article.
    "/news/rdjj/2025/0722/1006_2.html": {"fail_first": 2, "status": 503},
    # A listing page.
    "/news/sjbg/list_2.html": {"fail_first": 1, "status": 503},
}
# Slower than DOWNLOAD_TIMEOUT on its first request only (see _heal_after_first_request).
TIMES_OUT_ONCE = "/news/sjbg/2025/0626/1012.html"
THROTTLED = [path for path, fault in RECOVERING.items() if fault.get("status") == 429]

NEVER: dict[str, dict[str, Any]] = {
    "/news/jxal/2025/0604/1027.html": {"fail_first": 99, "status": 503},
    "/news/jxal/2025/0612/1028.html": {"reset": 99},
    "/news/jxal/2025/0701/1029.html": {"truncate": 99},
    "/news/jxal/2025/0718/1030.html": {"delay_ms": 2500},
    # Retry-After longer than RETRY_AFTER_MAX: honoured by not asking again in this run.
    "/news/jxal/2025/0801/1031.html": {"fail_first": 99, "status": 429, "retry_after": 3600},
    "/news/rdjj/2025/0722/1006_2.html": {"fail_first": 99, "status": 503},
    "/news/sjbg/list_2.html": {"fail_first": 99, "status": 503},
}
NEVER_ARTICLES = {
    "/news/jxal/2025/0604/1027.html": "http_503",
    "/news/jxal/2025/0612/1028.html": "DownloadFailedError",
    "/news/jxal/2025/0701/1029.html": "ResponseDataLossError",
    "/news/jxal/2025/0718/1030.html": "DownloadTimeoutError",
    "/news/jxal/2025/0801/1031.html": "http_429",
    "/news/rdjj/2025/0722/1006.html": "http_503",
}


@dataclass
class Run:
    exit_code: int
    stderr: str
    log: list[LoggedRequest]
    stats: dict[str, Any]
    export: list[dict[str, Any]]
    status: str
    reason: str | None


def _run(site: SiteServer, db: str, tmp: Path, *args: str) -> Run:
    site.clear_log()
    result = crawl(site, db, tmp, *args)
    run = last_run(db)
    return Run(
        result.returncode, result.stderr, list(site.log), run.stats or {}, export(db),
        run.status, run.reason,
    )  # fmt: skip


def _heal_after_first_request(site: SiteServer, path: str) -> threading.Thread:
    def watch() -> None:
        deadline = time.monotonic() + 60
        while not site.requests_for(path) and time.monotonic() < deadline:
            time.sleep(0.01)
        site.add_fault(path)  # no fault: the next request is answered at once

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


@pytest.fixture(scope="module")
def recovering(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    tmp = tmp_path_factory.mktemp("recovering")
    faults = {**RECOVERING, TIMES_OUT_ONCE: {"delay_ms": 2500}}
    with SiteServer(SITE, "v1", faults=faults) as site:
        watcher = _heal_after_first_request(site, TIMES_OUT_ONCE)
        yield _run(site, f"sqlite:///{tmp / 'ecnews.db'}", tmp, *FAST, *ERRORS_EXPECTED)
        watcher.join(timeout=5)


def _requests(run: Run, path: str) -> list[LoggedRequest]:
    return [r for r in run.log if r.path == path]


def test_recovering_faults_end_in_gold(recovering: Run) -> None:
    assert recovering.exit_code == EXIT_OK, recovering.stderr[-4000:]
    problems = compare(recovering.export, GOLD)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("path", "statuses"),
    [
        ("/news/jxal/2025/0604/1027.html", [0, 0, 200]),
        ("/news/jxal/2025/0612/1028.html", [200, 200, 200]),  # two truncated, then whole
        ("/news/jxal/2025/0701/1029.html", [500, 500, 500, 200]),
        ("/news/jxal/2025/0718/1030.html", [502, 200]),
        ("/news/zcfg/2025/0801/1023.html", [503, 503, 200]),
        ("/news/sjbg/2025/0616/1011.html", [503, 200]),
        ("/news/rdjj/2025/0619/1005.html", [429, 200]),
        ("/news/rdjj/2025/0722/1006_2.html", [503, 503, 200]),
        ("/news/sjbg/list_2.html", [503, 200]),
        (TIMES_OUT_ONCE, [200, 200]),  # the first answer came after the timeout
    ],
    ids=[
        "reset", "truncated", "500", "502", "503", "503-retry-after", "429-retry-after",
        "multi-page-503", "listing-503", "timeout",
    ],
)  # fmt: skip
def test_each_fault_is_retried_until_it_clears(
    recovering: Run, path: str, statuses: list[int]
) -> None:
    assert [r.status for r in _requests(recovering, path)] == statuses


def test_retries_back_off_exponentially(recovering: Run) -> None:
    times = [r.time for r in _requests(recovering, "/news/jxal/2025/0701/1029.html")]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert len(gaps) == 3
    for n, gap in enumerate(gaps, start=1):
        assert gap >= BACKOFF * 2 ** (n - 1), gaps
    assert recovering.stats.get("retry/reason_count/500 Internal Server Error") == 3


def test_retry_after_is_honoured_without_holding_up_other_downloads(recovering: Run) -> None:
    windows = []
    for path in [*THROTTLED, "/news/sjbg/2025/0616/1011.html"]:
        first, retry = (r.time for r in _requests(recovering, path))
        asked = RECOVERING[path]["retry_after"]
        assert retry - first >= asked, (path, retry - first)
        windows.append((first, retry))
    throttled = windows[: len(THROTTLED)]
    # Three waits of 2 s each, at once: a blocking wait would take 6 s or more.
    span = max(end for _, end in throttled) - min(start for start, _ in throttled)
    assert span < 2 * len(THROTTLED) - 1, throttled
    assert recovering.stats.get("retry/retry_after_honoured") == 4


def test_retry_after_header_forms() -> None:
    assert retry_after_seconds(b"120") == 120
    assert retry_after_seconds("Wed, 01 Jan 2025 00:01:00 GMT", now=_jan1()) == 60
    assert retry_after_seconds("Wed, 01 Jan 2025 00:00:00 GMT", now=_jan1(1)) == 0
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None


def _jan1(second: int = 0) -> Any:
    import datetime as dt

    return dt.datetime(2025, 1, 1, 0, 0, second, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def never(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Run, Run]]:
    tmp = tmp_path_factory.mktemp("never")
    db = f"sqlite:///{tmp / 'ecnews.db'}"
    with SiteServer(SITE, "v1", faults=NEVER) as site:
        failed = _run(site, db, tmp, *FAST, "-s", "RETRY_TIMES=2")
        site.clear_faults()
        healed = _run(site, db, tmp, *FAST)
        yield failed, healed


def test_pages_that_never_recover_fail_the_run(never: tuple[Run, Run]) -> None:
    failed, _ = never
    assert failed.exit_code == EXIT_FAILED, failed.stderr[-4000:]
    assert failed.status == "failed"
    assert "article pages failed after retries" in (failed.reason or "")
    assert failed.stats.get("news/article/failed") == len(NEVER_ARTICLES)
    for reason in set(NEVER_ARTICLES.values()):
        expected = sum(1 for r in NEVER_ARTICLES.values() if r == reason)
        assert failed.stats.get(f"news/article/failed/{reason}") == expected, reason
    assert failed.stats.get("news/listing/failed") == 1
    assert failed.stats.get("retry/retry_after_too_long") == 1


@pytest.mark.parametrize("path", sorted(NEVER_ARTICLES), ids=sorted(NEVER_ARTICLES.values()))
def test_a_failed_page_is_logged_and_not_stored(never: tuple[Run, Run], path: str) -> None:
    failed, _ = never
    stored = {u for record in failed.export for u in record["urls"]}
    assert not any(u.endswith(path) for u in stored), f"{path} stored broken"
    assert f"{path} failed ({NEVER_ARTICLES[path]})" in failed.stderr


def test_retry_after_beyond_the_maximum_is_not_retried(never: tuple[Run, Run]) -> None:
    failed, _ = never
    assert [r.status for r in _requests(failed, "/news/jxal/2025/0801/1031.html")] == [429]


def test_the_next_run_fetches_what_failed(never: tuple[Run, Run]) -> None:
    failed, healed = never
    stored_before = {record["url"] for record in failed.export}
    assert healed.exit_code == EXIT_OK, healed.stderr[-4000:]
    problems = compare(healed.export, GOLD)
    assert not problems, "\n".join(problems)
    # Only what was missing is fetched again (the run is incremental).
    fetched = {r.path for r in healed.log if r.status == 200 and "/20" in r.path}
    assert not any(url.endswith(tuple(fetched)) for url in stored_before), fetched


def test_a_listing_page_that_never_recovers_fails_the_run(sqlite_url: str, tmp_path: Path) -> None:
    with SiteServer(
        SITE, "v1", faults={"/news/sjbg/list_2.html": NEVER["/news/sjbg/list_2.html"]}
    ) as site:
        result = crawl(site, sqlite_url, tmp_path, *FAST, "-s", "RETRY_TIMES=0")
    assert last_run(sqlite_url).stats["news/listing/failed"] == 1
    assert result.returncode == EXIT_FAILED
