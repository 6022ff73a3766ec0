"""`ecnews export --format parquet`: the export records as typed Parquet columns.

Times are `timestamp[us, tz=Asia/Shanghai]` (an instant, shown in the site's zone),
`published_date` the local day as `date32` (DuckDB's `published_at::DATE` in a UTC
session would give the UTC day), lists `list<string>`. pandas and DuckDB read the file as
it is, without an extension. Written a row group at a time: memory stays bounded.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq

from storage.export import BATCH, LOCAL_DATE, WITH_LOCAL_DATE
from storage.zone import SITE_TZ

if TYPE_CHECKING:
    from collections.abc import Iterator

_TIME = pa.timestamp("us", tz=str(SITE_TZ))
_TYPES = {
    "urls": pa.list_(pa.string()),
    "categories": pa.list_(pa.string()),
    "published_at": _TIME,
    LOCAL_DATE: pa.date32(),
    "first_seen_at": _TIME,
    "updated_at": _TIME,
}
SCHEMA = pa.schema([(name, _TYPES.get(name, pa.string())) for name in WITH_LOCAL_DATE])


def _moment(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


def _row(record: dict[str, Any]) -> dict[str, Any]:
    published = _moment(record["published_at"])
    return {
        **record,
        "published_at": published,
        LOCAL_DATE: published.astimezone(SITE_TZ).date() if published else None,
        "first_seen_at": _moment(record["first_seen_at"]),
        "updated_at": _moment(record["updated_at"]),
    }


def write_parquet(records: Iterator[dict[str, Any]], out: BinaryIO) -> int:
    """Write the records to `out`; how many."""
    count = 0
    with pq.ParquetWriter(out, SCHEMA) as writer:
        batch: list[dict[str, Any]] = []
        for record in records:
            batch.append(_row(record))
            if len(batch) == BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
                count, batch = count + len(batch), []
        if batch or not count:
            writer.write_table(pa.Table.from_pylist(batch, schema=SCHEMA))
            count += len(batch)
    return count
