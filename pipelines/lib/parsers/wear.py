"""Wear evidence shared by the vendor parsers: which minutes a tracker was on the body.

- Heart rate needs skin contact: a minute with a heart-rate sample was worn.
- Steps are weaker evidence: people sit still for hours while wearing a
  tracker, and a tracker on the nightstand records 0 steps too. Following
  Choi et al. (2011, Med Sci Sports Exerc 43:357), a minute is *not worn* when
  it lies in a run of at least 90 minutes without steps, where interruptions
  of at most 2 minutes with steps are tolerated if at least 30 step-free
  minutes stand on either side; every other minute of the recording is worn.
  Like the accelerometer rule it comes from, this counts waking wear: a night
  of sleep without movement reads as not worn, which is what the 10-hour valid
  day threshold assumes.

Both give `worn_min` per quarter hour (900 s), aligned to :00/:15/:30/:45 in
the clock the minutes come in (UTC or local).
"""

from __future__ import annotations

import numpy as np
import polars as pl

NON_WEAR_MINUTES = 90
SPIKE_TOLERANCE_MINUTES = 2
SPIKE_WINDOW_MINUTES = 30
QUARTER = "15m"


def quarters(worn_minutes: pl.Series) -> pl.DataFrame:
    """(start, value) rows: distinct worn minutes per quarter hour."""
    minutes = worn_minutes.dt.truncate("1m").unique()
    return (
        minutes.to_frame("minute")
        .group_by(start=pl.col("minute").dt.truncate(QUARTER))
        .agg(value=pl.len().cast(pl.Float64))
        .sort("start")
    )


def worn_from_heart_rate(sample_times: pl.Series) -> pl.DataFrame:
    """Quarter-hour worn minutes from heart-rate sample times (any resolution)."""
    return quarters(sample_times)


def worn_from_steps(minute_times: pl.Series, steps: pl.Series) -> pl.DataFrame:
    """Quarter-hour worn minutes from minute step counts (Choi non-wear rule).

    Minutes missing between the first and last one are taken as 0 steps.
    """
    if minute_times.len() == 0:
        return pl.DataFrame(schema={"start": minute_times.dtype, "value": pl.Float64})
    minutes = pl.DataFrame({"person": 0, "minute": minute_times, "steps": steps})
    moving = (
        minutes.group_by("person", pl.col("minute").dt.truncate("1m"))
        .agg(pl.col("steps").cast(pl.Float64).sum())
        .filter(pl.col("steps") > 0)
    )
    spans = minutes.group_by("person").agg(
        first=pl.col("minute").min(), last=pl.col("minute").max()
    )
    worn = worn_quarters_from_steps(moving, spans, "person")
    return worn.select(pl.col("start").cast(minute_times.dtype), "value")


def worn_quarters_from_steps(moving: pl.DataFrame, spans: pl.DataFrame, by: str) -> pl.DataFrame:
    """Quarter-hour worn minutes of each `by` (a person) by the still-stretch rule, at once.

    `moving`: (`by`, `minute`) the minutes with steps (repeats allowed; any resolution, taken
    to the minute). `spans`: (`by`, `first`, `last`) the first and last minute each
    recording covers (repeats allowed: the widest counts); every minute between them that
    is not in `moving` had no steps. Returns (`by`, `start`, `value`), quarters with worn
    minutes only. Works on runs, so its cost follows the minutes with steps, not the span.
    """
    bounds = spans.group_by(by).agg(
        lo=_minute(pl.col("first")).min(), hi=_minute(pl.col("last")).max() + 1
    )
    minutes = moving.select(by, _minute(pl.col("minute")).alias("at")).unique().sort(by, "at")
    new_run = (pl.col("at") - pl.col("at").shift(1) != 1) | (pl.col(by) != pl.col(by).shift(1))
    moving_runs = (
        minutes.with_columns(run=new_run.fill_null(True).cum_sum())
        .group_by("run", maintain_order=True)
        .agg(pl.col(by).first(), start=pl.col("at").first(), end=pl.col("at").last() + 1)
        .drop("run")
    )
    still = _gaps(moving_runs, bounds, by)
    # a still run joins the one before when the movement between them is a spike of at most
    # SPIKE_TOLERANCE_MINUTES and both still runs last SPIKE_WINDOW_MINUTES or more
    length = pl.col("end") - pl.col("start")
    same_person = pl.col(by) == pl.col(by).shift(1)
    bridged = (
        same_person
        & (pl.col("start") - pl.col("end").shift(1) <= SPIKE_TOLERANCE_MINUTES)
        & (length.shift(1) >= SPIKE_WINDOW_MINUTES)
        & (length >= SPIKE_WINDOW_MINUTES)
    ).fill_null(False)
    off = (
        still.with_columns(span=(~bridged).cum_sum())
        .group_by("span", maintain_order=True)
        .agg(pl.col(by).first(), pl.col("start").first(), pl.col("end").last())
        .drop("span")
        .filter(length >= NON_WEAR_MINUTES)
    )
    return _per_quarter(_gaps(off, bounds, by), by)


def _minute(moment: pl.Expr) -> pl.Expr:
    """Whole minutes since the epoch."""
    return moment.dt.truncate("1m").dt.epoch("s") // 60


def _gaps(inside: pl.DataFrame, bounds: pl.DataFrame, by: str) -> pl.DataFrame:
    """Per `by`, the parts of [lo, hi) of `bounds` outside the sorted, disjoint [start, end)
    intervals of `inside` (which lie within the bounds)."""
    edges = pl.concat(
        [
            bounds.select(by, start=pl.col("lo"), end=pl.col("lo")),
            inside.select(by, "start", "end"),
            bounds.select(by, start=pl.col("hi"), end=pl.col("hi")),
        ]
    ).sort(by, "start", "end", maintain_order=True)
    return (
        edges.select(
            by,
            start=pl.col("end"),
            end=pl.col("start").shift(-1),
            same=pl.col(by) == pl.col(by).shift(-1),
        )
        .filter(pl.col("same") & (pl.col("end") > pl.col("start")))
        .drop("same")
    )


def _per_quarter(worn: pl.DataFrame, by: str) -> pl.DataFrame:
    """(by, start, value): worn minutes of the [start, end) intervals per quarter hour."""
    quarter = 15
    pieces = worn.with_columns(
        q=pl.int_ranges(
            pl.col("start") // quarter * quarter,
            (pl.col("end") - 1) // quarter * quarter + 1,
            quarter,
        )
    ).explode("q")
    overlap = pl.min_horizontal("end", pl.col("q") + quarter) - pl.max_horizontal(
        "start", pl.col("q")
    )
    return (
        pieces.group_by(by, "q")
        .agg(value=overlap.sum().cast(pl.Float64))
        .sort(by, "q")
        .select(
            by,
            start=pl.from_epoch(pl.col("q") * 60, time_unit="s").cast(pl.Datetime("us")),
            value="value",
        )
    )


def minute_bits(people: pl.Series, times: pl.Series) -> pl.DataFrame:
    """(person, quarter, bits): the minutes of each quarter hour with a sample, as bits
    (bit k: minute k of the quarter). Merge any number of them with `quarters_from_bits`:
    the same minute seen in two of them counts once."""
    micros = times.dt.cast_time_unit("us").to_physical().to_numpy()
    minute = np.floor_divide(micros, 60_000_000)
    quarter = np.floor_divide(minute, 15)
    bit = np.left_shift(np.int32(1), (minute - quarter * 15).astype(np.int32))
    frame = pl.DataFrame(
        {"person": people, "quarter": quarter, "bits": bit}, schema_overrides={"bits": pl.Int32}
    )
    # runs of rows with the same person and quarter (a sorted file's order) first, cheaply
    change = (frame["person"] != frame["person"].shift(1)).fill_null(True).to_numpy()
    change |= np.diff(quarter, prepend=quarter[:1] - 1) != 0
    starts = np.flatnonzero(change)
    if starts.size == 0:
        return frame
    runs = frame[starts].with_columns(bits=pl.Series(np.bitwise_or.reduceat(bit, starts)))
    return runs.group_by("person", "quarter").agg(pl.col("bits").bitwise_or())


def quarters_from_bits(bits: pl.DataFrame) -> pl.DataFrame:
    """(person, start, value): worn minutes per quarter hour from `minute_bits` frames concatenated."""
    merged = bits.group_by("person", "quarter").agg(pl.col("bits").bitwise_or())
    return merged.sort("person", "quarter").select(
        "person",
        start=pl.from_epoch(pl.col("quarter") * 900, time_unit="s").cast(pl.Datetime("us")),
        value=pl.col("bits").bitwise_count_ones().cast(pl.Float64),
    )
