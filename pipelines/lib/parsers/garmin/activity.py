"""Activity files: each `session` becomes a workout; heart rate in `record`s is wear evidence.

FIT times are UTC. The `activity` message's `local_timestamp` gives the
device's clock at the end of the activity, hence its UTC offset.
"""

from __future__ import annotations

import hashlib

from ..spec import Issue
from .fit import FitFile, offset_minutes, utc
from .rows import worn_quarters

# The SDK's profile names (Profile["types"]["sub_sport"] / ["sport"]). A sub-sport
# says more than its sport (training/yoga, fitness_equipment/indoor_walking), so
# it is looked up first; anything in neither table is "other".
SUB_SPORT_KINDS = {
    "yoga": "stretch",
    "flexibility_training": "stretch",
    "pilates": "stability",
    "strength_training": "stability",
    "breathing": "breathing",
    "casual_walking": "walk",
    "speed_walking": "walk",
    "indoor_walking": "walk",
    "indoor_wheelchair_walk": "walk",
}
SPORT_KINDS = {
    "walking": "walk",
    "hiking": "walk",
    "wheelchair_push_walk": "walk",
    "mobility": "stretch",
    "meditation": "breathing",
}
# Garmin counts running/walking strides (one per two steps) in total_strides.
STEPS_PER_STRIDE = 2


def kind(sport: object, sub_sport: object) -> str:
    return SUB_SPORT_KINDS.get(str(sub_sport)) or SPORT_KINDS.get(str(sport)) or "other"


def workouts(fit: FitFile, issues: list[Issue]) -> list[tuple]:
    activity = fit.first("activity")
    offset = offset_minutes(activity.get("local_timestamp"), activity.get("timestamp"))
    file_id = fit.first("file_id")
    rows = []
    for message in fit.of("session"):
        session = message.fields
        start = session.get("start_time")
        if not isinstance(start, int):
            issues.append(
                Issue(
                    message.number,
                    "start_time",
                    None,
                    "session has no start_time, so the workout cannot be placed in time",
                )
            )
            continue
        sport = session.get("sport", "generic")
        sub_sport = session.get("sub_sport", "generic")
        seconds = session.get("total_timer_time", session.get("total_elapsed_time"))
        strides = session.get("total_strides")
        key = f"garmin|{file_id.get('serial_number')}|{file_id.get('time_created')}|{start}"
        rows.append(
            (
                utc(start),
                offset,
                hashlib.sha1(key.encode()).hexdigest(),
                round(seconds) if isinstance(seconds, int | float) else None,
                f"{sport}/{sub_sport}",
                kind(sport, sub_sport),
                session.get("total_distance"),
                float(strides * STEPS_PER_STRIDE) if isinstance(strides, int | float) else None,
            )
        )
    if not fit.of("session"):
        issues.append(
            Issue(
                None,
                "session",
                None,
                "activity file has no session summary (was the recording interrupted?); no workout was taken from it",
                severity="warning",
            )
        )
    return rows


def heart_rate_wear(fit: FitFile) -> list[tuple]:
    """`worn_min` per UTC quarter hour: minutes with a heart-rate reading in a `record`."""
    activity = fit.first("activity")
    offset = offset_minutes(activity.get("local_timestamp"), activity.get("timestamp"))
    beats = (
        m.fields["timestamp"]
        for m in fit.of("record")
        if isinstance(m.fields.get("timestamp"), int) and (m.fields.get("heart_rate") or 0) > 0
    )
    return worn_quarters(beats, offset)
