"""Sleep logs and exercise logs: one row per logged episode or workout.

Sleep `startTime`/`endTime` are the participant's wall clock (local), and
`dateOfSleep` is Fitbit's own day for the night. Exercise `startTime` is UTC
in the archive (it shares a clock with the minute steps; see
docs/sources/fitbit.md), so workouts carry `start_utc`.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from ..wearable_tables import conform
from .json_array import iter_json_array
from .values import (
    DEVICE,
    SOURCE_NAME,
    FileReport,
    Invalid,
    frame,
    optional_bool,
    optional_number,
    parse_day,
    required_number,
    required_time,
)

# (kind, words in the activity name), first match wins; everything else is "other"
_KINDS = (
    ("breathing", ("breath", "mindful", "meditat", "relax")),
    ("stretch", ("yoga", "stretch", "flexib", "cool down", "cooldown", "mind and body", "tai chi")),
    ("stability", ("pilates", "barre", "core", "strength", "weight", "functional")),
    ("walk", ("walk", "hike", "hiking")),
)
_SLEEP_COLUMNS = (
    "episode_id",
    "start_local",
    "end_local",
    "local_day",
    "minutes_asleep",
    "minutes_in_bed",
    "is_main",
    "sleep_type",
)
_WORKOUT_COLUMNS = (
    "workout_id",
    "start_utc",
    "duration_s",
    "activity",
    "kind",
    "distance_m",
    "steps",
    "device",
)
_METRES_PER = {
    "kilometer": 1000.0,
    "km": 1000.0,
    "mile": 1609.344,
    "mi": 1609.344,
    "meter": 1.0,
    "m": 1.0,
}


def workout_kind(activity: str | None) -> str:
    """Session kind of a Fitbit activity name (Walk, Yoga, Weights, Outdoor Bike …)."""
    name = (activity or "").lower()
    for kind, words in _KINDS:
        if any(word in name for word in words):
            return kind
    return "other"


def _stable_id(start: datetime) -> str:
    return hashlib.sha1(f"{SOURCE_NAME}:{start.isoformat()}".encode()).hexdigest()


def _log_id(record: dict, start: datetime) -> str:
    raw = record.get("logId")
    if raw is None or isinstance(raw, bool) or str(raw).strip() == "":
        return _stable_id(start)
    return str(raw).strip()


def parse_sleep(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    columns: dict[str, list] = {name: [] for name in _SLEEP_COLUMNS}
    seen: set[str] = set()
    for number, record in iter_json_array(path):
        report.rows_read = number
        if not isinstance(record, dict):
            report.not_an_object(number, record)
            continue
        try:
            start = required_time(record, "startTime")
            if record.get("endTime") is None and record.get("duration") is not None:
                end = start + timedelta(milliseconds=required_number(record, "duration"))
            else:
                end = required_time(record, "endTime")
            if end < start:
                raise Invalid("endTime", record.get("endTime"), "is before startTime")
            asleep = required_number(record, "minutesAsleep")
            in_bed = optional_number(record, "timeInBed")
            is_main = optional_bool(record, "mainSleep")
            raw_day = record.get("dateOfSleep")
            day = parse_day(raw_day) if raw_day is not None else None
            if raw_day is not None and day is None:
                raise Invalid("dateOfSleep", raw_day, "must be a date YYYY-MM-DD")
            sleep_type = record.get("type")
            if sleep_type is not None and not isinstance(sleep_type, str):
                raise Invalid("type", sleep_type, "must be text (stages or classic)")
        except Invalid as err:
            report.bad_record(number, err)
            continue
        episode_id = _log_id(record, start)
        if episode_id in seen:  # PMData's merged file repeats logs at month boundaries
            continue
        seen.add(episode_id)
        columns["episode_id"].append(episode_id)
        columns["start_local"].append(start)
        columns["end_local"].append(end)
        columns["local_day"].append(day)
        columns["minutes_asleep"].append(round(asleep))
        columns["minutes_in_bed"].append(None if in_bed is None else round(in_bed))
        columns["is_main"].append(is_main)
        columns["sleep_type"].append(sleep_type)
    return conform(
        "wearable_sleep",
        frame(
            columns, participant_id=participant_id, source=SOURCE_NAME, device=DEVICE
        ).with_columns(
            pl.col("start_local", "end_local").cast(pl.Datetime("us")),
            pl.col("local_day").cast(pl.Date),
        ),
    )


def _distance_m(record: dict) -> float | None:
    distance = optional_number(record, "distance")
    if distance is None:
        return None
    unit = record.get("distanceUnit")
    factor = _METRES_PER.get(str(unit).strip().lower()) if unit is not None else None
    if factor is None:
        # the unit follows the account's settings: without it the number means nothing
        raise Invalid(
            "distanceUnit", unit, "must be Kilometer, Mile or Meter when distance is given"
        )
    return distance * factor


def _device(record: dict) -> str:
    source = record.get("source")
    name = source.get("name") if isinstance(source, dict) else None
    return name.strip() if isinstance(name, str) and name.strip() else DEVICE


def parse_exercise(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    columns: dict[str, list] = {name: [] for name in _WORKOUT_COLUMNS}
    seen: set[str] = set()
    for number, record in iter_json_array(path):
        report.rows_read = number
        if not isinstance(record, dict):
            report.not_an_object(number, record)
            continue
        try:
            start = required_time(record, "startTime")
            # activeDuration leaves out pauses; older logs have only duration
            active = optional_number(record, "activeDuration")
            duration_ms = active if active else required_number(record, "duration")
            activity = record.get("activityName")
            if activity is not None and not isinstance(activity, str):
                raise Invalid("activityName", activity, "must be text")
            steps = optional_number(record, "steps")
        except Invalid as err:
            report.bad_record(number, err)
            continue
        try:
            distance = _distance_m(record)
        except Invalid as err:
            report.ignored_field(number, err)
            distance = None
        workout_id = _log_id(record, start)
        if workout_id in seen:
            continue
        seen.add(workout_id)
        columns["workout_id"].append(workout_id)
        columns["start_utc"].append(start)
        columns["duration_s"].append(round(duration_ms / 1000))
        columns["activity"].append(activity)
        columns["kind"].append(workout_kind(activity))
        columns["distance_m"].append(distance)
        columns["steps"].append(steps)
        columns["device"].append(_device(record))
    return conform(
        "wearable_workouts",
        frame(columns, participant_id=participant_id, source=SOURCE_NAME).with_columns(
            pl.col("start_utc").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            pl.col("distance_m", "steps").cast(pl.Float64),
        ),
    )
