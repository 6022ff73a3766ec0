"""Compare an export with a gold file field by field, the way the site README says."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from crawler.urls import url_path
from storage.export import FIELDS

# The export's fields but the two that depend on when the crawl ran.
GOLD_FIELDS = tuple(f for f in FIELDS if f not in {"first_seen_at", "updated_at"})


def load_jsonl(path: Path | str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text("utf-8").splitlines() if line]


def compare(export: list[dict[str, Any]], gold: list[dict[str, Any]]) -> list[str]:
    """Every difference, readable; empty when the export matches the gold exactly.

    `urls` is compared as a set: which copy of a syndicated article was "first" depends
    on crawl order when both copies are found in one crawl.
    """
    problems: list[str] = []
    by_path = {path: index for index, record in enumerate(gold) for path in record["urls"]}
    matched: dict[int, int] = {}
    for record in export:
        paths = {url_path(u) for u in [record["url"], *record["urls"]]}
        hits = {by_path[p] for p in paths if p in by_path}
        if not hits:
            problems.append(f"extra record not in gold: {record['url']} {record['title']!r}")
            continue
        index = hits.pop()
        if index in matched:
            problems.append(f"duplicate record for gold {gold[index]['url']}: {record['url']}")
            continue
        matched[index] = 1
        want = gold[index]
        for field in GOLD_FIELDS:
            got, expected = record.get(field), want.get(field)
            if field == "url":
                got, expected = url_path(got or "") in want["urls"], True
            elif field == "urls":
                got, expected = sorted(url_path(u) for u in got or []), sorted(expected)
            elif field == "published_at" and got and expected:
                got = dt.datetime.fromisoformat(got)
                expected = dt.datetime.fromisoformat(expected)
            if got != expected:
                problems.append(
                    f"{want['url']} field {field}:\n    got      {got!r}\n    expected {expected!r}"
                )
    for index, record in enumerate(gold):
        if index not in matched:
            problems.append(f"missing gold article: {record['url']} {record['title']!r}")
    return problems
