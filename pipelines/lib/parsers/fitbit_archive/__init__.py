"""Fitbit account archive JSON (per-day/per-month files) and PMData's merged arrays.

Files sit under `landing/fitbit/<participant_id>/`, in any sub-folders the
archive brings (`Physical Activity/`, `Global Export Data/`, PMData's
`fitbit/`). The file name says what a file holds, with or without the
archive's `-YYYY-MM-DD` (or exercise's `-N`) suffix:

| file                          | becomes                                                   |
|-------------------------------|-----------------------------------------------------------|
| steps                         | intervals: steps per minute, worn_min per quarter hour    |
| heart_rate                    | intervals: worn_min per quarter hour                      |
| very/moderately_active_minutes| intervals: active_min per day (the two summed)            |
| resting_heart_rate            | vitals: resting_hr per day                                |
| sleep                         | sleep episodes                                            |
| exercise                      | workouts                                                  |

Every other archive file (calories, distance, sedentary/lightly active
minutes, heart-rate zones, sleep_score.csv, …) is not matched at all.
Clocks differ by file — see docs/sources/fitbit.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl

from ..source import LandingFile, Parsed, Source
from ..spec import Issue
from ..wearable_tables import WEARABLE_TABLES
from .daily import ACTIVE_MINUTE_FILES, parse_active_minutes, parse_resting_heart_rate
from .intraday import parse_heart_rate, parse_steps
from .json_array import NotAJsonArray
from .logs import parse_exercise, parse_sleep, workout_kind
from .values import SOURCE_NAME, FileReport

Reader = Callable[[Path, str, FileReport], pl.DataFrame]

# file kind → (table it writes, reader)
_READERS: dict[str, tuple[str, Reader]] = {
    "steps": ("wearable_intervals", parse_steps),
    "heart_rate": ("wearable_intervals", parse_heart_rate),
    "resting_heart_rate": ("wearable_vitals", parse_resting_heart_rate),
    "sleep": ("wearable_sleep", parse_sleep),
    "exercise": ("wearable_workouts", parse_exercise),
    **{name: ("wearable_intervals", parse_active_minutes) for name in ACTIVE_MINUTE_FILES},
}

PATTERNS = tuple(
    pattern
    for kind in _READERS
    for pattern in (f"fitbit/**/{kind}.json", f"fitbit/**/{kind}-*.json")
)


def file_kind(name: str) -> str | None:
    """steps-2020-01-01.json, steps.json → "steps"; None for files this source does not read."""
    for kind in _READERS:
        if name == f"{kind}.json" or (name.startswith(f"{kind}-") and name.endswith(".json")):
            return kind
    return None


def _file_issue(reason: str) -> Issue:
    return Issue(None, None, None, reason, action="file quarantined")


def parse(landing: LandingFile) -> Parsed:
    kind = file_kind(landing.path.name)
    if kind is None:
        return Parsed({}, [_file_issue("not a Fitbit archive file this source reads")], 0)
    table, reader = _READERS[kind]
    report = FileReport()
    try:
        rows = reader(landing.path, landing.participant_id, report)
    except NotAJsonArray as err:
        reason = f"not a readable Fitbit archive file: {err} (at character {err.offset})"
        return Parsed({}, [_file_issue(reason)], report.rows_read)
    except UnicodeDecodeError as err:
        reason = f"not UTF-8 text (byte {err.start}); Fitbit archive files are UTF-8 JSON"
        return Parsed({}, [_file_issue(reason)], report.rows_read)
    issues = sorted(report.issues, key=lambda i: (i.line or 0, i.field or ""))
    return Parsed({table: rows}, issues, report.rows_read)


SOURCE = Source(
    name=SOURCE_NAME,
    folder="fitbit",
    patterns=PATTERNS,
    outputs={t: WEARABLE_TABLES[t] for t in sorted({table for table, _ in _READERS.values()})},
    parse=parse,
    description=(
        "Fitbit account archive JSON and PMData merged arrays: minute steps, heart rate (wear), "
        "active minutes, resting heart rate, sleep logs, exercise logs"
    ),
    per_person=True,
    identifiers=("participant_id",),
)

__all__ = ["PATTERNS", "SOURCE", "file_kind", "parse", "workout_kind"]
