"""Retention: keep the latest N captures per URL, never the only copy of a page.

Kept for every URL, whatever N: its newest capture with content and its newest 2xx (so a
page the site has since deleted keeps its last copy), and every record a kept revisit
points at. Files are rewritten beside themselves and renamed over the old ones (WARC,
then its index): a file with nothing left is removed.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from crawler.archive.store import IndexEntry, has_content, index_entries, index_line

if TYPE_CHECKING:
    from pathlib import Path

_PART = ".prune"


@dataclass(slots=True)
class Pruned:
    removed: int = 0
    kept: int = 0
    bytes_before: int = 0
    bytes_after: int = 0


def prune(folder: Path, keep_latest: int) -> Pruned:
    entries = list(index_entries(folder))
    keep = _kept(entries, keep_latest)
    by_file: dict[str, list[IndexEntry]] = defaultdict(list)
    for entry in entries:
        by_file[entry.file].append(entry)
    result = Pruned()
    moved: dict[tuple[str, int], int] = {}
    """(file, old offset) -> new offset of each kept record."""
    plans: dict[str, list[tuple[IndexEntry, int, int]]] = {}
    for name, file_entries in by_file.items():
        size = (folder / name).stat().st_size
        result.bytes_before += size
        ordered = sorted(file_entries, key=lambda e: e.offset)
        ends = [e.offset for e in ordered[1:]] + [size]
        segments = [(e, e.offset, end) for e, end in zip(ordered, ends, strict=True)]
        plans[name] = [s for s in segments if (name, s[0].offset) in keep]
        position = 0
        for entry, start, end in plans[name]:
            moved[(name, entry.offset)] = position
            position += end - start
        result.kept += len(plans[name])
        result.removed += len(segments) - len(plans[name])
    for name, segments in plans.items():
        result.bytes_after += _rewrite(folder, name, segments, moved, len(by_file[name]))
    return result


def _kept(entries: list[IndexEntry], keep_latest: int) -> set[tuple[str, int]]:
    by_url: dict[str, list[IndexEntry]] = defaultdict(list)
    for entry in entries:
        by_url[entry.url].append(entry)
    keep: set[tuple[str, int]] = set()
    for captures in by_url.values():
        newest = sorted(captures, key=lambda e: e.fetched_at, reverse=True)
        chosen = newest[:keep_latest]
        chosen += [e for e in newest if has_content(e)][:1]
        chosen += [e for e in newest if 200 <= e.status < 300][:1]
        keep.update((e.file, e.offset) for e in chosen)
    # A kept revisit needs the record holding its payload.
    for entry in entries:
        if entry.revisit is not None and (entry.file, entry.offset) in keep:
            keep.add((entry.revisit[0], entry.revisit[1]))
    return keep


def _rewrite(
    folder: Path,
    name: str,
    segments: list[tuple[IndexEntry, int, int]],
    moved: dict[tuple[str, int], int],
    had: int,
) -> int:
    """Write the kept segments of `name` and its index; the size of the new file."""
    warc = folder / name
    index = warc.with_name(name.removesuffix(".warc.gz") + ".cdxj")
    if not segments:
        warc.unlink()
        index.unlink(missing_ok=True)
        return 0
    lines = []
    for entry, _, _ in segments:
        revisit = entry.revisit
        if revisit is not None:
            revisit = (revisit[0], moved.get((revisit[0], revisit[1]), revisit[1]), revisit[2])
        lines.append(
            index_line(replace(entry, offset=moved[(name, entry.offset)], revisit=revisit))
        )
    size = warc.stat().st_size
    if len(segments) < had:
        part = warc.with_name(name + _PART)
        with warc.open("rb") as source, part.open("wb") as target:
            for _, start, end in segments:
                source.seek(start)
                target.write(source.read(end - start))
            target.flush()
            os.fsync(target.fileno())
        size = part.stat().st_size
        part.replace(warc)
    part_index = index.with_name(index.name + _PART)
    with part_index.open("w", encoding="utf-8") as target:
        target.writelines(lines)
        target.flush()
        os.fsync(target.fileno())
    part_index.replace(index)
    return size
