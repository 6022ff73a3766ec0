"""`ecnews layout show|pin VERSION|forget VERSION`: the site layout the crawl reads with,
what proved it, its history; an operator's roll-back (docs/layout.md)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

from crawler.commands import CommandError
from crawler.commands.reading import open_database, reading
from crawler.exitcodes import EXIT_OK, EXIT_USAGE
from crawler.layout import DEFAULT
from crawler.settings import database_options, database_url
from storage import layouts
from storage.db import Database

if TYPE_CHECKING:
    import argparse

    from sqlalchemy.orm import Session

    from storage.models import SiteLayout


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    layout = subparsers.add_parser("layout", help="the site layout learned after a redesign")
    actions = layout.add_subparsers(dest="action", required=True)
    actions.add_parser("show", help="the active layout, its evidence and its history")
    pin = actions.add_parser("pin", help="read with this layout whatever is learned later")
    pin.add_argument("version")
    forget = actions.add_parser("forget", help="never read with this layout again")
    forget.add_argument("version")


def run(args: argparse.Namespace) -> int:
    if args.action == "show":
        with reading() as session:  # the readers' one path: read-only, never waits
            _show(session)
        return EXIT_OK
    open_database().dispose()  # exists and is at head: the readers' checks and messages
    database = Database(database_url(), migrate=False, options=database_options())
    try:
        with database.sessions.begin() as session:
            row = layouts.find(session, args.version)
            if row is None:
                raise CommandError(
                    f"no stored layout {args.version!r} (see ecnews layout show)", EXIT_USAGE
                )
            if args.action == "pin":
                layouts.pin(session, row.version)
                print(f"layout {row.version} pinned: the crawl reads with it from now on")
            else:
                layouts.forget(session, row.version, dt.datetime.now(dt.UTC))
                print(f"layout {row.version} forgotten: the next run falls back or relearns")
    finally:
        database.dispose()
    return EXIT_OK


def _show(session: Session) -> None:
    active = layouts.active_layout(session)
    if active is None:
        print(f"active layout: the shipped one ({DEFAULT.version}); none learned")
    else:
        print(f"active layout: {active.version}{' (pinned)' if active.pinned else ''}")
        print(f"  adopted {active.adopted_at.isoformat(timespec='seconds')}")
        for name, value in active.description.items():
            print(f"  {name}: {json.dumps(value, ensure_ascii=False)}")
        evidence = active.evidence
        print(
            f"  proven on {len(evidence.get('articles', []))} stored articles, every field "
            f"({', '.join(evidence.get('fields', []))}); "
            f"{len(evidence.get('listings', []))} listing pages"
        )
        for url in evidence.get("articles", []):
            print(f"    {url}")
        if evidence.get("edited_since_stored"):
            print(
                f"  edited on the site since stored: {', '.join(evidence['edited_since_stored'])}"
            )
    history = layouts.history(session)
    if history:
        print("history:")
        for row in history:
            print(f"  {row.version}  {row.adopted_at.isoformat(timespec='seconds')}  {_state(row)}")


def _state(row: SiteLayout) -> str:
    if row.forgotten_at is not None:
        return f"forgotten {row.forgotten_at.isoformat(timespec='seconds')}"
    return "pinned" if row.pinned else "adopted"
