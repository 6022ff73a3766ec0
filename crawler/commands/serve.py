"""`ecnews serve`: a read-only web view of the SQLite database, with Datasette.

Datasette opens the file `mode=ro` on every connection (`immutable=1` when its folder is
not ours to write, where `mode=ro` could not open a WAL database) and offers no write
endpoint in 0.65, so a crawl may write while analysts read. What the pages show is in
`crawler.commands.serve_metadata`; the front page, article page, operations page and
search functions are the plugin in `crawler.web.plugin`; the chart is datasette-dashboards.

The port is bound before anything is printed, so a busy port is one line and its own exit
code. Beyond loopback every table is public: the command says so, and `crawl_runs` is
refused unless `--show-runs` asks for it.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect

from crawler.commands import CommandError
from crawler.commands.reading import open_database
from crawler.commands.serve_metadata import CHART_ROW_LIMIT, PRIVATE_WHEN_PUBLIC, metadata
from crawler.exitcodes import EXIT_OK, EXIT_PORT_BUSY, EXIT_USAGE
from crawler.settings import database_url
from storage.db import sqlite_file, sqlite_immutable
from storage.search import SEARCH_TABLE

if TYPE_CHECKING:
    import argparse
    from collections.abc import Collection

    from datasette.app import Datasette

WEB = Path(__file__).resolve().parent.parent / "web"


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = subparsers.add_parser(
        "serve", help="read-only web view of the SQLite database (articles, chart, search)"
    )
    serve.add_argument("--port", type=int, default=8001, help="0: any free port (printed)")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; anything but loopback publishes every table",
    )
    serve.add_argument(
        "--show-runs",
        action="store_true",
        help="beyond loopback, publish crawl_runs too (hidden by default)",
    )


def is_loopback(host: str) -> bool:
    """Whether only this machine can reach `host`; a name other than localhost may not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on host:port; OSError when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _tables(url: str) -> list[str]:
    """The tables of the database; CommandError when it cannot be read as this ecnews
    needs (through the one read path of every reader)."""
    database = open_database(url)
    try:
        with database.engine.connect() as connection:
            found = inspect(connection)
            tables = [*found.get_table_names(), *found.get_view_names()]
    finally:
        database.dispose()
    if SEARCH_TABLE not in tables:
        raise CommandError("no search index in this database: run `ecnews db upgrade`")
    return tables


def run(args: argparse.Namespace) -> int:
    url = database_url()
    path = sqlite_file(url)
    if path is None:
        raise CommandError(
            "the web view reads SQLite only; DATABASE_URL is not a SQLite database", EXIT_USAGE
        )
    tables = _tables(url)
    private: tuple[str, ...] = ()
    if not is_loopback(args.host):
        private = () if args.show_runs else PRIVATE_WHEN_PUBLIC
        hidden = (
            f"; {', '.join(private)} stays hidden (--show-runs publishes it)" if private else ""
        )
        print(
            f"ecnews serve: warning: --host {args.host} publishes every table to anyone who"
            f" can reach this machine{hidden}",
            file=sys.stderr,
        )
    try:
        sock = listen(args.host, args.port)
    except OSError as error:
        print(
            f"ecnews serve: cannot listen on {args.host}:{args.port}: {error.strerror or error}"
            " (choose another with --port)",
            file=sys.stderr,
        )
        return EXIT_PORT_BUSY
    # Datasette and uvicorn only for this command: the crawl does not need them.
    import uvicorn  # noqa: PLC0415

    app = web_view(path, tables, private).app()
    with sock:
        # The bound port: with --port 0 the system chose it.
        port = sock.getsockname()[1]
        print(
            f"serving {path} read-only on http://{args.host}:{port}/", file=sys.stderr, flush=True
        )
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    return EXIT_OK


def web_view(path: Path, tables: Collection[str], private: Collection[str] = ()) -> Datasette:
    """The Datasette application for the SQLite file at `path`, holding `tables`."""
    from datasette.app import Datasette  # noqa: PLC0415
    from datasette.plugins import pm  # noqa: PLC0415

    from crawler.web import plugin  # noqa: PLC0415

    if not pm.is_registered(plugin):
        pm.register(plugin, name="ecnews")
    immutable = sqlite_immutable(path)  # as storage.db.open_readonly decides
    return Datasette(
        files=[] if immutable else [str(path)],
        immutables=[str(path)] if immutable else [],
        metadata=metadata(path.stem, tables, private),
        template_dir=str(WEB / "templates"),
        static_mounts=[("ecnews-static", str(WEB / "static"))],
        settings={
            "default_page_size": 50,
            "sql_time_limit_ms": 3000,
            "max_returned_rows": CHART_ROW_LIMIT,
            "truncate_cells_html": 120,
            "suggest_facets": False,
        },
    )
