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
from typing import TYPE_CHECKING

from .timeline import QUARTER, epoch_to_utc, minute_windows, sample_frame

if TYPE_CHECKING:  # Polars loads in the functions that make frames (apple_health_half.py)
    import polars as pl

MAX_HR_GAP_S = 15 * 60
MAX_RUN_S = 86400


class _Runs:
    """Worn spans merged as samples arrive, so memory grows with wear periods, not with samples.

    A span extends the current run when it starts inside it or at most `bridge_s`
    after its end; a run is cut after a day so that no span grows long. Samples
    out of time order merely open new runs: minutes are counted once later anyway.
    """

    def __init__(self, bridge_s: int) -> None:
        self.start = array("q")
        self.end = array("q")
        self._bridge = bridge_s
        self._run: tuple[int, int] | None = None

    def extend(self, starts: list[int], ends: list[int]) -> None:
        """Each (start, end) in arrival order."""
        bridge, run = self._bridge, self._run
        for start, end in zip(starts, ends, strict=True):
            if run is not None:
                run_start, run_end = run
                if run_start <= start <= run_end + bridge and start - run_start <= MAX_RUN_S:
                    if end > run_end:
                        run = (run_start, end)
                    continue
                self.start.append(run_start)
                self.end.append(run_end)
                if run_end <= start <= run_end + bridge:
                    start = run_end  # cut for length only: keep the bridge to the next sample
            run = (start, end)
        self._run = run

    def _close(self) -> None:
        if self._run is not None:
            self.start.append(self._run[0])
            self.end.append(self._run[1])
            self._run = None

    def frame(self) -> pl.DataFrame:
        self._close()
        return sample_frame(self.start, self.end)


class WearEvidence:
    def __init__(self) -> None:
        self._heart_rate = _Runs(MAX_HR_GAP_S)
        self._steps = _Runs(0)
        self.samples = 0

    def add_heart_rates(self, instants: list[int]) -> None:
        # [t, t + 1 s): the sample's own minute is worn
        self._heart_rate.extend(instants, [t + 1 for t in instants])
        self.samples += len(instants)

    def add_steps(self, starts: list[int], ends: list[int]) -> None:
        self._steps.extend(starts, [max(e, s + 1) for s, e in zip(starts, ends, strict=True)])
        self.samples += len(starts)

    def spans(self) -> pl.DataFrame:
        import polars as pl

        return pl.concat([self._heart_rate.frame(), self._steps.frame()]).sort("start")


class WearSamples:
    """Wear evidence kept as it arrives, unmerged: the second half of an export read in two
    (halves.py), replayed after the first half's into its WearEvidence, in file order."""

    def __init__(self) -> None:
        self.heart_rate = array("q")
        self.step_start = array("q")
        self.step_end = array("q")
        self.samples = 0

    def add_heart_rates(self, instants: list[int]) -> None:
        self.heart_rate.extend(instants)
        self.samples += len(instants)

    def add_steps(self, starts: list[int], ends: list[int]) -> None:
        self.step_start.extend(starts)
        self.step_end.extend(ends)
        self.samples += len(starts)

    def replay(self, into: WearEvidence) -> None:
        into.add_heart_rates(self.heart_rate.tolist())
        into.add_steps(self.step_start.tolist(), self.step_end.tolist())


def quarter_hour_wear(evidence: WearEvidence) -> pl.DataFrame:
    """Rows of wearable_intervals: metric worn_min per UTC quarter hour with any Watch evidence."""
    import polars as pl

    if not evidence.samples:
        return pl.DataFrame()
    parts = [
        spread.select(pl.col("minute").unique())
        .group_by(quarter=pl.col("minute") // (QUARTER // 60))
        .agg(value=pl.len())
        for spread in minute_windows(evidence.spans())
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
