"""The Apple Health parser: one export, read in one pass or in halves, → the canonical wearable
tables (the package's docstring says what is read, and into which table)."""

from __future__ import annotations

import zipfile
import zlib

import polars as pl
from lxml import etree

from ...apple_health_half import read
from ..source import LandingFile, Parsed, Source
from ..spec import Issue
from ..wearable_tables import WEARABLE_TABLES, conform
from .clock import zone_offset_min
from .halves import read_in_halves
from .records import VITAL_METRICS, ExportCollector
from .sleep import sleep_episodes
from .steps import quarter_hour_steps
from .stream import ExportRefused
from .timeline import epoch_to_utc
from .wear import quarter_hour_wear
from .workouts import workout_rows

SOURCE_NAME = "apple_health"
TABLES = ("wearable_intervals", "wearable_sleep", "wearable_vitals", "wearable_workouts")


def _quarantined(reason: str) -> Parsed:
    return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)


def read_export(landing: LandingFile) -> ExportCollector:
    """Stream the export once into an ExportCollector; ExportRefused if it cannot be read.

    A large export is read in two halves at once (halves.py), with the same outcome."""
    halves = read_in_halves(landing.path)
    collector, blanked = halves if halves is not None else _read_in_one_pass(landing)
    if blanked:
        collector.log.add(
            Issue(
                None,
                None,
                str(blanked),
                f"{blanked} control character(s) that XML forbids (an iOS 16 "
                "export bug) were read as spaces",
                severity="warning",
                action="column ignored",
            )
        )
    return collector


def _read_in_one_pass(landing: LandingFile) -> tuple[ExportCollector, int]:
    try:
        return read(landing.path, ExportCollector())
    except etree.XMLSyntaxError as err:
        # with resolve_entities=False lxml's own message can be empty; libxml2's log has the cause
        last = err.error_log.last_error if err.error_log else None
        line, message = (last.line, last.message.strip()) if last else (err.lineno, err.msg)
        raise ExportRefused(
            f"export.xml is not well-formed XML at line {line} ({message}); the file is "
            "probably truncated or not an Apple Health export — re-export it from the Health app"
        ) from err
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise ExportRefused(f"the zip is corrupt ({err}); re-send the export.zip") from err


def _who(frame: pl.DataFrame, participant_id: str) -> pl.DataFrame:
    return frame.with_columns(participant_id=pl.lit(participant_id), source=pl.lit(SOURCE_NAME))


def _intervals(collector: ExportCollector) -> pl.DataFrame:
    parts = [
        quarter_hour_steps(collector.steps, collector.sources.sources),
        quarter_hour_wear(collector.wear),
    ]
    if collector.exercise_days:
        days, minutes = zip(*collector.exercise_days, strict=True)
        parts.append(
            pl.DataFrame({"local_day": list(days), "value": list(minutes)})
            .unique("local_day", keep="last", maintain_order=True)
            .with_columns(
                start_local=pl.col("local_day").cast(pl.Datetime("us")),
                duration_s=pl.lit(86400, pl.Int32),
                metric=pl.lit("active_min"),
                device=pl.lit("Apple Watch"),
            )
        )
    parts = [conform("wearable_intervals", p) for p in parts if not p.is_empty()]
    return pl.concat(parts) if parts else pl.DataFrame(schema=WEARABLE_TABLES["wearable_intervals"])


def _vitals(collector: ExportCollector) -> pl.DataFrame:
    sources = collector.sources
    if not collector.vital_time:
        return pl.DataFrame()
    return (
        pl.DataFrame(
            {
                "metric": [VITAL_METRICS[m] for m in collector.vital_metric],
                "start": pl.Series(collector.vital_time, dtype=pl.Int64),
                "value": pl.Series(collector.vital_value, dtype=pl.Float64),
                "device": [sources[s].label for s in collector.vital_source],
                "utc_offset_min": [
                    zone_offset_min(zone, t)
                    for zone, t in zip(collector.vital_zone, collector.vital_time, strict=True)
                ],
            },
            schema_overrides={"utc_offset_min": pl.Int32},
        )
        .unique(maintain_order=True)
        .sort("start", "metric")
        .with_columns(start_utc=epoch_to_utc("start"))
        .drop("start")
    )


def parse(landing: LandingFile) -> Parsed:
    try:
        collector = read_export(landing)
    except ExportRefused as refused:
        return _quarantined(str(refused))
    sources = collector.sources.sources
    export_offset = collector.export_offset_min or 0
    frames = {
        "wearable_intervals": _intervals(collector),
        "wearable_sleep": sleep_episodes(collector.sleep, sources, export_offset),
        "wearable_vitals": _vitals(collector),
        "wearable_workouts": workout_rows(collector.workouts, sources),
    }
    tables = {
        table: conform(table, _who(frame, landing.participant_id))
        if not frame.is_empty()
        else pl.DataFrame(schema=WEARABLE_TABLES[table])
        for table, frame in frames.items()
    }
    issues = collector.log.issues + collector.log.summary()
    return Parsed(tables, issues, collector.records_read)


SOURCE = Source(
    name=SOURCE_NAME,
    folder=SOURCE_NAME,
    patterns=(
        "apple_health/*/**/export.zip",
        "apple_health/*/**/export.xml",
        # directly under apple_health/: found only to be quarantined with a hint to move them
        "apple_health/export.zip",
        "apple_health/export.xml",
    ),
    outputs={table: WEARABLE_TABLES[table] for table in TABLES},
    parse=parse,
    description="Apple Health exports: steps, Watch wear, exercise minutes, sleep, resting HR, HRV, workouts",
    per_person=True,
    identifiers=("participant_id",),
    cumulative=True,  # every export repeats all earlier data: the newest export of a day wins
)

__all__ = ["SOURCE", "SOURCE_NAME", "parse", "read_export"]
