"""Fitabase steps, intensity minutes and heart rate → wearable_intervals.

| file | rows it gives |
|---|---|
| dailyActivity | `steps` and `active_min` (very + fairly active) per day; a day with 0 steps and no light, fairly or very active minute is the tracker left off: `worn_min` 0 and no steps |
| dailySteps, dailyIntensities | the same day totals, only on days that show movement (alone they cannot tell a day off the wrist from a still one) |
| hourlySteps | `steps` per clock hour |
| minuteStepsNarrow / Wide | `steps` per minute, and `worn_min` per quarter hour by the still-stretch rule of `parsers.wear` |
| heartrate_seconds | `worn_min` per quarter hour: minutes with a heart-rate sample (`parsers.wear`) |

Hourly and minute rows with 0 steps are not kept: Fitbit writes 0 for every
hour and minute the tracker was off as well, so such a zero measures nothing,
and a day off the wrist must not read as a day of 0 steps.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from ..runs import per_run
from ..source import LandingFile, Parsed
from ..spec import Issue, time_column
from ..wear import minute_bits, quarters_from_bits, worn_quarters_from_steps
from ..wearable_tables import LOCAL
from .canonical import (
    DAY_S,
    HOUR_S,
    INTERVALS,
    MINUTE_S,
    QUARTER_S,
    integer,
    intervals,
    landed,
    text,
    us_date,
    us_time,
    whole_numbers,
)
from .reading import DUPLICATE, MinuteFile, Parts, by_line, read_whole
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
    return minute_steps_file(landing.relative).parse(landing.path)


def minute_steps_file(relative: str) -> MinuteFile:
    """The narrow or the wide file's parser, by the file's name."""
    wide = "minutestepswide" in relative.rsplit("/", 1)[-1].lower()
    return _MINUTE_STEPS_WIDE if wide else _MINUTE_STEPS_NARROW


def _minute_steps(wide: bool) -> MinuteFile:
    def reduce(rows: pl.DataFrame) -> Parts:
        minutes = _wide_minutes(rows) if wide else _narrow_minutes(rows)
        return {
            "moving": minutes.filter(pl.col("steps") > 0),  # the zeros are implied
            "spans": _spans(minutes),
        }

    return MinuteFile(MINUTE_STEPS_WIDE if wide else MINUTE_STEPS_NARROW, reduce, _steps_and_wear)


def _steps_and_wear(parts: list[Parts], issues: list[Issue], rows_read: int) -> Parsed:
    moving = [p["moving"] for p in parts]
    minutes = pl.concat(moving) if moving else pl.DataFrame(schema=_MINUTES)
    minutes, repeats = _first_of_repeated_minutes(minutes)
    frames = [intervals(minutes, "steps", MINUTE_S, pl.col("steps"))]
    if parts:
        frames.append(_worn_from_steps(minutes, pl.concat(p["spans"] for p in parts)))
    return landed(INTERVALS, frames, by_line(issues + repeats), rows_read)


_MINUTES = {"fitbit_id": pl.String, "start": LOCAL, "steps": pl.Int64, "line": pl.Int64}


def _spans(minutes: pl.DataFrame) -> pl.DataFrame:
    """The first and last minute each person's recording covers, per run of rows of one person
    (a person's rows come together in a file; if not, a person has more than one row here)."""
    if minutes.is_empty():
        return pl.DataFrame(schema={"fitbit_id": pl.String, "first": LOCAL, "last": LOCAL})
    heads = np.flatnonzero(np.diff(minutes["fitbit_id"].rle_id().to_numpy(), prepend=-1))
    start = minutes["start"].cast(LOCAL).to_physical().to_numpy()
    return pl.DataFrame(
        {
            "fitbit_id": minutes["fitbit_id"].gather(heads),
            "first": pl.Series(np.minimum.reduceat(start, heads)).cast(LOCAL),
            "last": pl.Series(np.maximum.reduceat(start, heads)).cast(LOCAL),
        }
    )


def _narrow_minutes(chunk: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "fitbit_id": per_run(chunk["Id"], lambda ids: ids.str.strip_chars()),
            "start": chunk[time_column("ActivityMinute")],
            "steps": whole_numbers(chunk["Steps"]),
            "line": chunk["row_number"],
        }
    )


def _wide_minutes(chunk: pl.DataFrame) -> pl.DataFrame:
    hours = pl.DataFrame(
        {
            "fitbit_id": per_run(chunk["Id"], lambda ids: ids.str.strip_chars()),
            "hour": chunk[time_column("ActivityHour")],
            "line": chunk["row_number"],
        }
        | {name: whole_numbers(chunk[name]) for name in _STEP_COLUMNS}
    )
    minutes = hours.unpivot(
        on=_STEP_COLUMNS,
        index=["fitbit_id", "hour", "line"],
        variable_name="column",
        value_name="steps",
    ).filter(pl.col("steps").is_not_null())
    offset = pl.duration(minutes=pl.col("column").str.slice(5).cast(pl.Int64))
    return minutes.select(
        "fitbit_id", (pl.col("hour") + offset).alias("start"), "steps", "line"
    ).sort("line", "start")


def _worn_from_steps(moving: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Per person, the still-stretch rule over the whole span the file covers: every minute
    of it that is not a moving minute had 0 steps, still minutes at either end included."""
    worn = worn_quarters_from_steps(moving.select("fitbit_id", minute="start"), spans, "fitbit_id")
    return intervals(worn, "worn_min", QUARTER_S, pl.col("value"))


_MINUTE_STEPS_NARROW = _minute_steps(wide=False)
_MINUTE_STEPS_WIDE = _minute_steps(wide=True)


def _first_of_repeated_minutes(minutes: pl.DataFrame) -> tuple[pl.DataFrame, list[Issue]]:
    """The same person, minute and step count read twice counts once (a repeated row or hour)."""
    if _each_minute_once(minutes):
        return minutes, []
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


def _each_minute_once(minutes: pl.DataFrame) -> bool:
    """Whether, in file order, each person's rows come together with their minutes rising —
    then no minute is there twice (a cheap look before looking for repeats)."""
    ids, start = minutes["fitbit_id"], minutes["start"]
    rising = (ids != ids.shift(1)).fill_null(True) | (start > start.shift(1)).fill_null(True)
    if not rising.all():
        return False
    heads = np.flatnonzero(np.diff(ids.rle_id().to_numpy(), prepend=-1))
    return ids.gather(heads).n_unique() == heads.size


def parse_heartrate(landing: LandingFile) -> Parsed:
    """heartrate_seconds: wear evidence only; the samples themselves are not kept."""
    return HEART_RATE_FILE.parse(landing.path)


def _heart_rate_minutes(rows: pl.DataFrame) -> Parts:
    return {"bits": minute_bits(rows["Id"], rows[time_column("Time")])}


def _heart_rate_wear(parts: list[Parts], issues: list[Issue], rows_read: int) -> Parsed:
    frames = []
    if parts:
        bits = pl.concat(p["bits"] for p in parts).with_columns(pl.col("person").str.strip_chars())
        worn = quarters_from_bits(bits).rename({"person": "fitbit_id"})
        frames.append(intervals(worn, "worn_min", QUARTER_S, pl.col("value")))
    return landed(INTERVALS, frames, issues, rows_read)


HEART_RATE_FILE = MinuteFile(HEARTRATE_SECONDS, _heart_rate_minutes, _heart_rate_wear)
