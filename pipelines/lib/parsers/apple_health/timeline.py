"""Spreading timed samples over UTC minutes, one window of time at a time.

Step and wear samples are merged minute by minute. Exploding a multi-year export
into minutes at once would cost memory in proportion to the file; a window at a
time keeps the peak to one window's minutes, whatever the export's size.
Quarter hours are aligned in UTC: every real UTC offset is a multiple of
15 minutes, so a UTC quarter hour is also a quarter hour on the local clock.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # Polars loads in the functions that make frames (apple_health_half.py)
    import polars as pl

MINUTE = 60
QUARTER = 900
WINDOW_S = 28 * 86400
# Longest sample we spread over minutes; a longer one is quarantined when it is read.
MAX_SPAN_S = 7 * 86400


def _column(values: array) -> np.ndarray:
    # a view on the array's buffer: no per-element Python objects on the way into Polars
    return np.frombuffer(
        values, dtype={"q": np.int64, "d": np.float64, "i": np.int32}[values.typecode]
    )


def sample_frame(start: array, end: array, **columns: array) -> pl.DataFrame:
    """Bulk columns collected while streaming → a frame sorted by start (seconds since the epoch)."""
    import polars as pl

    frame = pl.DataFrame(
        {"start": _column(start), "end": _column(end)}
        | {name: _column(values) for name, values in columns.items()}
    )
    return frame.sort("start")


def minute_windows(samples: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """Per window: one row per (sample, UTC minute it overlaps) with `minute` and `overlap_s`.

    `samples` is sorted by `start`; exact duplicate rows are dropped. A zero-length sample (start == end) sits
    whole in its minute with overlap_s = 1 and length_s = 1.
    """
    import polars as pl

    if samples.is_empty():
        return
    starts = samples["start"]
    first = int(starts[0]) // WINDOW_S * WINDOW_S
    last = int(samples["end"].max())
    longest = int((samples["end"] - samples["start"]).max())  # how far back a sample can reach
    for window in range(first, last + 1, WINDOW_S):
        lo = int(starts.search_sorted(window - longest, side="left"))
        hi = int(starts.search_sorted(window + WINDOW_S, side="left"))
        chunk = (
            samples.slice(lo, hi - lo)
            .filter(pl.max_horizontal("start", "end") >= window)
            .unique()  # exact duplicates (re-synced app data) count once
        )
        if chunk.is_empty():
            continue
        first_minute = window // MINUTE
        end_minute = (window + WINDOW_S) // MINUTE  # exclusive
        spread = (
            chunk.with_columns(
                length_s=pl.max_horizontal(pl.col("end") - pl.col("start"), pl.lit(1)),
                m0=pl.max_horizontal(pl.col("start") // MINUTE, pl.lit(first_minute)),
                m1=pl.min_horizontal(
                    pl.max_horizontal(pl.col("start"), pl.col("end") - 1) // MINUTE + 1,
                    pl.lit(end_minute),
                ),
            )
            .filter(pl.col("m1") > pl.col("m0"))
            .with_columns(minute=pl.int_ranges("m0", "m1"))
            .explode("minute")
            .with_columns(
                overlap_s=pl.when(pl.col("end") > pl.col("start"))
                .then(
                    pl.min_horizontal(pl.col("end"), (pl.col("minute") + 1) * MINUTE)
                    - pl.max_horizontal(pl.col("start"), pl.col("minute") * MINUTE)
                )
                .otherwise(1)
            )
            .drop("m0", "m1")
        )
        if not spread.is_empty():
            yield spread


def epoch_to_utc(column: str) -> pl.Expr:
    import polars as pl

    return pl.from_epoch(pl.col(column), time_unit="s").dt.replace_time_zone("UTC")
