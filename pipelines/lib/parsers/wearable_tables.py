"""The canonical wearable tables every vendor parser writes into raw/.

Vendors disagree on almost everything; staging should not have to know them.
Each parser therefore turns its files into rows of these four tables, and
staging (sql/staging/wearable__*.sql) links them to people, puts them on local
days and applies the precedence rules of docs/sources.md.

Who: `participant_id` (the program's id, from the per-person folder the file
sits in) or, for Fitabase, `fitbit_id` (roster.fitbit_id links it).

When: an instant in UTC (`start_utc`) when the source knows it, otherwise the
participant's local wall-clock time (`start_local`, no zone; Fitabase, Fitbit
archives). `utc_offset_min` keeps the offset the source stated, if any.
`local_day` is set only when the vendor itself assigns a record to a day (Oura's
wake-up date, Fitbit's dateOfSleep, Fitabase daily files); staging otherwise
derives it from the roster's time zone.

Values are numbers in the units named by the column or the `metric`.
"""

from __future__ import annotations

import polars as pl

UTC = pl.Datetime("us", "UTC")
LOCAL = pl.Datetime("us")

PERSON = {
    "participant_id": pl.String,
    "fitbit_id": pl.String,
    "source": pl.String,  # fitabase | fitbit | apple_health | garmin | oura | omh
    "device": pl.String,  # e.g. "Apple Watch", "iPhone", "fenix 5", "Fitbit"; "" when unknown
}
WHEN = {
    "start_utc": UTC,
    "start_local": LOCAL,
    "utc_offset_min": pl.Int32,
    "local_day": pl.Date,
}

# Measurements over an interval, summed per local day by staging.
#   metric        unit     examples
#   steps         steps    Fitabase daily/hourly/minute steps, Apple step samples, Garmin monitoring
#   active_min    minutes  moderate-to-vigorous minutes (Fitabase very + fairly active, Oura medium + high)
#   worn_min      minutes  minutes with wear evidence (heart rate or steps) inside the interval;
#                          a daily row with 0 says "not worn that day"
# duration_s: 60 minute, 900 quarter-hour, 3600 hour, 86400 vendor daily total, or the sample's length.
WEARABLE_INTERVALS = {
    **PERSON,
    **WHEN,
    "duration_s": pl.Int32,
    "metric": pl.String,
    "value": pl.Float64,
}

# Sleep episodes (or, where a vendor gives only a daily total, one row with local_day and no times).
WEARABLE_SLEEP = {
    **PERSON,
    **WHEN,
    "end_utc": UTC,
    "end_local": LOCAL,
    "episode_id": pl.String,  # vendor log id, or a stable hash of source + start
    "minutes_asleep": pl.Int32,
    "minutes_in_bed": pl.Int32,
    "is_main": pl.Boolean,  # vendor's main-sleep flag; null when the vendor does not say
    "sleep_type": pl.String,  # e.g. stages, classic, asleep_core_deep_rem, in_bed_asleep, daily_total
}

# Point or daily physiological values; staging takes the daily mean.
#   resting_hr  beats/min     hrv_sdnn_ms  ms (Apple)     hrv_rmssd_ms  ms (Oura, Fitbit)
WEARABLE_VITALS = {
    **PERSON,
    **WHEN,
    "metric": pl.String,
    "value": pl.Float64,
}

# Workouts the device recorded; staging maps them to sessions and merges them with the app's.
WEARABLE_WORKOUTS = {
    **PERSON,
    **WHEN,
    "workout_id": pl.String,  # vendor id, or a stable hash of source + start
    "duration_s": pl.Int32,
    "activity": pl.String,  # the vendor's own name, e.g. HKWorkoutActivityTypeYoga, "Walk", "training/yoga"
    "kind": pl.String,  # stretch | stability | breathing | walk | other
    "distance_m": pl.Float64,
    "steps": pl.Float64,
}

WEARABLE_TABLES: dict[str, dict[str, pl.DataType]] = {
    "wearable_intervals": WEARABLE_INTERVALS,
    "wearable_sleep": WEARABLE_SLEEP,
    "wearable_vitals": WEARABLE_VITALS,
    "wearable_workouts": WEARABLE_WORKOUTS,
}
SESSION_KINDS = ("stretch", "stability", "breathing", "walk", "other")


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Cast a parser's frame to the canonical schema: missing columns become null, extra ones are an error."""
    schema = WEARABLE_TABLES[table]
    extra = set(frame.columns) - set(schema)
    if extra:
        raise ValueError(f"{table} has no column(s) {sorted(extra)}")
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
    )


def empty(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=WEARABLE_TABLES[table])
