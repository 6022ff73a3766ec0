"""Pure helpers that turn a date/time as a page writes it into an aware moment.

``parse_published`` reads the date in an article's info line or a listing item
(``2025-08-22``, ``2025年8月22日 10:30``, ``发布时间：2025-08-22 10:30:15``, ``时间:2025/8/22``,
full-width digits, ...) and returns the moment in Asia/Shanghai with how much of it the page
gave (``day``, ``minute`` or ``second``). It never raises on junk; what it cannot read as a
plausible date is ``None``.

The common shapes go through a fast path of regexes compiled once; dateparser is only the
fallback, through one reused ``DateDataParser``. Both are held to the same rules:

- a year must be written out with four digits: ``08-22`` and ``25-08-22`` are ambiguous (plain
  dateparser reads ``08-22`` as 2008 or as this year), so they are ``None`` unless the caller
  supplies ``default_year`` for month-day strings;
- impossible dates and times (``2025-02-30``, ``25:61``) are ``None``, never corrected;
- the year must fall in the plausibility window ``MIN_YEAR`` .. this year + ``MAX_YEARS_AHEAD``;
- a time is read only where it follows its date and gives at least hours and minutes
  (``2025-08-22 10:30``, ``2025年8月22日10时30分``); otherwise the precision is ``day``.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal

from storage.zone import SITE_TZ, SITE_ZONE

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from dateparser.date import DateDataParser

__all__ = [
    "SHANGHAI",
    "ParsedDate",
    "is_future",
    "parse_day",
    "parse_published",
    "strip_label",
    "why_unparsed",
]

logger = logging.getLogger(__name__)

SHANGHAI = SITE_TZ

Precision = Literal["day", "minute", "second"]

#: Earliest plausible year. Chinese e-commerce news starts well after this, and from 1992 on
#: Asia/Shanghai is always +08:00 (China observed daylight saving time in 1986-1991).
MIN_YEAR = 1992
#: How many years past the current one a date may lie (a future date is kept, but flagged).
MAX_YEARS_AHEAD = 5
#: Only this many leading characters of the input are looked at.
MAX_INPUT_CHARS = 1000
#: dateparser is only tried on cleaned strings no longer than this.
MAX_FALLBACK_CHARS = 100


@dataclass(frozen=True, slots=True)
class ParsedDate:
    """A publication moment and how much of it the page gave."""

    moment: datetime
    """Aware datetime in Asia/Shanghai."""
    precision: Precision
    """``day`` (no time given: midnight), ``minute`` (HH:MM) or ``second`` (HH:MM:SS)."""

    def isoformat(self) -> str:
        """ISO 8601 with the site's offset, e.g. ``2025-08-22T00:00:00+08:00``."""
        return self.moment.astimezone(SHANGHAI).isoformat(timespec="seconds")


# --- text clean-up -------------------------------------------------------------------------

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))

_LABEL_RE = re.compile(
    r"""^\s*(?:
        (?:发布|发表|更新|上传|录入|编辑|添加|刊发|出版|修改|创建|发稿|上线)?(?:时间|日期)
      | (?:发布|发表|更新|刊发)于
      | (?:published|posted|updated|created)(?:\s+(?:on|at))?
      | date | time
    )\s*:?\s*""",
    re.VERBOSE | re.IGNORECASE,
)


def _clean(text: str) -> str:
    """Fold full-width forms to ASCII (NFKC), drop zero-width characters, blank controls."""
    text = text[:MAX_INPUT_CHARS]
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_INVISIBLE))
    return _CONTROL_RE.sub(" ", text).strip()


def strip_label(text: str) -> str:
    """Drop a leading label such as ``发布时间：`` or ``发表于`` from an NFKC-folded text."""
    return _LABEL_RE.sub("", text, count=1)


# --- fast path -----------------------------------------------------------------------------

# A time attached to a date: optional 上午/下午 marker, HH:MM or HH时MM分, optional seconds
# (fractions ignored), optional AM/PM, optional zone (Z, +08:00, UTC+8).
# Every run of white space is followed by a required token, or sits inside the optional group
# it introduces, so that long runs of spaces cannot make the regex backtrack polynomially.
_TIME = r"""
    (?:
        \s*(?:(?P<T>T)\s*|,\s*)?
        (?:(?P<ap1>上午|早上|早晨|凌晨|中午|下午|傍晚|晚上)\s*)?
        (?P<H>[0-9]{1,2})\s*[:时點点]\s*(?P<M>[0-9]{1,2})(?![0-9])
        (?:\s*[:分]\s*(?P<S>[0-9]{1,2})(?![0-9])(?:\.[0-9]{1,9})?)?
        (?:\s*(?P<ap2>[AaPp]\.?[Mm])\.?(?![A-Za-z]))?
        (?:\s*(?:(?P<Z>Z)(?![A-Za-z])
               |(?:(?P<utc>UTC|GMT)\s*)?(?P<tzs>[+-])(?P<tzh>[0-9]{1,2})(?::?(?P<tzm>[0-9]{2}))?
                (?![0-9])))?
    )?
"""

_DATE_RE = re.compile(
    r"""
    (?<![0-9])
    (?:
        (?P<y1>[0-9]{4})\s*年\s*(?P<m1>[0-9]{1,2})\s*月\s*
        (?P<d1>[0-9]{1,2})(?![0-9])(?:\s*[日号])?
      | (?P<y2>[0-9]{4})(?P<sep>[-/.])(?P<m2>[0-9]{1,2})(?P=sep)(?P<d2>[0-9]{1,2})(?![0-9])
    )"""
    + _TIME,
    re.VERBOSE,
)

_COMPACT_RE = re.compile(r"(?P<y>[0-9]{4})(?P<m>[0-9]{2})(?P<d>[0-9]{2})")

_MONTH_DAY_RE = re.compile(
    r"""
    (?P<m>[0-9]{1,2})
    (?:
        \s*月\s*(?P<d1>[0-9]{1,2})(?![0-9])(?:\s*[日号])?
      | (?P<sep>[-/.])(?P<d2>[0-9]{1,2})(?![0-9])
    )"""
    + _TIME,
    re.VERBOSE,
)

_YEAR_RE = re.compile(r"(?<![0-9])[0-9]{4}(?![0-9])")
_HMS_RE = re.compile(r"[0-9]{1,2}\s*[:时点]\s*[0-9]{1,2}\s*[:分]\s*[0-9]{1,2}(?![0-9])")

_PM = frozenset({"下午", "傍晚", "晚上", "pm"})
_AM = frozenset({"上午", "早上", "早晨", "凌晨", "am"})


def _hour_24(hour: int, marker: str | None) -> int:
    """Apply a 12-hour clock marker (下午3:30, 3:30 PM); a 24-hour value is left alone."""
    if marker is None:
        return hour
    marker = marker.replace(".", "").lower()
    if marker in _PM and hour < 12:
        return hour + 12
    if marker == "中午" and hour < 6:
        return hour + 12
    if marker in _AM and hour == 12:
        return 0
    return hour


def _build(
    year: int,
    month: int,
    day: int,
    match: re.Match[str],
) -> ParsedDate | None:
    """Assemble a ParsedDate from the date numbers and the time groups of ``match``."""
    hour_text, minute_text, second_text = match.group("H", "M", "S")
    precision: Precision = "day"
    hour = minute = second = 0
    if hour_text is not None:
        hour = _hour_24(int(hour_text), match.group("ap1") or match.group("ap2"))
        minute = int(minute_text)
        precision = "minute"
        if second_text is not None:
            second = int(second_text)
            precision = "second"
    tz: timezone | ZoneInfo = SHANGHAI
    if match.group("Z"):
        tz = UTC
    elif match.group("tzs") and (match.group("T") or match.group("S") or match.group("utc")):
        # A bare offset only in an ISO 8601 shape (T or seconds) or after UTC/GMT, so that a
        # range such as "10:30-12:00" is not read as a zone.
        offset = timedelta(hours=int(match.group("tzh")), minutes=int(match.group("tzm") or 0))
        if offset >= timedelta(hours=24):
            return None
        tz = timezone(-offset if match.group("tzs") == "-" else offset)
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=tz)
    except ValueError:  # 2025-02-30, 25:61, ...
        return None
    if tz is not SHANGHAI:
        moment = moment.astimezone(SHANGHAI)
    return ParsedDate(moment, precision)


def _fast_parse(text: str, default_year: int | None) -> tuple[bool, ParsedDate | None]:
    """Read the common shapes. Returns (recognised, result): a shape that was recognised but
    is impossible gives ``(True, None)``, and dateparser is not asked to second-guess it."""
    match = _DATE_RE.search(text)
    if match is not None:
        if match.group("y1") is not None:
            ymd = match.group("y1", "m1", "d1")
        else:
            ymd = match.group("y2", "m2", "d2")
        year, month, day = map(int, ymd)
        return True, _build(year, month, day, match)
    bare = strip_label(text)
    compact = _COMPACT_RE.fullmatch(bare)
    if compact is not None:
        year, month, day = map(int, compact.group("y", "m", "d"))
        try:
            return True, ParsedDate(datetime(year, month, day, tzinfo=SHANGHAI), "day")
        except ValueError:
            return True, None
    if default_year is not None:
        month_day = _MONTH_DAY_RE.fullmatch(bare)
        if month_day is not None:
            day_text = month_day.group("d1") or month_day.group("d2")
            return True, _build(default_year, int(month_day.group("m")), int(day_text), month_day)
    return False, None


# --- dateparser fallback -------------------------------------------------------------------

_DATEPARSER_SETTINGS: dict[str, object] = {
    "TIMEZONE": SITE_ZONE,
    "RETURN_AS_TIMEZONE_AWARE": True,
    "PARSERS": ["absolute-time"],  # no timestamps, no "3天前"
    "REQUIRE_PARTS": ["day", "month", "year"],
    "DATE_ORDER": "YMD",
    "PREFER_LOCALE_DATE_ORDER": False,
}


@functools.cache
def _date_data_parser() -> DateDataParser:
    """The one DateDataParser, built on first use (loading its language data is slow)."""
    from dateparser.date import DateDataParser  # noqa: PLC0415 - lazy: import is slow

    return DateDataParser(languages=["zh", "en"], settings=_DATEPARSER_SETTINGS)


@functools.lru_cache(maxsize=1024)
def _dateparser_parse(text: str) -> ParsedDate | None:
    """Parse a cleaned, label-stripped text with dateparser; apply the four-digit-year rule."""
    try:
        data = _date_data_parser().get_date_data(text)
    except Exception:  # dateparser raises many exception types on junk; junk is None
        logger.debug("dateparser failed on %r", text, exc_info=True)
        return None
    found = data.date_obj
    if found is None or found.tzinfo is None:
        return None
    # dateparser fills a missing year from the current one and reads 08-22 as 2008.
    if str(found.year) not in _YEAR_RE.findall(text):
        return None
    precision: Precision = "day"
    if "time" in data.parts:
        precision = "second" if found.second or _HMS_RE.search(text) else "minute"
    moment = found.astimezone(SHANGHAI).replace(microsecond=0)
    return ParsedDate(moment, precision)


# --- public API ----------------------------------------------------------------------------


def _plausible(parsed: ParsedDate) -> bool:
    return MIN_YEAR <= parsed.moment.year <= datetime.now(SHANGHAI).year + MAX_YEARS_AHEAD


def parse_published(text: str | None, *, default_year: int | None = None) -> ParsedDate | None:
    """Read a publication date/time written in any of the site's formats.

    Labels (``发布时间：``, ``日期:``, ``发表于``) and surrounding text are ignored, full-width
    digits and colons are folded. A time without a zone is Asia/Shanghai; one with a zone
    (``Z``, ``+08:00``) is converted to it. ``default_year`` supplies the year for a bare
    month-day (``08-22``, ``8月22日``); without it those are ``None``.

    Returns ``None`` for ``None``, empty or unreadable text, impossible dates, two-digit years
    and years outside the plausibility window. Never raises.
    """
    if not isinstance(text, str):
        return None
    cleaned = _clean(text)
    if not cleaned:
        return None
    recognised, parsed = _fast_parse(cleaned, default_year)
    if not recognised:
        bare = strip_label(cleaned)
        if len(bare) > MAX_FALLBACK_CHARS or not _YEAR_RE.search(bare):
            return None
        parsed = _dateparser_parse(bare)
    if parsed is None or not _plausible(parsed):
        return None
    return parsed


def why_unparsed(text: str | None, *, default_year: int | None = None) -> str | None:
    """Why ``parse_published`` found no date in ``text``: ``impossible`` (a date shape whose
    day or time cannot exist, ``2025-02-30``), ``implausible`` (a real date outside the
    plausibility window), ``unreadable`` (anything else that is not empty); None when
    ``text`` is empty or does parse. Never raises."""
    if not isinstance(text, str) or parse_published(text, default_year=default_year):
        return None
    cleaned = _clean(text)
    if not cleaned:
        return None
    recognised, parsed = _fast_parse(cleaned, default_year)
    if recognised and parsed is None:
        return "impossible"
    if not recognised:
        bare = strip_label(cleaned)
        if len(bare) <= MAX_FALLBACK_CHARS and _YEAR_RE.search(bare):
            parsed = _dateparser_parse(bare)
    return "implausible" if parsed is not None else "unreadable"


def is_future(parsed: ParsedDate, now: datetime | None = None) -> bool:
    """Whether ``parsed`` lies after ``now`` (default: the current time). A naive ``now`` is
    taken as Asia/Shanghai time."""
    if now is None:
        now = datetime.now(SHANGHAI)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=SHANGHAI)
    return parsed.moment > now


def parse_day(text: str | None) -> date | None:
    """The calendar day a text gives (a listing's date), in the site's time zone."""
    parsed = parse_published(text)
    return parsed.moment.date() if parsed else None
