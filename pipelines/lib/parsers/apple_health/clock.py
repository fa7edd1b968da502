"""Apple Health timestamps: exact instants, and which offsets can be trusted for local time.

Every date in export.xml reads like `2017-06-19 22:16:16 +0200`. The instant is
exact, but the offset is **the exporting phone's offset at export time**, applied
to every record of the file — not the offset in force when the record was made.
All three real samples show it (SOURCE.md of apple_health_export/):

- hkimport_2017: every one of 11,101 records says +0200, June included, while its
  sleep records carry `HKTimeZone = Asia/Jerusalem` (June there is +0300); the
  export was made in November (+0200).
- fixture_2019: a November 2016 workout in Los Angeles says -0700 (PDT, the July
  2019 export's offset); the same workout's route in the zip, written by another
  code path, says -0800 (PST) for the same instant.
- fixture_2024: January 2024 sleep with `HKTimeZone = Europe/Amsterdam` says +0200
  (CET is +0100); exported in June.

So a record's own offset is known only from its `HKTimeZone` metadata (sleep,
workouts, some vitals); otherwise we keep the instant and leave the offset
unknown, and staging puts the instant on a day with the roster's time zone.
"""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime
from functools import lru_cache

import numpy as np

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=8192)
def _day_number(text: str) -> int:
    return date.fromisoformat(text).toordinal() - _EPOCH_ORDINAL


def parse_instant(text: str | None) -> int:
    """Seconds since the Unix epoch (UTC) of an export date.

    `2017-03-30 09:29:00 +0200` (all exports since iOS 9) or `20150616071916-0700`
    (iOS 8). Hand-rolled because a large export holds tens of millions of dates.
    """
    if text is None:
        raise ValueError("missing")
    if len(text) == 25 and text[10] == " " and text[19] == " ":
        day, clock, zone = text[:10], (text[11:13], text[14:16], text[17:19]), text[20:]
    elif len(text) == 19 and text[14] in "+-":
        day = f"{text[:4]}-{text[4:6]}-{text[6:8]}"
        clock, zone = (text[8:10], text[10:12], text[12:14]), text[14:]
    else:
        raise ValueError(f"not an Apple date: {text!r}")
    hour, minute, second = (int(part) for part in clock)
    if not (0 <= hour <= 23 and 0 <= minute <= 59 and 0 <= second <= 60) or zone[0] not in "+-":
        raise ValueError(f"not an Apple date: {text!r}")
    offset = int(zone[1:3]) * 60 + int(zone[3:5])
    offset = -offset if zone[0] == "-" else offset
    return _day_number(day) * 86400 + hour * 3600 + minute * 60 + second - offset * 60


# "2017-03-30 09:29:00 +0200": where each digit and separator of the usual form sits
_WIDTH = 25
_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 21, 22, 23, 24])
_SEPARATORS = {4: "-", 7: "-", 10: " ", 13: ":", 16: ":", 19: " "}
_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid proleptic Gregorian dates (H. Hinnant's algorithm)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def parse_instants(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """`parse_instant` of many dates at once: (seconds since the epoch, which ones parsed).

    Dates in the usual fixed-width form are converted by array arithmetic; any other
    text (the iOS 8 form, a typo, a missing date) goes through `parse_instant` itself, so
    each date gets exactly the value, or the refusal, that `parse_instant` gives it.
    """
    count = len(texts)
    instants = np.zeros(count, dtype=np.int64)
    fixed = np.fromiter(
        (text is not None and len(text) == _WIDTH for text in texts), dtype=bool, count=count
    )
    rows = np.flatnonzero(fixed)
    if len(rows):
        # one byte per character: anything outside ASCII becomes "?" and fails the checks below
        joined = "".join(texts[i] for i in rows) if len(rows) < count else "".join(texts)
        chars = np.frombuffer(joined.encode("ascii", "replace"), dtype=np.uint8)
        chars = chars.reshape(len(rows), _WIDTH)
        digits = chars[:, _DIGITS].astype(np.int64) - ord("0")
        good = ((digits >= 0) & (digits <= 9)).all(axis=1)
        for at, separator in _SEPARATORS.items():
            good &= chars[:, at] == ord(separator)
        sign = chars[:, 20]
        good &= (sign == ord("+")) | (sign == ord("-"))
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        month = digits[:, 4] * 10 + digits[:, 5]
        day = digits[:, 6] * 10 + digits[:, 7]
        hour = digits[:, 8] * 10 + digits[:, 9]
        minute = digits[:, 10] * 10 + digits[:, 11]
        second = digits[:, 12] * 10 + digits[:, 13]
        offset = (digits[:, 14] * 10 + digits[:, 15]) * 60 + digits[:, 16] * 10 + digits[:, 17]
        offset = np.where(sign == ord("-"), -offset, offset)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = _MONTH_DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
        good &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
        good &= (hour <= 23) & (minute <= 59) & (second <= 60)
        seconds = (
            _days_from_civil(year, month, day) * 86400
            + hour * 3600
            + minute * 60
            + second
            - offset * 60
        )
        instants[rows] = seconds
        fixed[rows] = good
    parsed = fixed
    for i in np.flatnonzero(~fixed):
        try:
            instants[i] = parse_instant(texts[i])
            parsed[i] = True
        except ValueError:
            pass
    return instants, parsed


def stated_offset_min(text: str) -> int:
    """The offset written in a date string (for ExportDate: the exporting phone's offset)."""
    zone = text[-5:]
    offset = int(zone[1:3]) * 60 + int(zone[3:5])
    return -offset if zone[0] == "-" else offset


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_offset_min(zone_name: str | None, instant: int) -> int | None:
    """The record's own UTC offset from its HKTimeZone metadata; None when absent or unknown."""
    if not zone_name:
        return None
    zone = _zone(zone_name)
    if zone is None:
        return None
    offset = datetime.fromtimestamp(instant, UTC).astimezone(zone).utcoffset()
    return None if offset is None else int(offset.total_seconds() // 60)


def to_datetime(instant: int) -> datetime:
    return datetime.fromtimestamp(instant, UTC)


def local_date(instant: int, offset_min: int) -> date:
    return datetime.fromtimestamp(instant + offset_min * 60, UTC).date()
