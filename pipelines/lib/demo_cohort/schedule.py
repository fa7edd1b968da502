"""The demo cohort's calendar: program start, cohort enrolment windows, export dates, clocks.

Everything is derived from ``weeks`` alone, so the same arguments always give the same dates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

UTC = UTC

PROGRAM_START = date(2026, 3, 2)  # a Monday, six days before the US DST change
EXPORT_HOUR_UTC = 6  # every export is written at 06:00 UTC on its export date
ROSTER_LEAD_DAYS = 14  # the first roster export is 14 days before the last one
FITABASE_LEAD_DAYS = 14  # wearable rows start 14 days before enrolment
FITABASE_TAIL_DAYS = 7  # ...and run on 7 days after the program end / withdrawal

COHORT_A = "2026-spring-A"
COHORT_B = "2026-spring-B"
COHORT_C = "2026-summer-A"
COHORTS = (COHORT_A, COHORT_B, COHORT_C)
COHORT_SHARES = (0.40, 0.35, 0.25)


def weekday_window(anchor: date) -> tuple[date, ...]:
    """The five weekdays (Mon-Fri) of the week containing ``anchor``."""
    monday = anchor - timedelta(days=anchor.weekday())
    return tuple(monday + timedelta(days=k) for k in range(5))


@dataclass(frozen=True)
class Calendar:
    weeks: int
    start: date  # cohort A's first enrolment day
    export_date: date  # E: the day of the final exports
    as_of: date  # E - 1: the last day with data
    roster_first_date: date  # E - 14
    sessions_csv_date: date  # export date of the CSV session export (~60 % of the period)
    sessions_jsonl_from: date  # the JSONL export starts here (~50 % of the period), UTC
    fitabase_start: date  # first possible Fitabase day (start - 14)
    windows: dict[str, tuple[date, ...]]

    @property
    def period_days(self) -> int:
        return (self.export_date - self.start).days

    def export_instant(self, day: date) -> datetime:
        return datetime.combine(day, time(EXPORT_HOUR_UTC), UTC)

    def utc_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), UTC)


def make_calendar(weeks: int) -> Calendar:
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    start = PROGRAM_START
    export_date = start + timedelta(days=weeks * 7 + 28)
    period = (export_date - start).days
    windows = {
        COHORT_A: weekday_window(start),
        COHORT_B: weekday_window(start + timedelta(days=weeks * 7 // 2)),
        COHORT_C: weekday_window(export_date - timedelta(days=weeks * 7 // 2)),
    }
    return Calendar(
        weeks=weeks,
        start=start,
        export_date=export_date,
        as_of=export_date - timedelta(days=1),
        roster_first_date=export_date - timedelta(days=ROSTER_LEAD_DAYS),
        sessions_csv_date=start + timedelta(days=round(0.6 * period)),
        sessions_jsonl_from=start + timedelta(days=round(0.5 * period)),
        fitabase_start=start - timedelta(days=FITABASE_LEAD_DAYS),
        windows=windows,
    )


@cache
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_datetime(day: date, seconds_of_day: int, tz: str) -> datetime:
    """An aware datetime at ``seconds_of_day`` after local midnight (may roll into the next day)."""
    naive = datetime.combine(day, time(0)) + timedelta(seconds=int(seconds_of_day))
    return naive.replace(tzinfo=zone(tz))


def iso_local(dt: datetime) -> str:
    """``2026-03-02T22:30:00-06:00``"""
    return dt.isoformat(timespec="seconds")


def iso_utc(dt: datetime) -> str:
    """``2026-03-03T04:30:00Z``"""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fitabase_date(day: date) -> str:
    """``4/12/2016`` (Fitabase ActivityDate)."""
    return f"{day.month}/{day.day}/{day.year}"


def fitabase_sleep_day(day: date) -> str:
    """``4/12/2016 12:00:00 AM`` (Fitabase SleepDay: a date written as midnight)."""
    return f"{day.month}/{day.day}/{day.year} 12:00:00 AM"


def fitabase_folder(first: date, last: date) -> str:
    """``Fitabase Data 4.12.16-5.12.16``"""

    def short(d: date) -> str:
        return f"{d.month}.{d.day}.{d.year % 100:02d}"

    return f"Fitabase Data {short(first)}-{short(last)}"


def daterange(first: date, last: date):
    d = first
    one = timedelta(days=1)
    while d <= last:
        yield d
        d += one
