"""Garmin FIT files: `landing/garmin/<participant_id>/**/*.fit`.

Decoded with Garmin's FIT SDK. What a file becomes depends on its declared
type (`file_id.type`):
- activity                  → wearable_workouts (one row per session) and
                              worn_min from the heart rate recorded during it;
- monitoring_a/monitoring_b → step intervals and worn_min (wearable_intervals),
                              resting heart rate (wearable_vitals);
- anything else (settings, weight, sport, workout plans, …) holds nothing
  the program uses: the file loads with no rows and no issue.

FIT times are UTC; the device's offset comes from `activity.local_timestamp`
or `monitoring_info.local_timestamp`. See docs/sources/garmin.md.
"""

from __future__ import annotations

import polars as pl

from ..source import LandingFile, Parsed, Source
from ..spec import Issue
from ..wearable_tables import WEARABLE_TABLES, conform
from . import activity, monitoring
from .fit import FitError, read_fit
from .rows import COLUMNS

SOURCE_NAME = "garmin"
MONITORING_TYPES = ("monitoring_a", "monitoring_b")
TABLES = ("wearable_intervals", "wearable_vitals", "wearable_workouts")


def parse(landing: LandingFile) -> Parsed:
    try:
        fit = read_fit(landing.path)
    except FitError as err:
        return Parsed({}, [Issue(None, None, None, str(err), action="file quarantined")], 0)

    issues = [
        Issue(None, None, None, w, severity="warning", action="column ignored")
        for w in fit.warnings
    ]
    rows: dict[str, list[tuple]] = {table: [] for table in TABLES}
    if fit.file_type == "activity":
        rows["wearable_workouts"] = activity.workouts(fit, issues)
        rows["wearable_intervals"] = activity.heart_rate_wear(fit)
    elif fit.file_type in MONITORING_TYPES:
        found = monitoring.read_monitoring(fit, issues)
        rows["wearable_intervals"], rows["wearable_vitals"] = found.intervals, found.vitals

    person = {"participant_id": landing.participant_id, "source": SOURCE_NAME, "device": fit.device}
    tables = {
        table: conform(
            table,
            pl.DataFrame(rows[table], schema=_schema(table), orient="row").with_columns(
                pl.lit(value).alias(name) for name, value in person.items()
            ),
        )
        for table in TABLES
    }
    return Parsed(tables, issues, rows_read=len(fit.messages))


def _schema(table: str) -> dict[str, pl.DataType]:
    return {name: WEARABLE_TABLES[table][name] for name in COLUMNS[table]}


SOURCE = Source(
    name=SOURCE_NAME,
    folder=SOURCE_NAME,
    patterns=("garmin/**/*.fit", "garmin/**/*.FIT"),
    outputs={table: WEARABLE_TABLES[table] for table in TABLES},
    parse=parse,
    description="Garmin FIT files: activities (workouts) and all-day monitoring (steps, wear, resting HR)",
    per_person=True,
    cumulative=False,  # every FIT file is its own recording, never a repeat of earlier ones
    identifiers=("participant_id",),
)
