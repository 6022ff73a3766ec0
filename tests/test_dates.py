"""pipelines.rules.dates: published_at and date_precision from the dates pages write."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parsel import Selector
from w3lib.encoding import html_to_unicode

from pipelines.rules.dates import (
    MAX_YEARS_AHEAD,
    MIN_YEAR,
    SHANGHAI,
    ParsedDate,
    Precision,
    _clean,
    _dateparser_parse,
    _fast_parse,
    is_future,
    parse_day,
    parse_published,
    strip_label,
)

SITE = Path(__file__).resolve().parent / "fixtures" / "site"
THIS_YEAR = datetime.now(SHANGHAI).year


def at(year: int, month: int, day: int, *time: int) -> datetime:
    """A Shanghai moment: at(2025, 8, 22, 10, 30) is 2025-08-22 10:30 +08:00."""
    hour, minute, second = (*time, 0, 0, 0)[:3]
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


# id: (text, expected moment, expected precision); moment None means "no date".
CASES: dict[str, tuple[str | None, datetime | None, Precision | None]] = {
    # --- the shapes the spec names
    "iso-day": ("2025-08-22", at(2025, 8, 22), "day"),
    "iso-minute": ("2025-08-22 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "iso-second": ("2025-08-22 10:30:15", at(2025, 8, 22, 10, 30, 15), "second"),
    "cn-minute": ("2025年8月22日 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "cn-padded-minute": ("2025年06月04日 17:10", at(2025, 6, 4, 17, 10), "minute"),
    "cn-day": ("2025年8月22日", at(2025, 8, 22), "day"),
    "cn-second": ("2025年8月22日 10:30:15", at(2025, 8, 22, 10, 30, 15), "second"),
    "cn-no-space": ("2025年8月22日10:30", at(2025, 8, 22, 10, 30), "minute"),
    "cn-spaced": ("2025 年 8 月 22 日 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "cn-hao": ("2025年8月22号", at(2025, 8, 22), "day"),
    "cn-shi-fen": ("2025年8月22日 10时30分", at(2025, 8, 22, 10, 30), "minute"),
    "cn-shi-fen-miao": ("2025年8月22日10时30分15秒", at(2025, 8, 22, 10, 30, 15), "second"),
    "cn-dian": ("2025年8月22日 10点30分", at(2025, 8, 22, 10, 30), "minute"),
    "slash-day": ("2025/8/22", at(2025, 8, 22), "day"),
    "slash-minute": ("2025/08/22 09:05", at(2025, 8, 22, 9, 5), "minute"),
    "dot-day": ("2025.08.22", at(2025, 8, 22), "day"),
    "dot-second": ("2025.8.2 23:59:59", at(2025, 8, 2, 23, 59, 59), "second"),
    "single-digit-month-day": ("2025-8-2", at(2025, 8, 2), "day"),
    "single-digit-hour": ("2025-08-22 9:05", at(2025, 8, 22, 9, 5), "minute"),
    "midnight-minute": ("2025-08-22 00:00", at(2025, 8, 22), "minute"),
    "midnight-second": ("2025-08-22 00:00:00", at(2025, 8, 22), "second"),
    "compact": ("20250822", at(2025, 8, 22), "day"),
    # --- labels
    "label-fabushijian": ("发布时间：2025-08-22 10:30:15", at(2025, 8, 22, 10, 30, 15), "second"),
    "label-fabushijian-ascii": ("发布时间:2025-08-22 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "label-shijian-slash": ("时间:2025/8/22", at(2025, 8, 22), "day"),
    "label-riqi": ("日期：2025-08-22", at(2025, 8, 22), "day"),
    "label-fabiaoyu": ("发表于 2025-08-22 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "label-fabuyu-cn": ("发布于2025年8月22日", at(2025, 8, 22), "day"),
    "label-gengxin": ("更新时间：2025.08.22 08:00", at(2025, 8, 22, 8), "minute"),
    "label-fabuqiriqi": ("发布日期： 2025年06月04日", at(2025, 6, 4), "day"),
    "label-with-spaces": ("  发布时间 ： 2025-08-22  ", at(2025, 8, 22), "day"),
    "label-published-en": ("Published: 2025-08-22 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "date-then-source": ("2025-08-22 10:30 来源：联商网", at(2025, 8, 22, 10, 30), "minute"),
    "date-then-views": ("2025-08-22 阅读：1234", at(2025, 8, 22), "day"),
    # --- full-width forms and odd white space
    "fullwidth-digits": ("２０２５－０８－２２", at(2025, 8, 22), "day"),
    "fullwidth-colon": ("2025-08-22 10：30：15", at(2025, 8, 22, 10, 30, 15), "second"),
    "fullwidth-all": (
        "发布时间：２０２５年８月２２日　１０：３０",
        at(2025, 8, 22, 10, 30),
        "minute",
    ),
    "fullwidth-slash": ("２０２５／８／２２", at(2025, 8, 22), "day"),
    "ideographic-space": ("2025-08-22\u300010:30", at(2025, 8, 22, 10, 30), "minute"),
    "nbsp": ("2025-08-22\u00a010:30", at(2025, 8, 22, 10, 30), "minute"),
    "zero-width": ("2025-08\u200b-22 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "bom-and-soft-hyphen": ("\ufeff2025-08-22\u00ad 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "newline-between": ("2025-08-22\n  10:30", at(2025, 8, 22, 10, 30), "minute"),
    "tab-label": ("\t发布时间：\t2025-08-22", at(2025, 8, 22), "day"),
    # --- 12-hour clocks and zones
    "pm-cn": ("2025年8月22日 下午3:30", at(2025, 8, 22, 15, 30), "minute"),
    "am-cn": ("2025年8月22日 上午9:30", at(2025, 8, 22, 9, 30), "minute"),
    "evening-cn": ("2025-08-22 晚上8:05", at(2025, 8, 22, 20, 5), "minute"),
    "pm-24h-already": ("2025-08-22 下午15:30", at(2025, 8, 22, 15, 30), "minute"),
    "pm-en": ("2025-08-22 3:30 PM", at(2025, 8, 22, 15, 30), "minute"),
    "am-twelve-en": ("2025-08-22 12:10 am", at(2025, 8, 22, 0, 10), "minute"),
    "iso-t": ("2025-08-22T10:30:15", at(2025, 8, 22, 10, 30, 15), "second"),
    "iso-z": ("2025-08-22T02:30:15Z", at(2025, 8, 22, 10, 30, 15), "second"),
    "iso-offset": ("2025-08-22T10:30:15+09:00", at(2025, 8, 22, 9, 30, 15), "second"),
    "iso-offset-site": ("2025-08-22T10:30:15+08:00", at(2025, 8, 22, 10, 30, 15), "second"),
    "iso-fraction": ("2025-08-22T10:30:15.123456", at(2025, 8, 22, 10, 30, 15), "second"),
    "utc-plus-8": ("2025-08-22 10:30 UTC+8", at(2025, 8, 22, 10, 30), "minute"),
    "range-not-zone": ("2025-08-22 10:30-12:00", at(2025, 8, 22, 10, 30), "minute"),
    # --- the dateparser fallback
    "fallback-english": ("Aug 22, 2025", at(2025, 8, 22), "day"),
    "fallback-english-time": ("August 22, 2025 3:30 PM", at(2025, 8, 22, 15, 30), "minute"),
    "fallback-english-dmy": ("22 August 2025", at(2025, 8, 22), "day"),
    # --- impossible dates and times
    "feb-30": ("2025-02-30", None, None),
    "feb-29-non-leap": ("2025-02-29", None, None),
    "feb-29-leap": ("2024-02-29", at(2024, 2, 29), "day"),
    "month-13": ("2025-13-01", None, None),
    "day-32": ("2025年1月32日", None, None),
    "day-0": ("2025-08-00", None, None),
    "hour-25": ("2025-08-22 25:00", None, None),
    "time-25-61": ("2025-08-22 25:61", None, None),
    "minute-60": ("2025-08-22 10:60", None, None),
    "second-60": ("2025-08-22 10:30:60", None, None),
    "hour-24": ("2025-08-22 24:00", None, None),
    "compact-impossible": ("20251340", None, None),
    # --- two-digit and missing years: ambiguous, so no date
    "two-digit-year": ("25-08-22", None, None),
    "two-digit-year-cn": ("25年8月22日", None, None),
    "two-digit-year-slash": ("22/08/25", None, None),
    "month-day-only": ("08-22", None, None),
    "month-day-only-cn": ("8月22日 10:30", None, None),
    "month-only": ("2025年8月", None, None),
    "year-month": ("2025-08", None, None),
    "five-digit-year": ("12025-08-22", None, None),
    # --- plausibility window
    "before-window": (f"{MIN_YEAR - 1}-06-01", None, None),
    "window-start": (f"{MIN_YEAR}-01-01", at(MIN_YEAR, 1, 1), "day"),
    "window-end": (
        f"{THIS_YEAR + MAX_YEARS_AHEAD}-12-31",
        at(THIS_YEAR + MAX_YEARS_AHEAD, 12, 31),
        "day",
    ),
    "after-window": (f"{THIS_YEAR + MAX_YEARS_AHEAD + 1}-01-01", None, None),
    "year-1900": ("1900-01-01", None, None),
    "future-kept": (f"{THIS_YEAR + 1}-01-01 08:00", at(THIS_YEAR + 1, 1, 1, 8), "minute"),
    # --- garbage
    "none": (None, None, None),
    "empty": ("", None, None),
    "blank": ("   \u3000 ", None, None),
    "nul-bytes": ("\x00\x00\x00", None, None),
    "nul-inside": ("2025-08-22\x0010:30", at(2025, 8, 22, 10, 30), "minute"),
    "label-only": ("发布时间：", None, None),
    "words": ("今天天气不错", None, None),
    "relative-days": ("3天前", None, None),
    "relative-yesterday": ("昨天 10:30", None, None),
    "english-yesterday": ("yesterday", None, None),
    "number": ("1234567", None, None),
    "timestamp": ("1724293800", None, None),
    "views": ("阅读：2025", None, None),
    "long-junk": ("x" * 5000, None, None),
    "long-digits": ("2025-" * 1000, None, None),
    "long-cn": ("2025年" * 1000, None, None),
    "long-then-date": ("阅" * 100 + "2025-08-22", at(2025, 8, 22), "day"),
}


@pytest.mark.parametrize(("text", "moment", "precision"), CASES.values(), ids=list(CASES))
def test_parse_published(
    text: str | None, moment: datetime | None, precision: Precision | None
) -> None:
    parsed = parse_published(text)
    if moment is None:
        assert parsed is None
        return
    assert parsed is not None
    assert parsed.moment == moment
    assert parsed.moment.tzinfo is SHANGHAI
    assert parsed.precision == precision


DEFAULT_YEAR_CASES: dict[str, tuple[str, datetime | None, Precision]] = {
    "month-day": ("08-22", at(2025, 8, 22), "day"),
    "month-day-slash": ("8/22", at(2025, 8, 22), "day"),
    "month-day-cn": ("8月22日", at(2025, 8, 22), "day"),
    "month-day-cn-time": ("8月22日 10:30", at(2025, 8, 22, 10, 30), "minute"),
    "month-day-time-second": ("08-22 10:30:15", at(2025, 8, 22, 10, 30, 15), "second"),
    "month-day-labelled": ("发布时间：08-22", at(2025, 8, 22), "day"),
    "full-date-wins": ("2024-01-02", at(2024, 1, 2), "day"),
    "month-day-impossible": ("02-30", None, "day"),
    "month-day-in-text": ("增长8.2%", None, "day"),
}


@pytest.mark.parametrize(
    ("text", "moment", "precision"), DEFAULT_YEAR_CASES.values(), ids=list(DEFAULT_YEAR_CASES)
)
def test_parse_published_default_year(
    text: str, moment: datetime | None, precision: Precision
) -> None:
    parsed = parse_published(text, default_year=2025)
    if moment is None:
        assert parsed is None
        return
    assert parsed == ParsedDate(moment, precision)


ISO_CASES: dict[str, tuple[str, str]] = {
    "day": ("2025-08-22", "2025-08-22T00:00:00+08:00"),
    "minute": ("2025年8月22日 10:30", "2025-08-22T10:30:00+08:00"),
    "second": ("发布时间：2025-08-22 10:30:15", "2025-08-22T10:30:15+08:00"),
    "from-utc": ("2025-08-21T23:00:00Z", "2025-08-22T07:00:00+08:00"),
}


@pytest.mark.parametrize(("text", "iso"), ISO_CASES.values(), ids=list(ISO_CASES))
def test_isoformat(text: str, iso: str) -> None:
    parsed = parse_published(text)
    assert parsed is not None
    assert parsed.isoformat() == iso


NOW = datetime(2025, 8, 22, 12, 0, tzinfo=SHANGHAI)
NAIVE_NOW = datetime(2025, 8, 22, 12, 0)  # noqa: DTZ001 - is_future reads a naive now as Shanghai
FUTURE_CASES: dict[str, tuple[str, datetime | None, bool]] = {
    "past-day": ("2025-08-21", NOW, False),
    "today-day": ("2025-08-22", NOW, False),
    "tomorrow": ("2025-08-23", NOW, True),
    "later-today": ("2025-08-22 12:00:01", NOW, True),
    "exactly-now": ("2025-08-22 12:00:00", NOW, False),
    "naive-now-is-shanghai": ("2025-08-22 12:30", NAIVE_NOW, True),
    "utc-now": ("2025-08-22 12:30", datetime(2025, 8, 22, 4, 45, tzinfo=UTC), False),
    "next-year-default-now": (f"{THIS_YEAR + 1}-01-01", None, True),
    "last-year-default-now": (f"{THIS_YEAR - 1}-01-01", None, False),
}


@pytest.mark.parametrize(("text", "now", "future"), FUTURE_CASES.values(), ids=list(FUTURE_CASES))
def test_is_future(text: str, now: datetime | None, future: bool) -> None:
    parsed = parse_published(text)
    assert parsed is not None
    assert is_future(parsed, now) is future


LABEL_CASES: dict[str, tuple[str, str]] = {
    "fabushijian": ("发布时间:2025-08-22", "2025-08-22"),
    "riqi": ("日期: 2025-08-22", "2025-08-22"),
    "fabiaoyu": ("发表于 Aug 22, 2025", "Aug 22, 2025"),
    "posted-on": ("Posted on: Aug 22, 2025", "Aug 22, 2025"),
    "no-label": ("Aug 22, 2025", "Aug 22, 2025"),
    "label-inside-kept": ("2025-08-22 发布时间", "2025-08-22 发布时间"),
}


@pytest.mark.parametrize(("text", "bare"), LABEL_CASES.values(), ids=list(LABEL_CASES))
def test_strip_label(text: str, bare: str) -> None:
    assert strip_label(_clean(text)) == bare


# --- the snapshot's own dates against the gold answers --------------------------------------


def _read_page(path: Path) -> Selector:
    _, text = html_to_unicode(None, path.read_bytes())
    return Selector(text=text)


def _gold_with_page_time() -> list[Any]:
    cases: list[Any] = []
    for version in ("v1", "v2"):
        gold_file = SITE / f"gold-{version}.jsonl"
        for line in gold_file.read_text("utf-8").splitlines():
            record = json.loads(line)
            for url in record["urls"]:  # every copy shows the same date
                page = SITE / version / url.lstrip("/")
                if not page.exists():  # taken down on v2: the record is v1's
                    page = SITE / "v1" / url.lstrip("/")
                time_text = _read_page(page).css("div.article-info span.time::text").get()
                if time_text is not None:
                    cases.append(
                        pytest.param(
                            time_text,
                            record["published_at"],
                            record["date_precision"],
                            id=f"{version}:{url}",
                        )
                    )
    return cases


GOLD_PAGE_TIMES = _gold_with_page_time()


def test_snapshot_has_page_times() -> None:
    assert len(GOLD_PAGE_TIMES) >= 40


@pytest.mark.parametrize(("text", "published_at", "precision"), GOLD_PAGE_TIMES)
def test_snapshot_page_time_matches_gold(text: str, published_at: str, precision: str) -> None:
    parsed = parse_published(text)
    assert parsed is not None, text
    assert parsed.moment == datetime.fromisoformat(published_at)
    assert parsed.isoformat() == published_at
    assert parsed.precision == precision


SNAPSHOT_FORMATS = sorted({str(p.values[0]) for p in GOLD_PAGE_TIMES})


@pytest.mark.parametrize("text", SNAPSHOT_FORMATS, ids=SNAPSHOT_FORMATS)
def test_snapshot_formats_take_the_fast_path(text: str) -> None:
    recognised, parsed = _fast_parse(_clean(text), None)
    assert recognised
    assert parsed == parse_published(text)


def _listing_dates() -> list[Any]:
    """Category listing dates of the articles whose page shows no date (gold-v1)."""
    gold = {
        json.loads(line)["url"]: json.loads(line)
        for line in (SITE / "gold-v1.jsonl").read_text("utf-8").splitlines()
    }
    cases: list[Any] = []
    for listing in sorted((SITE / "v1" / "news").glob("*/*.html")):
        for item in _read_page(listing).css("ul.news-list li"):
            href = item.css("h3 a::attr(href)").get("")
            record = next((r for url, r in gold.items() if href.split("?")[0].endswith(url)), None)
            date_text = item.css("span.date::text").get()
            if record is None or date_text is None or record["date_precision"] != "day":
                continue
            cases.append(
                pytest.param(date_text, record["published_at"], id=f"{listing.name}:{href}")
            )
    return cases


@pytest.mark.parametrize(("text", "published_at"), _listing_dates())
def test_snapshot_listing_date_matches_gold_day(text: str, published_at: str) -> None:
    parsed = parse_published(text)
    assert parsed is not None
    assert parsed.isoformat() == published_at
    assert parsed.precision == "day"


# Long runs of white space between the parts of a date must not make the regexes backtrack.
ADVERSARIAL: dict[str, str] = {
    "spaces-then-digit": "2025-08-22" + " " * 980 + "10",
    "spaces-after-cn-day": "2025年8月22" + " " * 980 + "1",
    "spaces-then-sign": "2025-08-22 10:30" + " " * 980 + "+",
    "spaces-around-utc": "2025-08-22 10:30" + " " * 490 + "UTC" + " " * 490,
    "spaces-after-t": "2025-08-22T" + " " * 980 + "1",
    "spaces-before-colon": "2025-08-22 10" + " " * 490 + ":" + " " * 490,
}


@pytest.mark.parametrize("text", ADVERSARIAL.values(), ids=list(ADVERSARIAL))
def test_no_catastrophic_backtracking(text: str) -> None:
    start = time.perf_counter()
    parse_published(text)
    parse_published(text, default_year=2025)
    assert time.perf_counter() - start < 0.25  # linear: well under a millisecond


# --- properties -----------------------------------------------------------------------------

DATEISH = st.text(
    alphabet="0123456789０１２３-/.:：年月日号时分秒点 T+Z发布时间：上午下午PMam\u3000\u200b\x00",
    max_size=40,
)


@given(st.one_of(st.text(max_size=300), DATEISH, st.binary().map(lambda b: b.decode("latin-1"))))
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_never_raises(text: str) -> None:
    parsed = parse_published(text)
    if parsed is not None:
        assert parsed.moment.tzinfo is SHANGHAI
        assert MIN_YEAR <= parsed.moment.year <= THIS_YEAR + MAX_YEARS_AHEAD
        assert parsed.precision in {"day", "minute", "second"}


# Shapes a page may write, with the precision each gives.
SHAPES: list[tuple[str, Precision]] = [
    ("{Y}-{m:02d}-{d:02d}", "day"),
    ("{Y}-{m}-{d}", "day"),
    ("{Y}/{m}/{d}", "day"),
    ("{Y}.{m:02d}.{d:02d}", "day"),
    ("{Y}年{m}月{d}日", "day"),
    ("日期：{Y}-{m:02d}-{d:02d}", "day"),
    ("{Y}-{m:02d}-{d:02d} {H:02d}:{M:02d}", "minute"),
    ("{Y}年{m:02d}月{d:02d}日 {H:02d}:{M:02d}", "minute"),
    ("{Y}年{m}月{d}日{H}时{M}分", "minute"),
    ("发表于 {Y}/{m}/{d} {H}:{M:02d}", "minute"),
    ("{Y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}", "second"),
    ("发布时间：{Y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}", "second"),
    ("{Y}-{m:02d}-{d:02d}T{H:02d}:{M:02d}:{S:02d}+08:00", "second"),
]
FULLWIDTH = str.maketrans("0123456789:-/", "０１２３４５６７８９：－／")

MOMENTS = st.datetimes(
    min_value=datetime(MIN_YEAR, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(THIS_YEAR + MAX_YEARS_AHEAD, 12, 31, 23, 59, 59),  # noqa: DTZ001 - same
)


def _render(shape: str, moment: datetime) -> str:
    return shape.format(
        Y=moment.year,
        m=moment.month,
        d=moment.day,
        H=moment.hour,
        M=moment.minute,
        S=moment.second,
    )


def _expected(moment: datetime, precision: Precision) -> datetime:
    moment = moment.replace(microsecond=0, tzinfo=SHANGHAI)
    if precision == "day":
        return moment.replace(hour=0, minute=0, second=0)
    if precision == "minute":
        return moment.replace(second=0)
    return moment


@given(moment=MOMENTS, shape=st.sampled_from(SHAPES), fullwidth=st.booleans())
@settings(max_examples=500, deadline=None)
def test_round_trip(moment: datetime, shape: tuple[str, Precision], fullwidth: bool) -> None:
    fmt, precision = shape
    text = _render(fmt, moment)
    if fullwidth:
        text = text.translate(FULLWIDTH)
    parsed = parse_published(text)
    assert parsed == ParsedDate(_expected(moment, precision), precision)


# Shapes dateparser reads too once the label is stripped: the fast path must agree with it.
DATEPARSER_SHAPES = SHAPES


@given(moment=MOMENTS, shape=st.sampled_from(DATEPARSER_SHAPES))
@settings(max_examples=60, deadline=None)
def test_fast_path_agrees_with_dateparser(moment: datetime, shape: tuple[str, Precision]) -> None:
    text = _render(shape[0], moment)
    assert _dateparser_parse(strip_label(_clean(text))) == parse_published(text)


def test_dateparser_fallback_rejects_guessed_year() -> None:
    # dateparser alone reads these with a made-up year; the fallback must not.
    assert _dateparser_parse("08-22") is None
    assert _dateparser_parse("Aug 22") is None
    assert _dateparser_parse("25-08-22") is None


def test_offset_zone_converted() -> None:
    parsed = parse_published("2025-08-22T10:30:00-05:00")
    assert parsed is not None
    assert parsed.moment == datetime(2025, 8, 22, 10, 30, tzinfo=timezone(timedelta(hours=-5)))
    assert parsed.moment.tzinfo is SHANGHAI


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-08-22", date(2025, 8, 22)),
        ("发布时间：2025-08-22 23:59:59", date(2025, 8, 22)),
        ("2025-02-30", None),
        (None, None),
    ],
    ids=["day", "labelled-late-evening", "impossible", "none"],
)
def test_parse_day(text: str | None, expected: date | None) -> None:
    assert parse_day(text) == expected
