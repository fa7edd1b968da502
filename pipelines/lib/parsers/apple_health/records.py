"""One pass over an export: each element we use is checked and filed into compact collections.

Bulk records (steps, Watch heart rate) are held as text and converted a batch at a
time into typed arrays of a few dozen bytes each (bulk.py); the rest (sleep, vitals,
workouts, activity rings) are small and read one by one. Record types we do
not use (energy, distance, nutrition, …) are skipped unread. A record that
cannot be read becomes an Issue naming its line, and the pass goes on.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import replace
from datetime import date

import numpy as np
from lxml import etree

from ..issue import Issue
from .bulk import BulkRecords
from .clock import parse_instant, stated_offset_min
from .devices import SourceBook
from .sleep import SLEEP_VALUES, SleepSample
from .steps import StepSamples
from .timeline import MAX_SPAN_S
from .wear import WearEvidence, WearSamples
from .workouts import (
    DISTANCE_STATISTICS,
    DISTANCE_UNITS_M,
    DURATION_UNITS_S,
    MINDFUL_SESSION,
    STEP_STATISTICS,
    Workout,
)

STEPS = "HKQuantityTypeIdentifierStepCount"
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
# record type → (metric, unit Apple writes)
VITALS = {
    "HKQuantityTypeIdentifierRestingHeartRate": ("resting_hr", "count/min"),
    "HKQuantityTypeIdentifierHeartRateVariabilitySDNN": ("hrv_sdnn_ms", "ms"),
}
VITAL_METRICS = tuple(metric for metric, _ in VITALS.values())
MAX_ISSUES = 200  # of one kind; the rest are counted in one summary issue


class _BadRecord(Exception):
    def __init__(self, field: str, value: str | None, reason: str) -> None:
        super().__init__(reason)
        self.field, self.value, self.reason = field, value, reason


class IssueLog:
    """Issues as they come, at most MAX_ISSUES of a kind (field, severity, action); the rest are counted."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []
        self._seen: dict[tuple[str | None, str, str], int] = {}

    def add(self, issue: Issue) -> None:
        kind = (issue.field, issue.severity, issue.action)
        self._seen[kind] = self._seen.get(kind, 0) + 1
        if self._seen[kind] <= MAX_ISSUES:
            self.issues.append(issue)

    def absorb(self, later: IssueLog, line_offset: int) -> None:
        """Append the issues of a later part of the file, as if this log had seen them."""
        listed: dict[tuple[str | None, str, str], int] = {}
        for issue in later.issues:
            kind = (issue.field, issue.severity, issue.action)
            listed[kind] = listed.get(kind, 0) + 1
            if self._seen.get(kind, 0) + listed[kind] <= MAX_ISSUES:
                line = None if issue.line is None else issue.line + line_offset
                self.issues.append(replace(issue, line=line))
        for kind, seen in later._seen.items():
            self._seen[kind] = self._seen.get(kind, 0) + seen

    def summary(self) -> list[Issue]:
        return [
            Issue(
                None,
                field,
                None,
                f"{seen - MAX_ISSUES} more records with a problem in {field} are not listed one by one",
                severity,
                action,
            )
            for (field, severity, action), seen in self._seen.items()
            if seen > MAX_ISSUES
        ]


def _instant_of(name: str, text: str | None) -> int:
    try:
        return parse_instant(text)
    except ValueError as err:
        reason = (
            f"{name} is missing"
            if text is None
            else f"{name} must be a date like 2017-03-30 09:29:00 +0200, got {text!r}"
        )
        raise _BadRecord(name, text, reason) from err


def _instant(element: etree._Element, name: str) -> int:
    return _instant_of(name, element.get(name))


def _number_of(name: str, text: str | None, required: bool = True) -> float | None:
    if text is None or not text.strip():
        if required:
            raise _BadRecord(name, text, f"{name} is missing")
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise _BadRecord(name, text, f"{name} must be a number ≥ 0, got {text!r}")
    return value


def _number(element: etree._Element, name: str, required: bool = True) -> float | None:
    return _number_of(name, element.get(name), required)


def _span_of(start_text: str | None, end_text: str | None) -> tuple[int, int]:
    start, end = _instant_of("startDate", start_text), _instant_of("endDate", end_text)
    if end < start:
        raise _BadRecord("endDate", end_text, "endDate is before startDate")
    if end - start > MAX_SPAN_S:
        raise _BadRecord(
            "endDate", end_text, "the sample spans more than 7 days; no device measures that"
        )
    return start, end


def _span(element: etree._Element) -> tuple[int, int]:
    return _span_of(element.get("startDate"), element.get("endDate"))


def _bulk_refusal(
    kind: str, start: str | None, end: str | None, value: str | None
) -> tuple[str, str | None, str]:
    """Why a step or heart-rate record with these texts is refused, as `take` words it."""
    try:
        if kind == STEPS:
            _span_of(start, end)
            _number_of("value", value)
        else:
            _instant_of("startDate", start)
    except _BadRecord as bad:
        return bad.field, bad.value, bad.reason
    raise AssertionError(f"a {kind} record was refused in its batch but is valid alone")


def _time_zone(element: etree._Element) -> str | None:
    for child in element.iterchildren("MetadataEntry"):
        if child.get("key") == "HKTimeZone":
            return child.get("value")
    return None


def _unit(element: etree._Element, expected: str) -> None:
    unit = element.get("unit")
    if unit != expected:
        raise _BadRecord(
            "unit", unit, f"unit must be {expected!r} for {element.get('type')}, got {unit!r}"
        )


class ExportCollector:
    """What one export holds that we use, filled element by element."""

    def __init__(self, wear: WearEvidence | WearSamples | None = None) -> None:
        self.sources = SourceBook()
        self.steps = StepSamples()
        self.wear = wear or WearEvidence()
        self.log = IssueLog()
        self.bulk = BulkRecords(
            self.steps, self.wear, self.sources.watch, _bulk_refusal, self.log.add
        )
        self.sleep: list[SleepSample] = []
        self.vital_metric = array("b")  # index into VITAL_METRICS
        self.vital_time = array("q")
        self.vital_value = array("d")
        self.vital_source = array("i")
        self.vital_zone: list[str | None] = []
        self.workouts: list[Workout] = []
        self.exercise_days: list[tuple[date, float]] = []
        self.export_offset_min: int | None = None
        self.records_read = 0

    def take(self, element: etree._Element) -> None:
        tag = element.tag
        if tag == "Record":
            kind = element.get("type")
            if kind not in _RECORD_HANDLERS:
                return
            handler = _RECORD_HANDLERS[kind]
        elif tag == "Workout":
            handler = ExportCollector._workout
        elif tag == "ActivitySummary":
            handler = ExportCollector._activity_summary
        elif tag == "ExportDate":
            self._export_date(element)
            return
        else:
            return
        self.records_read += 1
        try:
            handler(self, element)
        except _BadRecord as bad:
            what = element.get("type") or element.get("workoutActivityType") or tag
            self.add_issue(
                Issue(element.sourceline, bad.field, bad.value, f"{bad.reason} ({what})")
            )

    def add_issue(self, issue: Issue) -> None:
        """Log an issue after those of the step and heart-rate records before it."""
        self.bulk.flush()
        self.log.add(issue)

    def finish(self) -> None:
        """After the last element: the step and heart-rate records still held are filed."""
        self.bulk.flush()

    def absorb(self, later: ExportCollector, line_offset: int) -> None:
        """Append what a collector of the rest of the file (from line `line_offset` + 1 on)
        holds, as if this one had read on: its sources numbered after these, its issues and
        samples after these, its wear samples (WearSamples) merged into these runs."""
        ids = [self.sources.adopt(source) for source in later.sources.sources]
        self.steps.extend_from(later.steps, np.array(ids, dtype=np.int32))
        later.wear.replay(self.wear)
        self.sleep += [replace(s, source=ids[s.source]) for s in later.sleep]
        self.vital_metric += later.vital_metric
        self.vital_time += later.vital_time
        self.vital_value += later.vital_value
        self.vital_source += array("i", (ids[s] for s in later.vital_source))
        self.vital_zone += later.vital_zone
        self.workouts += [replace(w, source=ids[w.source]) for w in later.workouts]
        self.exercise_days += later.exercise_days
        if self.export_offset_min is None:
            self.export_offset_min = later.export_offset_min
        self.records_read += later.records_read
        self.log.absorb(later.log, line_offset)

    def _source(self, element: etree._Element) -> int:
        return self.sources.id_of(element.get("sourceName"), element.get("device"))

    def _export_date(self, element: etree._Element) -> None:
        text = element.get("value") or ""
        try:
            parse_instant(text)
            self.export_offset_min = stated_offset_min(text)
        except (ValueError, IndexError):
            pass  # only a fallback for grouping sleep by day; records still carry their instants

    def _steps(self, element: etree._Element) -> None:
        get = element.get
        start, end, value = get("startDate"), get("endDate"), get("value")
        source_name, device = get("sourceName"), get("device")
        source = self.sources.known(source_name, device)
        if source is None:
            # a source's first record: checked now, so that a refused one never numbers a source
            _span_of(start, end)
            _number_of("value", value)
            source = self.sources.id_of(source_name, device)
        self.bulk.add_step(start, end, value, source, element.sourceline)

    def _heart_rate(self, element: etree._Element) -> None:
        get = element.get
        if self.sources.watch[self.sources.id_of(get("sourceName"), get("device"))]:
            self.bulk.add_heart_rate(get("startDate"), element.sourceline)

    def _sleep(self, element: etree._Element) -> None:
        start, end = _span(element)
        value = element.get("value")
        if value not in SLEEP_VALUES:
            raise _BadRecord(
                "value", value, f"value must be an HKCategoryValueSleepAnalysis…, got {value!r}"
            )
        state, staged = SLEEP_VALUES[value]
        if (
            self.export_offset_min is None
        ):  # no ExportDate: every date in the file has the same offset
            self.export_offset_min = stated_offset_min(element.get("startDate"))
        self.sleep.append(
            SleepSample(self._source(element), start, end, state, staged, _time_zone(element))
        )

    def _vital(self, element: etree._Element) -> None:
        metric, unit = VITALS[element.get("type")]
        _unit(element, unit)
        value = _number(element, "value")
        instant = _instant(element, "startDate")
        self.vital_metric.append(VITAL_METRICS.index(metric))
        self.vital_time.append(instant)
        self.vital_value.append(value)
        self.vital_source.append(self._source(element))
        self.vital_zone.append(_time_zone(element))

    def _mindful(self, element: etree._Element) -> None:
        start, end = _span(element)
        if end <= start:
            raise _BadRecord("endDate", element.get("endDate"), "the session lasted 0 seconds")
        self.workouts.append(
            Workout(
                self._source(element),
                MINDFUL_SESSION,
                start,
                end,
                float(end - start),
                None,
                None,
                _time_zone(element),
            )
        )

    def _workout(self, element: etree._Element) -> None:
        activity = element.get("workoutActivityType")
        if not activity:
            raise _BadRecord("workoutActivityType", activity, "workoutActivityType is missing")
        start, end = _span(element)
        duration = _number(element, "duration", required=False)
        unit = element.get("durationUnit") or "min"
        if duration is None or unit not in DURATION_UNITS_S:
            duration_s = float(end - start)
        else:
            duration_s = duration * DURATION_UNITS_S[unit]
        if duration_s <= 0:
            raise _BadRecord(
                "duration", element.get("duration"), "the workout lasted 0 seconds: not a session"
            )
        distance = _number(element, "totalDistance", required=False)
        distance_unit = element.get("totalDistanceUnit")
        steps = None
        for child in element.iterchildren("WorkoutStatistics"):
            kind = child.get("type")
            if distance is None and kind in DISTANCE_STATISTICS:
                distance, distance_unit = _number(child, "sum", required=False), child.get("unit")
            elif kind == STEP_STATISTICS:
                steps = _number(child, "sum", required=False)
        distance_m = None
        if distance is not None:
            if distance_unit in DISTANCE_UNITS_M:
                distance_m = distance * DISTANCE_UNITS_M[distance_unit]
            else:
                self.add_issue(
                    Issue(
                        element.sourceline,
                        "totalDistanceUnit",
                        distance_unit,
                        f"distance unit {distance_unit!r} is not one of "
                        f"{', '.join(DISTANCE_UNITS_M)}; the workout landed without its distance",
                        severity="warning",
                        action="column ignored",
                    )
                )
        self.workouts.append(
            Workout(
                self._source(element),
                activity,
                start,
                end,
                duration_s,
                distance_m,
                steps,
                _time_zone(element),
            )
        )

    def _activity_summary(self, element: etree._Element) -> None:
        text = element.get("dateComponents")
        try:
            day = date.fromisoformat(text or "")
        except ValueError as err:
            raise _BadRecord(
                "dateComponents", text, f"dateComponents must be a date YYYY-MM-DD, got {text!r}"
            ) from err
        exercise = _number(element, "appleExerciseTime", required=False)
        stand = _number(element, "appleStandHours", required=False)
        # both rings empty: the Watch was off the wrist (or there is no Watch) — unknown, not 0 minutes
        if (exercise or 0) > 0 or (stand or 0) > 0:
            self.exercise_days.append((day, exercise or 0.0))


_RECORD_HANDLERS = {
    STEPS: ExportCollector._steps,
    HEART_RATE: ExportCollector._heart_rate,
    SLEEP: ExportCollector._sleep,
    MINDFUL_SESSION: ExportCollector._mindful,
    **{kind: ExportCollector._vital for kind in VITALS},
}
