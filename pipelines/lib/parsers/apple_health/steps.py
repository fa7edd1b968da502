"""Steps from several sources merged into quarter hours without double counting.

An iPhone in the pocket and a Watch on the wrist both write
HKQuantityTypeIdentifierStepCount for the same walk; apps (Garmin Connect,
pedometer apps, typed-in entries) add more. Summing them double counts.

The rule, minute by minute (UTC):
1. each sample's count is spread uniformly over its span (by seconds of overlap
   with each minute); a zero-length sample sits whole in its minute;
2. in each minute only the best-ranked source present counts (Apple Watch >
   iPhone > other apps, see devices.py); two sources of the same rank (an old
   and a new iPhone, two apps) never add up either — the one with more steps
   in that minute counts;
3. the kept minutes are summed per UTC quarter hour (duration_s = 900); `device`
   names the source that supplied most of that quarter's steps.

A source that is present in a minute wins that minute even if it counted fewer
steps there: the Watch is the better witness while it is worn, and where it is
not worn (no Watch samples) the iPhone's minutes fill in. Exact duplicate
samples (same source, span and count, e.g. re-synced app data) are dropped first.
"""

from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

import numpy as np

from .devices import SourceInfo
from .timeline import QUARTER, epoch_to_utc, minute_windows, sample_frame

if TYPE_CHECKING:  # Polars loads in the functions that make frames (apple_health_half.py)
    import polars as pl


class StepSamples:
    """HKQuantityTypeIdentifierStepCount samples as compact columns (≈ 28 bytes each)."""

    def __init__(self) -> None:
        self.start = array("q")
        self.end = array("q")
        self.value = array("d")
        self.source = array("i")

    def extend(
        self, start: np.ndarray, end: np.ndarray, value: np.ndarray, source: np.ndarray
    ) -> None:
        self.start.frombytes(start.astype(np.int64).tobytes())
        self.end.frombytes(end.astype(np.int64).tobytes())
        self.value.frombytes(value.astype(np.float64).tobytes())
        self.source.frombytes(source.astype(np.int32).tobytes())

    def extend_from(self, later: StepSamples, source_ids: np.ndarray) -> None:
        """Another part's samples after these; `source_ids` maps its source ids to ours."""
        self.start.extend(later.start)
        self.end.extend(later.end)
        self.value.extend(later.value)
        mapped = source_ids[np.frombuffer(later.source, dtype=np.int32)] if len(later) else []
        self.source.extend(array("i", mapped))

    def __len__(self) -> int:
        return len(self.start)


def quarter_hour_steps(samples: StepSamples, sources: list[SourceInfo]) -> pl.DataFrame:
    """Rows of wearable_intervals (without who-columns): metric steps per UTC quarter hour."""
    import polars as pl

    if not len(samples):
        return pl.DataFrame()
    frame = sample_frame(samples.start, samples.end, value=samples.value, source=samples.source)
    ranks = pl.DataFrame(
        {
            "source": pl.Series(range(len(sources)), dtype=pl.Int32),
            "rank": [s.rank for s in sources],
            "label": [s.label for s in sources],
        }
    )
    parts = []
    for spread in minute_windows(frame):
        per_source = (
            spread.group_by("minute", "source")
            .agg(steps=(pl.col("value") * pl.col("overlap_s") / pl.col("length_s")).sum())
            .join(ranks, on="source")
        )
        kept = (
            per_source.sort(
                ["minute", "rank", "steps", "source"], descending=[False, True, True, False]
            )
            .unique("minute", keep="first", maintain_order=True)
            .with_columns(quarter=pl.col("minute") // (QUARTER // 60))
        )
        by_label = kept.group_by("quarter", "label").agg(
            steps=pl.col("steps").sum(), rank=pl.col("rank").max()
        )
        parts.append(
            by_label.sort(
                ["quarter", "steps", "rank", "label"], descending=[False, True, True, False]
            )
            .group_by("quarter", maintain_order=True)
            .agg(value=pl.col("steps").sum(), device=pl.col("label").first())
        )
    if not parts:
        return pl.DataFrame()
    return (
        pl.concat(parts)
        .sort("quarter")
        .select(
            (pl.col("quarter") * QUARTER).alias("start"),
            pl.lit(QUARTER, pl.Int32).alias("duration_s"),
            pl.lit("steps").alias("metric"),
            pl.col("value").round(3),
            "device",
        )
        .with_columns(start_utc=epoch_to_utc("start"))
        .drop("start")
    )
