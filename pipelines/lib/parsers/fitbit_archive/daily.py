"""Daily values on Fitbit's own (local) days: active minutes and resting heart rate.

Active minutes are moderate-to-vigorous minutes: Fitbit's "very" plus
"moderately" (Fitabase: fairly) active minutes, which the archive keeps in two
files. Each of the two files is read together with its sibling of the same
name suffix (`very_active_minutes-2020-01-01.json` ↔
`moderately_active_minutes-2020-01-01.json`) and both emit the same summed
row per day, so whichever is parsed last carries the current total. Without
its sibling a file gives its own minutes only (a lower bound).
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import polars as pl

from ..wearable_tables import conform
from .json_array import NotAJsonArray, iter_json_array
from .values import (
    DEVICE,
    SOURCE_NAME,
    FileReport,
    Invalid,
    frame,
    optional_number,
    parse_day,
    parse_number,
)

ACTIVE_MINUTE_FILES = ("very_active_minutes", "moderately_active_minutes")


def _day(record: dict) -> date:
    raw = record.get("dateTime")
    day = parse_day(raw)
    if day is None:
        reason = (
            "is missing"
            if raw is None
            else "must be a date or time of the day (e.g. 01/31/20 00:00:00)"
        )
        raise Invalid("dateTime", raw, reason)
    return day


def _daily_rows(
    days: dict[date, float], participant_id: str, metric: str, table: str
) -> pl.DataFrame:
    ordered = sorted(days)
    return conform(
        table,
        frame(
            {
                "local_day": ordered,
                "start_local": [datetime.combine(d, time()) for d in ordered],
                "value": [days[d] for d in ordered],
            },
            participant_id=participant_id,
            source=SOURCE_NAME,
            device=DEVICE,
            metric=metric,
            **({"duration_s": 86400} if table == "wearable_intervals" else {}),
        ),
    )


def _minutes_by_day(path: Path, report: FileReport | None) -> dict[date, float]:
    """Minutes per day; records that cannot be read are reported when `report` is given, else skipped."""
    minutes: dict[date, float] = {}
    for number, record in iter_json_array(path):
        if report is not None:
            report.rows_read = number
        try:
            if not isinstance(record, dict):
                raise Invalid("record", record, "must be a JSON object")
            day = _day(record)
            value = optional_number(record, "value")
            if value is None or value > 1440:
                raise Invalid("value", record.get("value"), "must be minutes 0–1440")
        except Invalid as err:
            if report is not None:
                report.bad_record(number, err)
            continue
        minutes[day] = value
    return minutes


def sibling_of(path: Path) -> Path:
    """very_active_minutes-2020-01-01.json ↔ moderately_active_minutes-2020-01-01.json."""
    very, moderately = ACTIVE_MINUTE_FILES
    for mine, other in ((very, moderately), (moderately, very)):
        if path.name.startswith(mine):
            return path.with_name(other + path.name[len(mine) :])
    raise ValueError(f"{path.name} is not an active-minutes file")


def parse_active_minutes(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    own = _minutes_by_day(path, report)
    sibling = sibling_of(path)
    other: dict[date, float] = {}
    if sibling.is_file():
        try:
            # the sibling reports its own problems when it is parsed
            other = _minutes_by_day(sibling, None)
        except (NotAJsonArray, OSError, UnicodeDecodeError):
            other = {}
    totals = {day: minutes + other.get(day, 0.0) for day, minutes in own.items()}
    return _daily_rows(totals, participant_id, "active_min", "wearable_intervals")


def parse_resting_heart_rate(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    """One resting_hr per day; Fitbit writes value 0 (and date null) on days without a reading."""
    values: dict[date, float] = {}
    for number, record in iter_json_array(path):
        report.rows_read = number
        try:
            if not isinstance(record, dict):
                raise Invalid("record", record, "must be a JSON object")
            day = _day(record)
            value = record.get("value")
            bpm = value.get("value") if isinstance(value, dict) else value
            if bpm is None:
                continue
            number_bpm = parse_number(bpm)
            if number_bpm is None or number_bpm < 0 or number_bpm > 250:
                raise Invalid("value.value", bpm, "must be a resting heart rate in bpm (0 = none)")
        except Invalid as err:
            report.bad_record(number, err)
            continue
        if number_bpm > 0:
            values[day] = number_bpm
    return _daily_rows(values, participant_id, "resting_hr", "wearable_vitals")
