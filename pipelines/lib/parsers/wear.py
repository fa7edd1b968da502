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
    counts = (
        pl.DataFrame({"minute": minute_times.dt.truncate("1m"), "steps": steps.cast(pl.Float64)})
        .group_by("minute")
        .agg(pl.col("steps").sum())
        .sort("minute")
    )
    grid = pl.datetime_range(
        counts["minute"].min(), counts["minute"].max(), "1m", eager=True, time_zone=None
    ).alias("minute")
    if counts["minute"].dtype != grid.dtype:
        grid = grid.cast(counts["minute"].dtype)
    moving = (
        grid.to_frame()
        .join(counts, on="minute", how="left")
        .select("minute", moving=pl.col("steps").fill_null(0) > 0)
    )
    flags = moving["moving"].to_list()
    worn = _choi_worn(flags)
    return quarters(moving["minute"].filter(pl.Series(worn)))


def _runs(flags: list[bool]) -> list[tuple[bool, int, int]]:
    """(value, start index, length) of each run of equal flags."""
    runs: list[tuple[bool, int, int]] = []
    for i, flag in enumerate(flags):
        if runs and runs[-1][0] == flag:
            value, start, length = runs[-1]
            runs[-1] = (value, start, length + 1)
        else:
            runs.append((flag, i, 1))
    return runs


def _choi_worn(moving: list[bool]) -> list[bool]:
    worn = [True] * len(moving)
    runs = _runs(moving)
    # spans of still minutes, bridging short movement spikes flanked by long still stretches
    spans: list[list[int]] = []  # [start, end) of candidate non-wear spans
    for index, (is_moving, start, length) in enumerate(runs):
        if not is_moving:
            bridged = (
                spans
                and index >= 2
                and runs[index - 1][2] <= SPIKE_TOLERANCE_MINUTES
                and runs[index - 2][2] >= SPIKE_WINDOW_MINUTES
                and length >= SPIKE_WINDOW_MINUTES
                and spans[-1][1] == runs[index - 1][1]
            )
            if bridged:
                spans[-1][1] = start + length
            else:
                spans.append([start, start + length])
    for start, end in spans:
        if end - start >= NON_WEAR_MINUTES:
            worn[start:end] = [False] * (end - start)
    return worn
