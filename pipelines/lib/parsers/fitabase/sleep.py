"""Fitabase sleep → wearable_sleep: daily totals (sleepDay) and episodes (minuteSleep).

sleepDay gives one row per person and day with the day's total minutes asleep
and in bed (all of that day's sleep logs together, naps included); the vendor
puts it on the day the sleep ended. It lands as a `daily_total` row with that
`local_day` and no times.

minuteSleep gives each sleep log minute by minute (1 asleep, 2 restless,
3 awake). A log becomes one `classic` episode: from its first minute to one
minute after its last, `minutes_in_bed` = its rows, `minutes_asleep` = its
rows with value 1 (Fitbit counts restless minutes as not asleep), on the local
day it ends. A log's minutes keep the seconds of its start (`2:47:30 AM`), so
times are taken as written, never rounded to the minute.

On the night the clock falls back an hour, a log repeats an hour of wall-clock
minutes (…1:59:30, 1:00:30…). Its rows, not its clock span, are the minutes
in bed; a minute that repeats within the same pass of the clock is a
duplicate row and counts once.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from ..source import LandingFile, Parsed
from ..spec import Issue
from ..wearable_tables import LOCAL, conform
from .canonical import DEVICE, SLEEP, SOURCE_NAME, integer, landed, text, us_time
from .reading import DUPLICATE, by_line, read_in_chunks, read_whole
from .specs import MINUTE_SLEEP, SLEEP_DAY

ASLEEP = 1
_FALL_BACK = timedelta(minutes=1) - timedelta(hours=1)  # next minute, written an hour earlier
_MINUTES = {
    "fitbit_id": pl.String,
    "log_id": pl.String,
    "time": LOCAL,
    "value": pl.Int8,
    "line": pl.Int64,
}


def parse_sleep_day(landing: LandingFile) -> Parsed:
    rows, issues, rows_read = read_whole(landing.path, SLEEP_DAY)
    if rows is None:
        return Parsed({}, issues, rows_read)
    days = rows.select(
        text("Id").alias("fitbit_id"),
        pl.lit(SOURCE_NAME).alias("source"),
        pl.lit(DEVICE).alias("device"),
        us_time("SleepDay").dt.date().alias("local_day"),
        integer("TotalMinutesAsleep").alias("minutes_asleep"),
        integer("TotalTimeInBed").alias("minutes_in_bed"),
        pl.lit("daily_total").alias("sleep_type"),
    )
    return landed(SLEEP, [conform(SLEEP, days)], issues, rows_read)


def parse_minute_sleep(landing: LandingFile) -> Parsed:
    parts: list[pl.DataFrame] = []

    def consume(chunk: pl.DataFrame) -> None:
        parts.append(
            chunk.select(
                text("Id").alias("fitbit_id"),
                text("logId").alias("log_id"),
                us_time("date").alias("time"),
                integer("value").cast(pl.Int8).alias("value"),
                pl.col("row_number").alias("line"),
            )
        )

    issues, rows_read, usable = read_in_chunks(landing.path, MINUTE_SLEEP, consume)
    if not usable:
        return Parsed({}, issues, rows_read)
    minutes = pl.concat(parts) if parts else pl.DataFrame(schema=_MINUTES)
    minutes, repeats = _first_of_repeated_minutes(minutes)
    return landed(SLEEP, [_episodes(minutes)], by_line(issues + repeats), rows_read)


def _first_of_repeated_minutes(minutes: pl.DataFrame) -> tuple[pl.DataFrame, list[Issue]]:
    """Drop a log's minute read twice, except the hour the clock legitimately repeats.

    Within a log, in file order, a step back of exactly one hour (less the minute
    that passed) is the clock falling back; the minutes after it are a second
    pass over the same wall-clock times. A minute seen twice within one pass
    is a repeated row.
    """
    log = ["fitbit_id", "log_id"]
    minutes = minutes.sort("line").with_columns(
        (pl.col("time").diff() == pl.lit(_FALL_BACK))
        .fill_null(False)
        .cast(pl.Int32)
        .cum_sum()
        .over(log)
        .alias("pass")
    )
    minute = [*log, "pass", "time"]
    marked = minutes.with_columns(
        pl.col("line").first().over(minute).alias("first"),
        pl.col("value").first().over(minute).alias("first_value"),
    )
    repeats = marked.filter(pl.col("line") != pl.col("first"))
    issues = [
        Issue(
            line,
            None,
            None,
            f"exact duplicate of line {first}; counted once"
            if value == first_value
            else f"repeats the minute of line {first} with value {value} (there {first_value}); "
            "the first counts",
            "warning",
            DUPLICATE,
        )
        for line, first, value, first_value in repeats.select(
            "line", "first", "value", "first_value"
        ).iter_rows()
    ]
    return marked.filter(pl.col("line") == pl.col("first")).drop("first", "first_value"), issues


def _episodes(minutes: pl.DataFrame) -> pl.DataFrame:
    logs = minutes.group_by("fitbit_id", "log_id", maintain_order=True).agg(
        pl.col("time").first().alias("start_local"),
        (pl.col("time").last() + pl.duration(minutes=1)).alias("end_local"),
        (pl.col("value") == ASLEEP).sum().alias("minutes_asleep"),
        pl.len().alias("minutes_in_bed"),
    )
    return conform(
        SLEEP,
        logs.select(
            "fitbit_id",
            pl.lit(SOURCE_NAME).alias("source"),
            pl.lit(DEVICE).alias("device"),
            "start_local",
            "end_local",
            # the night belongs to the local day it ends on
            pl.col("end_local").dt.date().alias("local_day"),
            pl.col("log_id").alias("episode_id"),
            "minutes_asleep",
            "minutes_in_bed",
            pl.lit("classic").alias("sleep_type"),
        ),
    )
