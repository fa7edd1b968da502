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
