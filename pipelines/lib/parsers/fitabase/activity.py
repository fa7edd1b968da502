"""Fitabase steps, intensity minutes and heart rate → wearable_intervals.

| file | rows it gives |
|---|---|
| dailyActivity | `steps` and `active_min` (very + fairly active) per day; a day with 0 steps and no light, fairly or very active minute is the tracker left off: `worn_min` 0 and no steps |
| dailySteps, dailyIntensities | the same day totals, only on days that show movement (alone they cannot tell a day off the wrist from a still one) |
| hourlySteps | `steps` per clock hour |
| minuteStepsNarrow / Wide | `steps` per minute, and `worn_min` per quarter hour (minutes with steps) |
| heartrate_seconds | `worn_min` per quarter hour (minutes with a heart-rate sample) |

Hourly and minute rows with 0 steps are not kept: Fitbit writes 0 for every
hour and minute the tracker was off as well, so such a zero measures nothing,
and a day off the wrist must not read as a day of 0 steps.
"""

from __future__ import annotations

import polars as pl

from ..source import LandingFile, Parsed
from ..spec import Issue
from ..wearable_tables import LOCAL
from .canonical import (
    DAY_S,
    HOUR_S,
    INTERVALS,
    MINUTE_S,
    integer,
    intervals,
    landed,
    text,
    us_date,
    us_time,
    wear_quarters,
)
from .reading import DUPLICATE, by_line, read_in_chunks, read_whole
from .specs import (
    DAILY_ACTIVITY,
    DAILY_INTENSITIES,
    DAILY_STEPS,
    HEARTRATE_SECONDS,
    HOURLY_STEPS,
    MINUTE_STEPS_NARROW,
    MINUTE_STEPS_WIDE,
)

_STEP_COLUMNS = [f"Steps{minute:02d}" for minute in range(60)]


def parse_daily_activity(landing: LandingFile) -> Parsed:
    rows, issues, rows_read = read_whole(landing.path, DAILY_ACTIVITY)
    if rows is None:
        return Parsed({}, issues, rows_read)
    days = rows.select(
        text("Id").alias("fitbit_id"),
        us_date("ActivityDate").alias("start"),
        integer("TotalSteps").alias("steps"),
        integer("VeryActiveMinutes").alias("very"),
        integer("FairlyActiveMinutes").alias("fairly"),
        integer("LightlyActiveMinutes").alias("lightly"),
    )
    moving = pl.col("very") + pl.col("fairly") + pl.col("lightly")
    # 0 steps with blank activity minutes says nothing either way: no row at all
    worn = days.filter(((pl.col("steps") > 0) | (moving > 0)).fill_null(False))
    off = days.filter(((pl.col("steps") == 0) & (moving == 0)).fill_null(False))
    active = worn.filter(pl.col("very").is_not_null() & pl.col("fairly").is_not_null())
    frames = [
        intervals(worn, "steps", DAY_S, pl.col("steps"), vendor_day=True),
        intervals(active, "active_min", DAY_S, pl.col("very") + pl.col("fairly"), vendor_day=True),
        intervals(off, "worn_min", DAY_S, pl.lit(0), vendor_day=True),
    ]
    return landed(INTERVALS, frames, issues, rows_read)


def parse_daily_steps(landing: LandingFile) -> Parsed:
    rows, issues, rows_read = read_whole(landing.path, DAILY_STEPS)
    if rows is None:
        return Parsed({}, issues, rows_read)
    days = rows.select(
        text("Id").alias("fitbit_id"),
        us_date("ActivityDay").alias("start"),
        integer("StepTotal").alias("steps"),
    ).filter(pl.col("steps") > 0)
    frames = [intervals(days, "steps", DAY_S, pl.col("steps"), vendor_day=True)]
    return landed(INTERVALS, frames, issues, rows_read)


def parse_daily_intensities(landing: LandingFile) -> Parsed:
    rows, issues, rows_read = read_whole(landing.path, DAILY_INTENSITIES)
    if rows is None:
        return Parsed({}, issues, rows_read)
    days = rows.select(
        text("Id").alias("fitbit_id"),
        us_date("ActivityDay").alias("start"),
        integer("VeryActiveMinutes").alias("very"),
        integer("FairlyActiveMinutes").alias("fairly"),
        integer("LightlyActiveMinutes").alias("lightly"),
    ).filter(pl.col("very") + pl.col("fairly") + pl.col("lightly") > 0)
    frames = [
        intervals(days, "active_min", DAY_S, pl.col("very") + pl.col("fairly"), vendor_day=True)
    ]
    return landed(INTERVALS, frames, issues, rows_read)


def parse_hourly_steps(landing: LandingFile) -> Parsed:
    rows, issues, rows_read = read_whole(landing.path, HOURLY_STEPS)
    if rows is None:
        return Parsed({}, issues, rows_read)
    hours = rows.select(
        text("Id").alias("fitbit_id"),
        us_time("ActivityHour").alias("start"),
        integer("StepTotal").alias("steps"),
    ).filter(pl.col("steps") > 0)
    return landed(
        INTERVALS, [intervals(hours, "steps", HOUR_S, pl.col("steps"))], issues, rows_read
    )


def parse_minute_steps(landing: LandingFile) -> Parsed:
    """minuteStepsNarrow (one row per minute) or minuteStepsWide (one row per hour, Steps00..59)."""
    wide = "minutestepswide" in landing.path.name.lower()
    entity = MINUTE_STEPS_WIDE if wide else MINUTE_STEPS_NARROW
    parts: list[pl.DataFrame] = []

    def consume(chunk: pl.DataFrame) -> None:
        parts.append(_wide_minutes(chunk) if wide else _narrow_minutes(chunk))

    issues, rows_read, usable = read_in_chunks(landing.path, entity, consume)
    if not usable:
        return Parsed({}, issues, rows_read)
    minutes = pl.concat(parts) if parts else pl.DataFrame(schema=_MINUTES)
    minutes, repeats = _first_of_repeated_minutes(minutes)
    frames = [
        intervals(minutes, "steps", MINUTE_S, pl.col("steps")),
        wear_quarters(minutes.select("fitbit_id", pl.col("start").alias("minute"))),
    ]
    return landed(INTERVALS, frames, by_line(issues + repeats), rows_read)


_MINUTES = {"fitbit_id": pl.String, "start": LOCAL, "steps": pl.Int64, "line": pl.Int64}


def _narrow_minutes(chunk: pl.DataFrame) -> pl.DataFrame:
    return chunk.select(
        text("Id").alias("fitbit_id"),
        us_time("ActivityMinute").alias("start"),
        integer("Steps").alias("steps"),
        pl.col("row_number").alias("line"),
    ).filter(pl.col("steps") > 0)


def _wide_minutes(chunk: pl.DataFrame) -> pl.DataFrame:
    hours = chunk.select(
        text("Id").alias("fitbit_id"),
        us_time("ActivityHour").alias("hour"),
        pl.col("row_number").alias("line"),
        *(integer(name).alias(name) for name in _STEP_COLUMNS),
    )
    minutes = hours.unpivot(
        on=_STEP_COLUMNS,
        index=["fitbit_id", "hour", "line"],
        variable_name="column",
        value_name="steps",
    ).filter(pl.col("steps") > 0)
    offset = pl.duration(minutes=pl.col("column").str.slice(5).cast(pl.Int64))
    return minutes.select(
        "fitbit_id", (pl.col("hour") + offset).alias("start"), "steps", "line"
    ).sort("line", "start")


def _first_of_repeated_minutes(minutes: pl.DataFrame) -> tuple[pl.DataFrame, list[Issue]]:
    """The same person, minute and step count read twice counts once (a repeated row or hour)."""
    key = ["fitbit_id", "start", "steps"]
    marked = minutes.with_columns(pl.col("line").min().over(key).alias("first"))
    repeats = (
        marked.filter(pl.col("line") != pl.col("first"))
        .select("line", "first")
        .unique(maintain_order=True)
    )
    issues = [
        Issue(
            line,
            None,
            None,
            f"repeats the steps of line {first}; counted once",
            "warning",
            DUPLICATE,
        )
        for line, first in repeats.iter_rows()
    ]
    return marked.filter(pl.col("line") == pl.col("first")).drop("first"), issues


def parse_heartrate(landing: LandingFile) -> Parsed:
    """heartrate_seconds: wear evidence only; the samples themselves are not kept."""
    minutes: list[pl.DataFrame] = []

    def consume(chunk: pl.DataFrame) -> None:
        minutes.append(
            chunk.select(
                text("Id").alias("fitbit_id"), us_time("Time").dt.truncate("1m").alias("minute")
            ).unique()
        )

    issues, rows_read, usable = read_in_chunks(landing.path, HEARTRATE_SECONDS, consume)
    if not usable:
        return Parsed({}, issues, rows_read)
    frames = [wear_quarters(pl.concat(minutes))] if minutes else []
    return landed(INTERVALS, frames, issues, rows_read)
