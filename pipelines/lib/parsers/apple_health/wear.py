"""Minutes the Apple Watch was worn, per UTC quarter hour, from its heart-rate and step samples.

The Watch measures heart rate only on the wrist, so its HeartRate samples are
wear evidence. It samples in the background only every few minutes, though
(seconds apart in workouts, ~3–10 min apart otherwise). Counting only minutes
that hold a sample would make every Watch day look a third worn. A minute
therefore counts as worn when it
- holds a Watch heart-rate sample, or
- lies between two consecutive Watch heart-rate samples at most
  MAX_HR_GAP_S apart (the Watch stayed on between them), or
- overlaps a Watch step sample with steps > 0.

iPhone steps are not wear evidence (a phone on the desk still counts a walk to
the kitchen), nor is heart rate written by other apps (we cannot tell a worn
sensor from a typed-in or cuff reading). An iPhone-only export therefore yields
no worn_min rows at all: no evidence either way, never zero.
"""

from __future__ import annotations

from array import array

import numpy as np
import polars as pl

from .timeline import QUARTER, epoch_to_utc, minute_windows, sample_frame

MAX_HR_GAP_S = 15 * 60


class WearEvidence:
    def __init__(self) -> None:
        self.heart_rate = array("q")  # Watch heart-rate sample instants
        self.span_start = array("q")  # Watch step samples with steps > 0
        self.span_end = array("q")

    def add_heart_rate(self, instant: int) -> None:
        self.heart_rate.append(instant)

    def add_steps(self, start: int, end: int) -> None:
        self.span_start.append(start)
        self.span_end.append(end)


def _spans(evidence: WearEvidence) -> pl.DataFrame:
    """Worn spans: runs of Watch heart-rate samples no more than MAX_HR_GAP_S apart, and Watch step samples."""
    beats = np.unique(np.frombuffer(evidence.heart_rate, dtype=np.int64))  # sorted
    following = np.append(beats[1:], beats[-1:])
    close = following - beats <= MAX_HR_GAP_S
    reach = np.where(close, following, beats)  # worn until the next sample when it comes soon enough
    # a new run after a long gap, and at each UTC midnight so that a Watch worn for weeks stays in short spans
    new_run = np.ones(beats.size, dtype=bool)
    new_run[1:] = ~close[:-1] | (beats[1:] // 86400 != beats[:-1] // 86400)
    firsts = np.flatnonzero(new_run)
    runs = pl.DataFrame(
        {
            "start": beats[firsts],
            "end": np.maximum.reduceat(reach, firsts) if firsts.size else beats[firsts],
        }
    )
    steps = sample_frame(evidence.span_start, evidence.span_end)
    return pl.concat([runs, steps]).sort("start")


def quarter_hour_wear(evidence: WearEvidence) -> pl.DataFrame:
    """Rows of wearable_intervals: metric worn_min per UTC quarter hour with any Watch evidence."""
    if not len(evidence.heart_rate) and not len(evidence.span_start):
        return pl.DataFrame()
    parts = [
        spread.select(pl.col("minute").unique())
        .group_by(quarter=pl.col("minute") // (QUARTER // 60))
        .agg(value=pl.len())
        for spread in minute_windows(_spans(evidence))
    ]
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts)
        .sort("quarter")
        .select(
            (pl.col("quarter") * QUARTER).alias("start"),
            pl.lit(QUARTER, pl.Int32).alias("duration_s"),
            pl.lit("worn_min").alias("metric"),
            pl.col("value").cast(pl.Float64),
            pl.lit("Apple Watch").alias("device"),
        )
        .with_columns(start_utc=epoch_to_utc("start"))
        .drop("start")
    )
