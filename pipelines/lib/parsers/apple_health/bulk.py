"""Steps and Watch heart rate, the bulk of an export, converted a batch at a time.

A large export holds hundreds of thousands of these records. While streaming, each
costs a few list appends (its dates and value kept as text); every BATCH records, and
before anything else is logged, the batch is converted at once (clock.parse_instants,
float) and checked with the same rules, in the same order and with the same messages
as a single record (records.py). Valid samples then go, in file order, to the step
samples and the Watch wear evidence; each invalid one becomes an Issue naming its line.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import compress

import numpy as np

from ..issue import Issue
from .clock import parse_instants
from .steps import StepSamples
from .timeline import MAX_SPAN_S
from .wear import WearEvidence

BATCH = 32768


def parse_amounts(texts: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """float() of each text: (values, which ones are finite numbers ≥ 0)."""
    try:
        values = np.fromiter(map(float, texts), dtype=np.float64, count=len(texts))
    except (TypeError, ValueError):  # a missing or non-numeric one: take them one by one
        values = np.array([_amount(text) for text in texts], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return values, np.isfinite(values) & (values >= 0)


def _amount(text: str | None) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return np.nan


class BulkRecords:
    """Step and Watch heart-rate records read so far and not yet converted.

    `refusal(kind, start, end, value)` gives the (field, value, reason) a single record
    with these texts is refused for (records.py), for the few that fail the checks here.
    """

    def __init__(
        self,
        steps: StepSamples,
        wear: WearEvidence,
        watch: list[bool],
        refusal: Callable[[str, str | None, str | None, str | None], tuple],
        log: Callable[[Issue], None],
    ) -> None:
        self._steps, self._wear, self._watch = steps, wear, watch
        self._refusal, self._log = refusal, log
        self._clear()

    def _clear(self) -> None:
        self.step_start: list[str | None] = []
        self.step_end: list[str | None] = []
        self.step_value: list[str | None] = []
        self.step_source: list[int] = []
        self.step_line: list[int | None] = []
        self.heart_start: list[str | None] = []
        self.heart_line: list[int | None] = []

    def add_step(
        self, start: str | None, end: str | None, value: str | None, source: int, line: int | None
    ) -> None:
        self.step_start.append(start)
        self.step_end.append(end)
        self.step_value.append(value)
        self.step_source.append(source)
        self.step_line.append(line)
        if len(self.step_start) >= BATCH:
            self.flush()

    def add_heart_rate(self, start: str | None, line: int | None) -> None:
        """A Watch heart-rate sample (other sources' heart rate is not wear evidence)."""
        self.heart_start.append(start)
        self.heart_line.append(line)
        if len(self.heart_start) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Convert and file everything held; log the refused records in file order."""
        refused = self._steps_batch() + self._heart_rate_batch()
        self._clear()
        for _, issue in sorted(refused, key=lambda r: r[0] or 0):
            self._log(issue)

    def _steps_batch(self) -> list[tuple[int | None, Issue]]:
        if not self.step_start:
            return []
        start, start_ok = parse_instants(self.step_start)
        end, end_ok = parse_instants(self.step_end)
        value, value_ok = parse_amounts(self.step_value)
        good = start_ok & end_ok & value_ok & (end >= start) & (end - start <= MAX_SPAN_S)
        source = np.array(self.step_source, dtype=np.int32)
        refused = [
            self._refused(
                "HKQuantityTypeIdentifierStepCount",
                self.step_line[i],
                self.step_start[i],
                self.step_end[i],
                self.step_value[i],
            )
            for i in np.flatnonzero(~good)
        ]
        start, end, value, source = start[good], end[good], value[good], source[good]
        self._steps.extend(start, end, value, source)
        worn = (value > 0) & np.array(self._watch, dtype=bool)[source]
        self._wear.add_steps(start[worn].tolist(), end[worn].tolist())
        return refused

    def _heart_rate_batch(self) -> list[tuple[int | None, Issue]]:
        if not self.heart_start:
            return []
        start, ok = parse_instants(self.heart_start)
        refused = [
            self._refused(
                "HKQuantityTypeIdentifierHeartRate",
                self.heart_line[i],
                self.heart_start[i],
                None,
                None,
            )
            for i in np.flatnonzero(~ok)
        ]
        self._wear.add_heart_rates(list(compress(start.tolist(), ok.tolist())))
        return refused

    def _refused(
        self, kind: str, line: int | None, start: str | None, end: str | None, value: str | None
    ) -> tuple[int | None, Issue]:
        field, text, reason = self._refusal(kind, start, end, value)
        return line, Issue(line, field, text, f"{reason} ({kind})")
