"""The bundled site snapshot served on 127.0.0.1, for `make crawl` (crawler/demo.py).

A plain static server of the crawler's own: the tests have a richer one (faults, request
log) that the crawler must not import. It follows the snapshot's layout
(tests/fixtures/site/README.md): every URL path is a file, `/` and `…/` serve the folder's
index.html, a folder without its slash redirects to it, the query string is ignored, and
anything else is a 404. No directory listings.
"""

from __future__ import annotations

import errno
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "site" / "v1"


class _Handler(SimpleHTTPRequestHandler):
    def list_directory(self, path: str | Any) -> None:
        self.send_error(404, "Not found")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 -- base class name
        pass  # the crawl's own log says what was fetched


class SnapshotSite:
    """`with SnapshotSite(port=8765) as site: crawl(site.url)`; a busy port: any free one."""

    def __init__(self, root: Path = SNAPSHOT, port: int = 8765) -> None:
        self.root = root
        self.wanted_port = port
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        handler = partial(_Handler, directory=str(self.root))
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", self.wanted_port), handler)
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        assert self._server is not None, "not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
