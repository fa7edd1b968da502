"""From checked Fitabase text to canonical rows: typed values and the columns every row shares.

Fitabase writes the participant's local wall clock with no zone or offset, so
every time lands in `start_local`/`end_local` and never in `start_utc`. The
person is the Fitbit `Id`, kept as `fitbit_id` (roster.fitbit_id links it).
"""

from __future__ import annotations

import polars as pl

from ..source import Parsed
from ..spec import Issue
from ..us_datetime import DTYPE, parse_us_datetime
from ..wearable_tables import LOCAL, conform, empty

SOURCE_NAME = "fitabase"
DEVICE = "Fitbit"  # Fitabase does not name the tracker model
INTERVALS = "wearable_intervals"
SLEEP = "wearable_sleep"

DAY_S = 86400
HOUR_S = 3600
QUARTER_S = 900
MINUTE_S = 60

_US_DATE = "%m/%d/%Y"


def text(name: str) -> pl.Expr:
    return pl.col(name).str.strip_chars()


def integer(name: str) -> pl.Expr:
    return text(name).cast(pl.Int64)


def whole_numbers(values: pl.Series) -> pl.Series:
    """`integer` of checked values, cast as written unless some are padded (cheaper)."""
    number = values.cast(pl.Int64, strict=False)
    if number.null_count() != values.null_count():
        number = values.str.strip_chars().cast(pl.Int64)
    return number


def us_date(name: str) -> pl.Expr:
    """`4/12/2016` → date."""
    return text(name).str.to_date(_US_DATE)


def us_time(name: str) -> pl.Expr:
    """`4/12/2016 2:47:30 AM` → local wall-clock datetime (of values `spec.validate` passed)."""
    return pl.col(name).map_batches(parse_us_datetime, return_dtype=DTYPE)


def intervals(
    frame: pl.DataFrame, metric: str, duration_s: int, value: pl.Expr, vendor_day: bool = False
) -> pl.DataFrame:
    """wearable_intervals rows from a frame with `fitbit_id` and `start` (local datetime).

    `vendor_day`: the row is a vendor daily total, so the vendor itself put it
    on the local day that starts at `start`.
    """
    start = pl.col("start").cast(LOCAL)
    return conform(
        INTERVALS,
        frame.select(
            pl.col("fitbit_id"),
            pl.lit(SOURCE_NAME).alias("source"),
            pl.lit(DEVICE).alias("device"),
            start.alias("start_local"),
            (start.dt.date() if vendor_day else pl.lit(None, pl.Date)).alias("local_day"),
            pl.lit(duration_s).alias("duration_s"),
            pl.lit(metric).alias("metric"),
            value.cast(pl.Float64).alias("value"),
        ),
    )


def landed(table: str, frames: list[pl.DataFrame], issues: list[Issue], rows_read: int) -> Parsed:
    """A Parsed with the frames of one canonical table, in a stable order."""
    rows = pl.concat(frames) if frames else empty(table)
    order = [
        c
        for c in ("fitbit_id", "start_local", "local_day", "duration_s", "metric")
        if c in rows.columns
    ]
    return Parsed(
        {table: rows.sort(order, nulls_last=True, maintain_order=True)}, issues, rows_read
    )
