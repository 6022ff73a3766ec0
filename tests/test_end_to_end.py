"""The real spider against the snapshot over HTTP, v1 then v2, export compared with gold."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from tests.conftest import SITE, ecnews
from tests.gold import compare, load_jsonl

if TYPE_CHECKING:
    from pathlib import Path

    from tests.siteserver import SiteServer

pytestmark = pytest.mark.slow


def _export(database_url: str, tmp_path: Path) -> list[dict[str, object]]:
    result = ecnews("export", "--format", "jsonl", database_url=database_url, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _crawl(site: SiteServer, database_url: str, tmp_path: Path, *args: str) -> None:
    result = ecnews(
        "crawl", "--base-url", site.url, *args, database_url=database_url, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr[-5000:]


def test_v1_then_v2_match_gold(site: SiteServer, database_url: str, tmp_path: Path) -> None:
    _crawl(site, database_url, tmp_path, "--mode", "full")
    problems = compare(_export(database_url, tmp_path), load_jsonl(SITE / "gold-v1.jsonl"))
    assert not problems, "export differs from gold-v1:\n" + "\n".join(problems)

    site.set_version("v2")
    _crawl(site, database_url, tmp_path, "--mode", "full")
    problems = compare(_export(database_url, tmp_path), load_jsonl(SITE / "gold-v2.jsonl"))
    assert not problems, "export differs from gold-v2:\n" + "\n".join(problems)
