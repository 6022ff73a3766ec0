"""The generic extractor (trafilatura for the text, htmldate for the date): a guess without
proof. It serves twice: as the rough body that locates the content container on a cold
start (the contract's rules then read the container), and, where no layout can be
proven, as the reading of last resort, each article marked as such."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import htmldate
import trafilatura

logger = logging.getLogger(__name__)

# htmldate and trafilatura log every page they find little in.
for _name in ("htmldate", "trafilatura"):
    logging.getLogger(_name).setLevel(logging.ERROR)


@dataclass(frozen=True, slots=True)
class GenericReading:
    title: str | None
    lines: list[str]
    date: str | None
    """The publication day, ISO (`2025-08-22`), or None."""


def generic_lines(html: str) -> list[str]:
    """The main text's lines, as trafilatura sees them (never raises)."""
    try:
        text = trafilatura.extract(html, include_comments=False, include_tables=True)
    except Exception:  # a guess that fails is no guess
        logger.debug("trafilatura failed", exc_info=True)
        return []
    return [line.strip() for line in (text or "").split("\n") if line.strip()]


def generic_reading(html: str) -> GenericReading:
    try:
        metadata = trafilatura.extract_metadata(html)
        title = metadata.title if metadata is not None else None
    except Exception:  # noqa: BLE001  # a guess that fails is no guess
        title = None
    try:
        date = htmldate.find_date(html, original_date=True, extensive_search=False)
    except Exception:  # noqa: BLE001  # a guess that fails is no guess
        date = None
    return GenericReading(title=title, lines=generic_lines(html), date=date or None)
