"""tests/siteserver.py against real HTTP: a server on 127.0.0.1:0 and http.client/urllib."""

import hashlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import Message
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from tests.siteserver import LoggedRequest, SiteServer

SITE = Path(__file__).resolve().parent / "fixtures" / "site"
REPO = SITE.parents[2]
MANIFEST = json.loads((SITE / "manifest.json").read_text("utf-8"))
ARTICLE = "/news/rdjj/2025/0822/1001.html"
FAILING = "/news/zcfg/2025/0801/1023.html"  # faults.json: fail_first 2, status 503
DELAYED = "/news/rdjj/list_2.html"  # faults.json: delay_ms 1200


def manifest_files(version: str) -> dict[str, dict[str, Any]]:
    return {entry["path"]: entry for entry in MANIFEST["snapshots"][version]["files"]}


def get(
    server: SiteServer, path: str, method: str = "GET", **headers: str
) -> tuple[int, Message, bytes]:
    """One request on a fresh connection; redirects are not followed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


@pytest.fixture
def server() -> Iterator[SiteServer]:
    with SiteServer(SITE) as site:
        yield site


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "report.pdf").write_bytes(b"%PDF-1.4 fake")
    (tmp_path / "files" / "qr.jpg").write_bytes(b"\xff\xd8\xff fake jpeg")
    (tmp_path / "about.html").write_bytes(b"<html>overlay about</html>")
    os.utime(tmp_path / "about.html", (1_700_000_000, 1_700_000_000))
    return tmp_path


# -- files and URL layout ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("/", "index.html"),
        ("/news/rdjj/", "news/rdjj/index.html"),
        ("/news/rdjj/?page=3&from=index", "news/rdjj/index.html"),
        ("/about.html?utm_source=x&utm_medium=y", "about.html"),
        (f"{ARTICLE}?spm=1.2.3", "news/rdjj/2025/0822/1001.html"),
        (f"{ARTICLE}#comments", "news/rdjj/2025/0822/1001.html"),
        ("//about.html", "about.html"),
    ],
    ids=[
        "root",
        "category-folder",
        "folder-with-query",
        "page-with-query",
        "article-with-spm",
        "fragment-sent",
        "leading-double-slash",
    ],
)
def test_serves_file_for_url(server: SiteServer, path: str, file: str) -> None:
    status, headers, body = get(server, path)
    assert status == 200
    assert body == (SITE / "v1" / file).read_bytes()
    assert headers["Content-Length"] == str(len(body))


@pytest.mark.parametrize("version", ["v1", "v2"], ids=["v1", "v2"])
def test_every_file_served_unchanged_with_manifest_date(version: str) -> None:
    with SiteServer(SITE, version, faults={}) as site:
        for path, entry in manifest_files(version).items():
            status, headers, body = get(site, path)
            assert status == 200, path
            assert hashlib.sha256(body).hexdigest() == entry["sha256"], path
            assert headers["Last-Modified"] == entry["last_modified"], path
            assert headers["ETag"] == f'"{entry["sha256"]}"', path


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/news/rdjj", "/news/rdjj/"),
        ("/news", "/news/"),
        ("/news/rdjj?from=nav", "/news/rdjj/?from=nav"),
    ],
    ids=["category", "parent-folder", "query-kept"],
)
def test_folder_without_slash_redirects(server: SiteServer, path: str, location: str) -> None:
    status, headers, _ = get(server, path)
    assert status == 301
    assert headers["Location"] == server.url + location


@pytest.mark.parametrize(
    "path",
    [
        "/nope.html",
        "/news/rdjj/list_9.html",
        "/news/rdjj/2025/",
        "/about.html/",
        "/search?q=x",
    ],
    ids=[
        "missing-file",
        "missing-listing",
        "folder-without-index",
        "file-as-folder",
        "search",
    ],
)
def test_missing_path_is_small_html_404(server: SiteServer, path: str) -> None:
    status, headers, body = get(server, path)
    assert status == 404
    assert headers["Content-Type"] == "text/html"
    assert b"404" in body
    assert len(body) < 1000


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        (ARTICLE, "text/html"),
        ("/robots.txt", "text/plain"),
        ("/files/report.pdf", "application/pdf"),
        ("/files/qr.jpg", "image/jpeg"),
    ],
    ids=["index", "article", "robots", "pdf", "jpeg"],
)
def test_content_type(overlay: Path, path: str, content_type: str) -> None:
    with SiteServer(SITE, overlay=overlay) as site:
        status, headers, _ = get(site, path)
    assert status == 200
    assert headers["Content-Type"] == content_type


def test_overlay_files_on_top_with_mtime(overlay: Path) -> None:
    with SiteServer(SITE, overlay=overlay) as site:
        _, headers, body = get(site, "/about.html")
        assert body == b"<html>overlay about</html>"
        assert headers["Last-Modified"] == formatdate(1_700_000_000, usegmt=True)
        assert get(site, "/files")[0] == 301  # overlay folders count as folders
        assert get(site, ARTICLE)[2] == (SITE / "v1" / ARTICLE[1:]).read_bytes()


def test_head_has_headers_but_no_body(server: SiteServer) -> None:
    status, headers, body = get(server, ARTICLE, method="HEAD")
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(manifest_files("v1")[ARTICLE]["bytes"])
    assert headers["ETag"] == f'"{manifest_files("v1")[ARTICLE]["sha256"]}"'


def test_keep_alive_serves_many_requests_on_one_connection(server: SiteServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for path in ["/", "/nope", "/news/rdjj", ARTICLE, "/robots.txt"] * 3:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            assert not response.will_close
    finally:
        conn.close()
    assert server.count() == 15


# -- conditional requests -------------------------------------------------------------


ETAG = f'"{manifest_files("v1")[ARTICLE]["sha256"]}"'
LAST_MODIFIED = manifest_files("v1")[ARTICLE]["last_modified"]


def shifted(seconds: int) -> str:
    """LAST_MODIFIED moved by ``seconds``, as an HTTP date."""
    return formatdate(parsedate_to_datetime(LAST_MODIFIED).timestamp() + seconds, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-None-Match": ETAG}, 304),
        ({"If-None-Match": f'"other", {ETAG}'}, 304),
        ({"If-None-Match": f"W/{ETAG}"}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": LAST_MODIFIED}, 304),
        ({"If-Modified-Since": shifted(3600)}, 304),
        ({"If-Modified-Since": shifted(-1)}, 200),
        ({"If-Modified-Since": "yesterday"}, 200),
        ({"If-None-Match": '"other"', "If-Modified-Since": shifted(3600)}, 200),
    ],
    ids=[
        "inm-match",
        "inm-list",
        "inm-weak",
        "inm-star",
        "inm-mismatch",
        "ims-at",
        "ims-after",
        "ims-before",
        "ims-junk",
        "inm-wins-over-ims",
    ],
)
def test_conditional_get(server: SiteServer, headers: dict[str, str], status: int) -> None:
    got, response_headers, body = get(server, ARTICLE, **headers)
    assert got == status
    assert response_headers["ETag"] == ETAG
    if status == 304:
        assert body == b""
        assert response_headers["Last-Modified"] == LAST_MODIFIED


# -- faults ---------------------------------------------------------------------------


def test_faults_json_fail_first_then_ok(server: SiteServer) -> None:
    # The query string is ignored when counting, too.
    statuses = [get(server, f"{FAILING}?n={n}")[0] for n in range(4)]
    assert statuses == [503, 503, 200, 200]
    assert [entry.status for entry in server.requests_for(FAILING)] == statuses


def test_faults_json_delay(server: SiteServer) -> None:
    started = time.monotonic()
    status, _, body = get(server, DELAYED)
    assert status == 200
    assert time.monotonic() - started >= 1.2
    assert body == (SITE / "v1" / DELAYED[1:]).read_bytes()


def test_faults_none_reads_faults_json_and_empty_disables(server: SiteServer) -> None:
    with SiteServer(SITE, faults={}) as clean:
        assert get(clean, FAILING)[0] == 200
    assert get(server, FAILING)[0] == 503


def test_fail_first_with_retry_after(server: SiteServer) -> None:
    server.add_fault("/about.html", fail_first=1, status=429, retry_after=2)
    status, headers, body = get(server, "/about.html")
    assert (status, headers["Retry-After"]) == (429, "2")
    assert b"429" in body
    assert get(server, "/about.html")[0] == 200


def test_added_delay(server: SiteServer) -> None:
    server.add_fault("/about.html", delay_ms=80)
    started = time.monotonic()
    assert get(server, "/about.html")[0] == 200
    assert time.monotonic() - started >= 0.08


def test_reset_closes_without_response(server: SiteServer) -> None:
    server.add_fault(ARTICLE, reset=1)
    with pytest.raises(ConnectionError):
        get(server, ARTICLE)
    assert get(server, ARTICLE)[0] == 200
    assert [entry.status for entry in server.requests_for(ARTICLE)] == [0, 200]


def test_truncate_announces_full_length_sends_half(server: SiteServer) -> None:
    server.add_fault(ARTICLE, truncate=1)
    size = manifest_files("v1")[ARTICLE]["bytes"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", ARTICLE)
        response = conn.getresponse()
        assert response.headers["Content-Length"] == str(size)
        with pytest.raises(http.client.IncompleteRead) as excinfo:
            response.read()
    finally:
        conn.close()
    assert len(excinfo.value.partial) == size // 2
    assert get(server, ARTICLE)[0] == 200


def test_fault_windows_follow_one_another(server: SiteServer) -> None:
    server.add_fault("/about.html", reset=1, fail_first=2, status=500)
    outcomes: list[int] = []
    for _ in range(4):
        try:
            outcomes.append(get(server, "/about.html")[0])
        except ConnectionError:
            outcomes.append(0)
    assert outcomes == [0, 500, 500, 200]


@pytest.mark.parametrize(
    ("fault", "status", "location"),
    [
        ({"redirect": "http://external.example/page"}, 302, "http://external.example/page"),
        ({"redirect": "/loop-b", "status": 301}, 301, "/loop-b"),
        ({"redirect": "/about.html", "status": 307}, 307, "/about.html"),
    ],
    ids=["off-site-302", "loop-301", "temporary-307"],
)
def test_redirect(server: SiteServer, fault: dict[str, Any], status: int, location: str) -> None:
    server.add_fault("/loop-a", **fault)
    for _ in range(2):  # always, not just the first time
        got, headers, _ = get(server, "/loop-a")
        assert (got, headers["Location"]) == (status, location)


def test_body_bytes_serves_exact_generated_page(server: SiteServer) -> None:
    size = 20 * 1024 * 1024 + 7
    server.add_fault("/huge.html", body_bytes=size)
    status, headers, body = get(server, "/huge.html")
    assert status == 200
    assert headers["Content-Length"] == str(size)
    assert headers["Content-Type"] == "text/html"
    assert len(body) == size
    assert body.startswith(b"<!DOCTYPE html>")
    assert body.endswith(b"</html>\n")
    body.decode("utf-8")  # valid UTF-8 all through
    assert get(server, "/huge.html", If_None_Match=headers["ETag"])[0] == 304


def test_content_type_override(server: SiteServer) -> None:
    server.add_fault(ARTICLE, content_type="text/html; charset=utf-8")
    status, headers, _ = get(server, ARTICLE)
    assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8")


@pytest.mark.parametrize(
    "fault",
    [
        {"fail_first": 1, "status": 999},
        {"redirect": "/x", "status": 200},
        {"redirect": "/x", "fail_first": 1},
        {"fial_first": 1},
        {"delay_ms": -1},
        {"retry_after": 3},
        {"truncate": True},
    ],
    ids=[
        "bad-status",
        "non-3xx-redirect",
        "redirect-and-fail",
        "typo",
        "negative",
        "orphan",
        "bool",
    ],
)
def test_bad_fault_spec_rejected(server: SiteServer, fault: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="fault for /x"):
        server.add_fault("/x", **fault)


def test_add_fault_restarts_its_counter_reset_faults_restarts_all(server: SiteServer) -> None:
    assert get(server, FAILING)[0] == 503
    server.add_fault("/about.html", fail_first=1)
    assert get(server, "/about.html")[0] == 503
    server.add_fault("/about.html", fail_first=1)
    assert get(server, "/about.html")[0] == 503
    server.reset_faults()
    assert [get(server, FAILING)[0] for _ in range(3)] == [503, 503, 200]
    assert get(server, "/about.html")[0] == 503


# -- versions -------------------------------------------------------------------------


def test_set_version_switches_snapshot_on_same_port(server: SiteServer) -> None:
    taken_down, published = "/news/zcfg/2025/0808/1024.html", "/news/rdjj/2025/0824/1010.html"
    url = server.url
    assert (get(server, taken_down)[0], get(server, published)[0]) == (200, 404)
    assert get(server, FAILING)[0] == 503
    server.set_version("v2")
    assert server.url == url
    assert server.version == "v2"
    assert (get(server, taken_down)[0], get(server, published)[0]) == (404, 200)
    assert get(server, "/")[2] == (SITE / "v2" / "index.html").read_bytes()
    # Counters survive the switch: one 503 left, then the page.
    assert [get(server, FAILING)[0] for _ in range(2)] == [503, 200]


def test_unknown_version_and_non_loopback_host_rejected(server: SiteServer) -> None:
    with pytest.raises(FileNotFoundError):
        server.set_version("v9")
    with pytest.raises(ValueError, match="loopback"):
        SiteServer(SITE, host="0.0.0.0")


# -- request log ----------------------------------------------------------------------


def test_request_log_records_what_was_asked(server: SiteServer) -> None:
    before = time.time()
    get(
        server,
        f"{ARTICLE}?from=index",
        User_Agent="ecnews-test/1.0",
        If_None_Match='"abc"',
        If_Modified_Since="Sat, 23 Aug 2025 00:00:00 GMT",
    )
    get(server, "/nope.html", method="HEAD")
    entry, missing = server.log
    assert entry == LoggedRequest(
        method="GET",
        path=ARTICLE,
        query="from=index",
        status=200,
        if_none_match='"abc"',
        if_modified_since="Sat, 23 Aug 2025 00:00:00 GMT",
        user_agent="ecnews-test/1.0",
        time=entry.time,
    )
    assert before <= entry.time <= time.time()
    assert (missing.method, missing.status, missing.user_agent) == ("HEAD", 404, None)
    assert server.requests_for(f"{ARTICLE}?ignored=1") == [entry]
    assert server.count(lambda e: e.status == 404) == 1
    server.clear_log()
    assert server.log == []
    assert server.count() == 0


# -- load and lifecycle ---------------------------------------------------------------


def test_concurrent_requests_all_succeed(server: SiteServer) -> None:
    paths = sorted(manifest_files("v1"))
    paths.remove(DELAYED)  # keep the test fast
    paths.remove(FAILING)
    jobs = [paths[i % len(paths)] for i in range(200)]

    def fetch(path: str) -> bool:
        with urllib.request.urlopen(server.url + path, timeout=10) as response:
            return bool(response.read() == (SITE / "v1" / path[1:]).read_bytes())

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(fetch, jobs))
    assert all(results)
    assert server.count(lambda e: e.status == 200) == 200


def test_stop_is_prompt_with_idle_keep_alive_connection() -> None:
    site = SiteServer(SITE)
    site.start()
    conn = http.client.HTTPConnection("127.0.0.1", site.port, timeout=10)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
        started = time.monotonic()
        site.stop()
        assert time.monotonic() - started < 2
    finally:
        conn.close()
    site.stop()  # idempotent


def test_quiet_by_default(server: SiteServer, capfd: pytest.CaptureFixture[str]) -> None:
    get(server, "/")
    get(server, "/nope")
    assert capfd.readouterr() == ("", "")


@pytest.mark.process
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_cli_serves_until_signal(signum: signal.Signals) -> None:
    command = [sys.executable, "-m", "tests.siteserver", "--root", str(SITE), "--version", "v2"]
    with subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            prefix = "serving v2 at http://127.0.0.1:"
            assert line.startswith(prefix), line
            with urllib.request.urlopen(line.removeprefix("serving v2 at ") + "/", timeout=10) as r:
                assert r.read() == (SITE / "v2" / "index.html").read_bytes()
            process.send_signal(signum)
            assert process.wait(timeout=10) == 0
            assert process.stderr is not None
            assert process.stderr.read() == ""
        finally:
            if process.poll() is None:
                process.kill()
