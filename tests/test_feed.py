"""`ecnews export --format atom`: valid Atom, stable ids, an edit shows as updated."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import feedparser
import pytest

from storage.db import Database
from storage.feed import CATEGORY_SCHEME, SOURCE_SCHEME
from tests.conftest import SITE, ecnews
from tests.gold import load_jsonl
from tests.searchdata import HOST, T0, fill, record
from tests.storing import store

if TYPE_CHECKING:
    from pathlib import Path


# Each test starts a child process (an ecnews command, or the writer): not in make test-fast.
pytestmark = pytest.mark.process


def atom(database_url: str, tmp_path: Path, *args: str) -> Any:
    result = ecnews(
        "export", "--format", "atom", *args, database_url=database_url, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    feed = feedparser.parse(result.stdout)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed


def test_feed_is_valid_stable_and_shows_edits(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    fill(database, ("v1",))
    first = atom(database_url, tmp_path, "--limit", "50")
    second = atom(database_url, tmp_path, "--limit", "50")
    assert [e.id for e in first.entries] == [e.id for e in second.entries]
    assert len(first.entries) == 27

    entry = first.entries[0]
    assert entry.title
    assert entry.link.startswith("http://news.example/")
    assert entry.published.endswith("+08:00")
    assert entry.summary

    gold = next(g for g in load_jsonl(SITE / "gold-v1.jsonl") if g["title"] == entry.title)
    edited = replace(record(gold), body=gold["body"] + "\n编者按：本文已更新。")
    with database.sessions.begin() as session:
        store(session, edited, T0 + dt.timedelta(days=3))
    database.dispose()

    after = atom(database_url, tmp_path, "--limit", "50")
    assert [e.id for e in after.entries] == [e.id for e in first.entries]  # not a new entry
    before = {e.id: e.updated_parsed for e in first.entries}
    changed = [e.id for e in after.entries if e.updated_parsed != before[e.id]]
    assert changed == [entry.id]


def test_feed_of_one_category(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    fill(database, ("v1",))
    database.dispose()
    feed = atom(database_url, tmp_path, "--category", "zcfg", "--limit", "3")
    assert feed.feed.title == "ecnews: 政策法规"
    assert len(feed.entries) == 3
    assert all("/news/zcfg/" in e.link for e in feed.entries)


def test_entries_name_journalist_outlet_and_listings(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    fill(database, ("v1",))
    database.dispose()
    feed = atom(database_url, tmp_path, "--limit", "50", "--feed-url", "https://x.example/a.xml")
    golds = {HOST + g["urls"][0]: g for g in load_jsonl(SITE / "gold-v1.jsonl")}
    links = {link.rel: link.href for link in feed.feed.links}
    assert links == {"self": "https://x.example/a.xml", "alternate": "http://news.example/"}
    named = 0
    for entry in feed.entries:
        gold = golds[entry.link]
        if gold["author"]:
            assert entry.author == gold["author"]  # the journalist, not the outlet
            named += 1
        else:
            assert entry.get("author", "ecnews") == "ecnews"  # the feed's author stands
        outlets = {tag.label for tag in entry.tags if tag.scheme == SOURCE_SCHEME}
        assert outlets == ({gold["source"]} if gold["source"] else set())
        listings = {tag.term for tag in entry.tags if tag.scheme == CATEGORY_SCHEME}
        assert listings == {url.split("/")[2] for url in gold["urls"]}  # slugs
    assert named == 5


def test_self_link_defaults_to_the_written_file(database_url: str, tmp_path: Path) -> None:
    database = Database(database_url)
    fill(database, ("v1",))
    database.dispose()
    target = tmp_path / "feed.xml"
    result = ecnews(
        "export", "--format", "atom", "--category", "zcfg", "-o", str(target),
        database_url=database_url, tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    xml = target.read_text("utf-8")
    assert feedparser.parse(xml).bozo == 0
    assert f'<link href="{target.as_uri()}" rel="self"/>' in xml  # feedparser drops a slash
    assert '<link href="http://news.example/news/zcfg/" rel="alternate"' in xml
