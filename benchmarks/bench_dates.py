"""Time pipelines.rules.dates.parse_published against plain dateparser.parse.

Run: ``.venv/bin/python benchmarks/bench_dates.py [--repeats 7] [--min-seconds 0.2]``

The inputs are the date strings the snapshot pages show: every article's ``span.time`` and
every listing item's ``span.date``, from v1 and v2 (GBK pages decoded by their meta charset).
Strings without a four-digit year (the home page's ``08-22``) are left out: dateparser makes
up a year for them, and parse_published declines them, so there is nothing to compare.

dateparser gets a fair chance: it is warmed up first (language data loaded), fed the string
with its label (``发布时间：``) stripped, and given the site's zone (TIMEZONE Asia/Shanghai,
RETURN_AS_TIMEZONE_AWARE). It is timed twice: as plain ``dateparser.parse`` (language
auto-detection) and with ``languages=["zh", "en"]``. Each figure is the median of several
repeats. The results must be identical: the same moment as dateparser.parse, and the same
moment and precision as our own dateparser fallback (which reports what the page gave).

Exits 1 when a result differs or the fast path is under 20x plain dateparser.parse.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dateparser
from parsel import Selector
from w3lib.encoding import html_to_unicode

from pipelines.rules.dates import (
    _YEAR_RE,
    _clean,
    _dateparser_parse,
    parse_published,
    strip_label,
)
from storage.zone import SITE_ZONE

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

SITE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "site"
SETTINGS: dict[str, Any] = {"TIMEZONE": SITE_ZONE, "RETURN_AS_TIMEZONE_AWARE": True}
REQUIRED_SPEED_UP = 20.0


def snapshot_date_strings() -> list[str]:
    """Every span.time and span.date text of the snapshot pages, in file order."""
    found: list[str] = []
    for page in sorted(SITE.glob("v*/**/*.html")):
        _, text = html_to_unicode(None, page.read_bytes())
        found.extend(Selector(text=text).css("span.time::text, span.date::text").getall())
    return found


def fair_input(text: str) -> str:
    """What dateparser is fed: folded and with the label stripped."""
    return strip_label(_clean(text))


def plain_dateparser(text: str) -> object:
    return dateparser.parse(fair_input(text), settings=SETTINGS)


def hinted_dateparser(text: str) -> object:
    return dateparser.parse(fair_input(text), languages=["zh", "en"], settings=SETTINGS)


def our_fallback(text: str) -> object:
    return _dateparser_parse.__wrapped__(fair_input(text))


def time_it(
    parse: Callable[[str], object], strings: Sequence[str], repeats: int, min_seconds: float
) -> float:
    """Median parses per second over ``repeats`` runs of at least ``min_seconds`` each."""
    for text in strings:  # warm-up: imports, language data, caches of the library itself
        parse(text)
    loops = 1
    while True:
        start = time.perf_counter()
        for _ in range(loops):
            for text in strings:
                parse(text)
        if time.perf_counter() - start >= min_seconds / 4:
            break
        loops *= 2
    rates = []
    for _ in range(repeats):
        count = 0
        start = time.perf_counter()
        elapsed = 0.0
        while elapsed < min_seconds:
            for _ in range(loops):
                for text in strings:
                    parse(text)
            count += loops * len(strings)
            elapsed = time.perf_counter() - start
        rates.append(count / elapsed)
    return statistics.median(rates)


def check_identical(strings: Sequence[str]) -> list[str]:
    """Differences between parse_published and dateparser, as readable lines."""
    problems = []
    for text in sorted(set(strings)):
        ours = parse_published(text)
        plain = dateparser.parse(fair_input(text), settings=SETTINGS)
        fallback = our_fallback(text)
        if ours is None or plain is None:
            problems.append(f"{text!r}: ours={ours} dateparser={plain}")
            continue
        if ours.moment != plain:
            problems.append(f"{text!r}: moment {ours.moment} != dateparser {plain}")
        if fallback != ours:
            problems.append(f"{text!r}: {ours} != our dateparser fallback {fallback}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeats", type=int, default=7, help="runs per parser (median)")
    parser.add_argument("--min-seconds", type=float, default=0.2, help="length of one run")
    args = parser.parse_args(argv)

    every = snapshot_date_strings()
    strings = [text for text in every if _YEAR_RE.search(_clean(text))]
    skipped = sorted({text for text in every if text not in strings})
    print(f"snapshot date strings: {len(every)} ({len(set(every))} distinct)")
    print(f"compared: {len(strings)} ({len(set(strings))} distinct)")
    print(f"left out, no 4-digit year: {len(every) - len(strings)} ({', '.join(skipped)})")

    problems = check_identical(strings)
    print(f"identical results (moment + precision): {not problems}")
    for line in problems:
        print(f"  DIFFERENT {line}")

    print("\ndistinct strings:")
    print(f"  {'text':<28} {'published_at':<27} {'precision':<9}")
    for text in sorted(set(strings)):
        parsed = parse_published(text)
        iso, precision = (parsed.isoformat(), parsed.precision) if parsed else ("None", "-")
        print(f"  {text:<{28 - sum(ord(c) > 0x2E80 for c in text)}} {iso:<27} {precision:<9}")

    contenders: list[tuple[str, Callable[[str], object]]] = [
        ("parse_published (fast path)", parse_published),
        ("dateparser.parse", plain_dateparser),
        ("dateparser.parse, languages zh+en", hinted_dateparser),
        ("our DateDataParser fallback", our_fallback),
    ]
    rates = {
        name: time_it(parse, strings, args.repeats, args.min_seconds) for name, parse in contenders
    }
    ours = rates["parse_published (fast path)"]
    print(f"\nmedian of {args.repeats} runs of >= {args.min_seconds}s over {len(strings)} strings")
    print(f"  {'parser':<36} {'parses/s':>12} {'fast path is':>14}")
    for name, rate in rates.items():
        print(f"  {name:<36} {rate:>12,.0f} {ours / rate:>13.1f}x")

    speed_up = ours / rates["dateparser.parse"]
    ok = not problems and speed_up >= REQUIRED_SPEED_UP
    print(
        f"\nfast path vs dateparser.parse: {speed_up:.1f}x (required >= {REQUIRED_SPEED_UP:.0f}x)"
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
