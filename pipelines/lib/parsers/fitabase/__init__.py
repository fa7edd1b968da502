"""Fitabase (the Fitbit research platform) `*_merged.csv` exports → the canonical wearable tables.

A Fitabase export is a folder of merged CSV files, one per data type, each
holding every participant of the study; rows link to people by the Fitbit
`Id` (roster.fitbit_id). Each file type is its own source: its rows are first
checked against the type's field spec (`specs`), so a broken row is
quarantined with its line, field and reason, then converted (`activity`,
`sleep`). All times are the participant's local wall clock without a zone.

dailyCalories and weightLogInfo have specs but no source: nothing canonical
uses energy expenditure or body weight yet (docs/sources/fitabase.md).
"""

from __future__ import annotations

from ..source import Source
from ..wearable_tables import WEARABLE_TABLES
from .activity import (
    HEART_RATE_FILE,
    minute_steps_file,
    parse_daily_activity,
    parse_daily_intensities,
    parse_daily_steps,
    parse_heartrate,
    parse_hourly_steps,
    parse_minute_steps,
)
from .canonical import INTERVALS, SLEEP
from .sleep import parse_minute_sleep, parse_sleep_day
from .specs import (
    DAILY_ACTIVITY,
    DAILY_CALORIES,
    DAILY_INTENSITIES,
    DAILY_STEPS,
    ENTITIES,
    FOLDER,
    HEARTRATE_SECONDS,
    HOURLY_STEPS,
    MINUTE_SLEEP,
    MINUTE_STEPS_NARROW,
    MINUTE_STEPS_WIDE,
    SLEEP_DAY,
    WEIGHT_LOG,
)


def _source(name, patterns, table, parse, description, ranges=None) -> Source:
    return Source(
        name=name,
        folder=FOLDER,
        patterns=patterns,
        outputs={table: WEARABLE_TABLES[table]},
        parse=parse,
        description=description,
        per_person=False,
        identifiers=("Id",),
        ranges=ranges,
    )


SOURCES: tuple[Source, ...] = (
    _source(
        "fitabase_daily_activity",
        DAILY_ACTIVITY.patterns,
        INTERVALS,
        parse_daily_activity,
        "Fitabase dailyActivity: daily steps, active minutes, days the tracker was off",
    ),
    _source(
        "fitabase_daily_steps",
        DAILY_STEPS.patterns,
        INTERVALS,
        parse_daily_steps,
        "Fitabase dailySteps: daily steps",
    ),
    _source(
        "fitabase_daily_intensities",
        DAILY_INTENSITIES.patterns,
        INTERVALS,
        parse_daily_intensities,
        "Fitabase dailyIntensities: daily active minutes",
    ),
    _source(
        "fitabase_hourly_steps",
        HOURLY_STEPS.patterns,
        INTERVALS,
        parse_hourly_steps,
        "Fitabase hourlySteps: steps per hour",
    ),
    _source(
        "fitabase_minute_steps",
        MINUTE_STEPS_NARROW.patterns + MINUTE_STEPS_WIDE.patterns,
        INTERVALS,
        parse_minute_steps,
        "Fitabase minuteStepsNarrow/Wide: steps per minute, wear per quarter hour",
        ranges=minute_steps_file,
    ),
    _source(
        "fitabase_heartrate",
        HEARTRATE_SECONDS.patterns,
        INTERVALS,
        parse_heartrate,
        "Fitabase heartrate_seconds: wear per quarter hour",
        ranges=lambda relative: HEART_RATE_FILE,
    ),
    _source(
        "fitabase_sleep_day",
        SLEEP_DAY.patterns,
        SLEEP,
        parse_sleep_day,
        "Fitabase sleepDay: daily sleep totals on the day the sleep ended",
    ),
    _source(
        "fitabase_minute_sleep",
        MINUTE_SLEEP.patterns,
        SLEEP,
        parse_minute_sleep,
        "Fitabase minuteSleep: sleep episodes from the minute-by-minute logs",
    ),
)

__all__ = [
    "DAILY_ACTIVITY",
    "DAILY_CALORIES",
    "DAILY_INTENSITIES",
    "DAILY_STEPS",
    "ENTITIES",
    "HEARTRATE_SECONDS",
    "HOURLY_STEPS",
    "MINUTE_SLEEP",
    "MINUTE_STEPS_NARROW",
    "MINUTE_STEPS_WIDE",
    "SLEEP_DAY",
    "SOURCES",
    "WEIGHT_LOG",
]
