"""Workouts (and Breathe/mindfulness sessions) as wearable_workouts rows.

`<Workout workoutActivityType="HKWorkoutActivityTypeYoga" duration="30" durationUnit="min"
totalDistance="2.1" totalDistanceUnit="km" startDate=… endDate=…>`. Exports since
iOS 16 may leave out totalDistance and put per-quantity sums in
`<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" sum=… unit=…>`
children instead; both are read. HKCategoryTypeIdentifierMindfulSession records
(the Watch's Breathe/Mindfulness app, Headspace, Calm…) become breathing sessions.

Several apps may log the same workout (a Watch run also imported into Strava).
Within one export, workouts overlapping by at least half of the shorter one are
the same session: the best-ranked source (Watch > iPhone > other apps), then the
longer record, is kept.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .clock import to_datetime, zone_offset_min
from .devices import SourceInfo

if TYPE_CHECKING:  # Polars loads in the functions that make frames (apple_health_half.py)
    import polars as pl

_PREFIX = "HKWorkoutActivityType"
# Apple's activity type (without the prefix) → session kind; anything else is "other".
KINDS = {
    "Yoga": "stretch",
    "Flexibility": "stretch",
    "MindAndBody": "stretch",
    "Cooldown": "stretch",
    "PreparationAndRecovery": "stretch",
    "CoreTraining": "stability",
    "FunctionalStrengthTraining": "stability",
    "TraditionalStrengthTraining": "stability",
    "Pilates": "stability",
    "Barre": "stability",
    "Walking": "walk",
    "Hiking": "walk",
}
MINDFUL_SESSION = "HKCategoryTypeIdentifierMindfulSession"

DURATION_UNITS_S = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hr": 3600, "ms": 0.001}
DISTANCE_UNITS_M = {"m": 1.0, "km": 1000.0, "mi": 1609.344, "ft": 0.3048, "yd": 0.9144, "cm": 0.01}
DISTANCE_STATISTICS = {
    "HKQuantityTypeIdentifierDistanceWalkingRunning",
    "HKQuantityTypeIdentifierDistanceCycling",
    "HKQuantityTypeIdentifierDistanceSwimming",
    "HKQuantityTypeIdentifierDistanceWheelchair",
    "HKQuantityTypeIdentifierDistanceDownhillSnowSports",
    "HKQuantityTypeIdentifierDistanceCrossCountrySkiing",
    "HKQuantityTypeIdentifierDistancePaddleSports",
    "HKQuantityTypeIdentifierDistanceRowing",
    "HKQuantityTypeIdentifierDistanceSkatingSports",
}
STEP_STATISTICS = "HKQuantityTypeIdentifierStepCount"
SAME_SESSION_SHARE = 0.5


def kind_of(activity: str) -> str:
    if activity == MINDFUL_SESSION:
        return "breathing"
    return KINDS.get(activity.removeprefix(_PREFIX), "other")


@dataclass(frozen=True, slots=True)
class Workout:
    source: int
    activity: str
    start: int
    end: int
    duration_s: float
    distance_m: float | None
    steps: float | None
    zone: str | None


def _until(w: Workout) -> float:
    # some apps write endDate = startDate and only a duration
    return w.end if w.end > w.start else w.start + w.duration_s


def _same_session(a: Workout, b: Workout) -> bool:
    overlap = min(_until(a), _until(b)) - max(a.start, b.start)
    shorter = min(a.duration_s, b.duration_s)
    return overlap > 0 and overlap >= SAME_SESSION_SHARE * max(shorter, 1)


def workout_rows(workouts: list[Workout], sources: list[SourceInfo]) -> pl.DataFrame:
    """Rows of wearable_workouts (without who-columns), one per distinct session."""
    import polars as pl

    ranked = sorted(
        set(workouts),
        key=lambda w: (-sources[w.source].rank, -w.duration_s, w.start, w.activity),
    )
    kept: list[Workout] = []
    kept_starts: list[int] = []  # sorted, to look only at workouts starting within a day
    for workout in ranked:
        lo = bisect_left(kept_starts, workout.start - 86400)
        hi = bisect_right(kept_starts, workout.start + 86400)
        if not any(_same_session(workout, other) for other in kept[lo:hi]):
            at = bisect_right(kept_starts, workout.start)
            kept_starts.insert(at, workout.start)
            kept.insert(at, workout)
    rows = [
        {
            "device": sources[w.source].label,
            "start_utc": to_datetime(w.start),
            "utc_offset_min": zone_offset_min(w.zone, w.start),
            "workout_id": hashlib.sha1(
                f"apple_health|{sources[w.source].name}|{w.activity}|{w.start}".encode()
            ).hexdigest(),
            "duration_s": round(w.duration_s),
            "activity": w.activity,
            "kind": kind_of(w.activity),
            "distance_m": w.distance_m,
            "steps": w.steps,
        }
        for w in sorted(kept, key=lambda w: w.start)
    ]
    return pl.DataFrame(rows) if rows else pl.DataFrame()
