"""`ecnews export` in every format loads as it is, in pandas and in DuckDB (no extension
loaded or installed), equal to the JSONL; `--limit` for every format; dates as words.

The comparison is on meaning: an instant is an instant whatever zone a reader shows it
in, a list is a list whether JSON text (CSV) or `list<string>` (Parquet)."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crawler.commands.reading import day
from crawler.exitcodes import EXIT_USAGE
from storage.db import Database
from storage.export import FIELDS, WITH_LOCAL_DATE
from storage.zone import SITE_TZ
from tests.conftest import ecnews
from tests.searchdata import fill

# Every test here starts a child process (an ecnews command, a crawl or a tool): not in make test-fast.
pytestmark = pytest.mark.process


TIMES = ("published_at", "first_seen_at", "updated_at")
LISTS = ("urls", "categories")


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('formats') / 'ecnews.db'}"


@pytest.fixture(scope="module")
def exported(sqlite_url: str) -> dict[str, Path]:
    tmp_path = Path(sqlite_url.removeprefix("sqlite:///")).parent
    database = Database(sqlite_url)
    fill(database)
    database.dispose()
    files = {}
    for fmt, extra in (("jsonl", ["--local-date"]), ("csv", ["--local-date"]), ("parquet", [])):
        files[fmt] = tmp_path / f"articles.{fmt}"
        result = ecnews(
            "export", "--format", fmt, *extra, "-o", str(files[fmt]),
            database_url=sqlite_url, tmp_path=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
    return files


def _missing(value: Any) -> bool:
    """A null as each reader shows it: None, NaT, NaN, an empty CSV cell."""
    return (
        value is None
        or value is pd.NaT
        or value == ""
        or (isinstance(value, float) and math.isnan(value))
    )


def _value(field: str, value: Any) -> Any:
    """One value as the JSONL means it."""
    if field in LISTS and not isinstance(value, str):
        return [str(v) for v in value]
    if _missing(value):
        return None
    if field in LISTS:
        return json.loads(value) if isinstance(value, str) else [str(v) for v in value]
    if field in TIMES:
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)
        return moment.astimezone(dt.UTC)
    if field == "published_date":
        return value.isoformat()[:10] if isinstance(value, dt.date) else str(value)
    return value


def _records(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{field: _value(field, row[field]) for field in WITH_LOCAL_DATE} for row in rows]


def _pandas(frame: pd.DataFrame) -> list[dict[str, Any]]:
    rows = frame.astype(object).to_dict("records")
    for row in rows:
        for field in TIMES:
            if isinstance(row[field], pd.Timestamp):
                row[field] = row[field].to_pydatetime()
    return _records(rows)


def _duckdb(sql: str) -> list[dict[str, Any]]:
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    with duckdb.connect(config=config) as connection:
        relation = connection.sql(sql)
        rows = [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]
    return _records(rows)


def test_every_format_loads_equal_to_the_jsonl(exported: dict[str, Path]) -> None:
    lines = exported["jsonl"].read_text("utf-8").splitlines()
    reference = _records([json.loads(line) for line in lines])
    assert len(reference) == 30  # v1 and v2 of the snapshot
    assert all(r["published_date"] for r in reference if r["published_at"])
    loads = {
        "pandas jsonl": _pandas(pd.read_json(exported["jsonl"], lines=True, dtype=False)),
        "pandas csv": _pandas(pd.read_csv(exported["csv"], dtype=str, keep_default_na=False)),
        "pandas parquet": _pandas(pd.read_parquet(exported["parquet"])),
        "duckdb csv": _duckdb(f"FROM read_csv('{exported['csv']}', all_varchar = true)"),
        "duckdb parquet": _duckdb(f"FROM read_parquet('{exported['parquet']}')"),
    }
    for name, records in loads.items():
        assert records == reference, name


def test_parquet_types(exported: dict[str, Path]) -> None:
    schema = pq.read_schema(exported["parquet"])
    assert str(schema.field("published_at").type) == "timestamp[us, tz=Asia/Shanghai]"
    assert str(schema.field("published_date").type) == "date32[day]"
    for name in LISTS:
        assert pa.types.is_list(schema.field(name).type)
        assert schema.field(name).type.value_type == pa.string()
    # The local day, not the UTC one: an article of 00:00 +08:00 is on its own day.
    with duckdb.connect() as connection:
        connection.execute("SET TimeZone = 'UTC'")
        wrong_days = connection.execute(
            f"SELECT count(*) FROM read_parquet('{exported['parquet']}') "
            "WHERE published_date <> published_at::DATE"
        ).fetchone()
    assert wrong_days is not None
    assert wrong_days[0] > 0  # the UTC cast is off for these; published_date is not


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "atom"])
def test_limit_for_every_format(exported: dict[str, Path], sqlite_url: str, fmt: str) -> None:
    tmp_path = exported["jsonl"].parent
    target = tmp_path / f"limited.{fmt}"
    result = ecnews(
        "export", "--format", fmt, "--limit", "3", "-o", str(target),
        database_url=sqlite_url, tmp_path=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    if fmt == "jsonl":
        assert len(target.read_text("utf-8").splitlines()) == 3
    elif fmt == "csv":
        assert len(pd.read_csv(target)) == 3
    elif fmt == "parquet":
        assert len(pd.read_parquet(target)) == 3
    else:
        assert target.read_text("utf-8").count("<entry>") == 3
    negative = ecnews(
        "export", "--format", fmt, "--limit", "-5", database_url=sqlite_url, tmp_path=tmp_path
    )
    assert negative.returncode == EXIT_USAGE
    assert "'-5': must be a whole number, at least 1" in negative.stderr
    assert negative.stdout == ""


def test_jsonl_keeps_exactly_the_spec_fields_unless_asked(
    exported: dict[str, Path], sqlite_url: str
) -> None:
    tmp_path = exported["jsonl"].parent
    plain = ecnews("export", "--limit", "1", database_url=sqlite_url, tmp_path=tmp_path)
    assert tuple(json.loads(plain.stdout)) == FIELDS
    first = json.loads(exported["jsonl"].read_text("utf-8").splitlines()[0])
    assert tuple(first) == WITH_LOCAL_DATE


def test_dates_in_words() -> None:
    today = dt.datetime.now(SITE_TZ).date()
    assert day("today") == today
    assert day("yesterday") == today - dt.timedelta(days=1)
    assert day("7d") == today - dt.timedelta(days=7)
    assert day("2025-08-01") == dt.date(2025, 8, 1)


@pytest.mark.parametrize("command_line", [("export",), ("search", "电商")])
def test_since_in_words_on_the_command_line(
    exported: dict[str, Path], sqlite_url: str, command_line: tuple[str, ...]
) -> None:
    tmp_path = exported["jsonl"].parent
    for since in ("today", "yesterday", "7d", "2025-08-21"):
        result = ecnews(*command_line, "--since", since, database_url=sqlite_url, tmp_path=tmp_path)
        assert result.returncode == 0, result.stderr
    wrong = ecnews(*command_line, "--since", "lastweek", database_url=sqlite_url, tmp_path=tmp_path)
    assert wrong.returncode == EXIT_USAGE
    assert "'lastweek' is not a date: use 2025-08-01, today, yesterday or 7d" in wrong.stderr
