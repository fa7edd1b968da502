"""Apple Health "Export All Health Data" (export.zip or its export.xml) → the canonical wearable tables.

landing/apple_health/<participant_id>/export.zip (or export.xml, also inside an
unzipped apple_health_export/ folder). One file is one cumulative export: every
record the phone holds up to the export date. A newer export of the same person
repeats the older one; staging keeps, per person, source and local day, the
newest export that covers the day. Every row here therefore has an exact
instant (`start_utc`), and sleep a `local_day` where the record's zone is known.

What is read, and into which table (docs/sources/apple_health.md has the detail):
- StepCount → wearable_intervals `steps` per UTC quarter hour, sources merged
  without double counting (steps.py);
- Watch HeartRate and Watch steps → `worn_min` per quarter hour (wear.py);
- ActivitySummary → `active_min` per day (Apple exercise minutes, the Watch's own day);
- SleepAnalysis → wearable_sleep episodes (sleep.py);
- RestingHeartRate, HeartRateVariabilitySDNN → wearable_vitals;
- Workout, MindfulSession → wearable_workouts (workouts.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .parser import SOURCE, SOURCE_NAME, TABLES, parse, read_export

# The parser loads on first use, not with the package: the helper process of halves.py
# imports the reader's modules (records, stream) and needs neither Polars nor the rest.
__all__ = ["SOURCE", "SOURCE_NAME", "TABLES", "parse", "read_export"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import parser

        return getattr(parser, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
