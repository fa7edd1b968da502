"""The rows Garmin files become: column order of each canonical table, and wear per quarter hour."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .fit import utc

QUARTER_S = 900

INTERVAL_COLUMNS = ("start_utc", "utc_offset_min", "local_day", "duration_s", "metric", "value")
VITAL_COLUMNS = ("start_utc", "utc_offset_min", "metric", "value")
WORKOUT_COLUMNS = (
    "start_utc",
    "utc_offset_min",
    "workout_id",
    "duration_s",
    "activity",
    "kind",
    "distance_m",
    "steps",
)
COLUMNS = {
    "wearable_intervals": INTERVAL_COLUMNS,
    "wearable_vitals": VITAL_COLUMNS,
    "wearable_workouts": WORKOUT_COLUMNS,
}


def worn_quarters(instants: Iterable[float], offset_min: int | None) -> list[tuple]:
    """`worn_min` interval rows: distinct minutes with wear evidence per UTC quarter hour."""
    minutes: dict[int, set[int]] = defaultdict(set)
    for t in instants:
        minute = int(t // 60)
        minutes[minute * 60 // QUARTER_S * QUARTER_S].add(minute)
    return [
        (utc(start), offset_min, None, QUARTER_S, "worn_min", float(len(found)))
        for start, found in sorted(minutes.items())
    ]
