"""Minute steps and ~5-second heart rate: steps per minute and wear per quarter hour.

Both files hold UTC times without saying so (see docs/sources/fitbit.md for
the evidence), so rows carry `start_utc`. They are large — a month of minutes,
or PMData's 120 MB merged heart rate — so records are streamed and checked in
chunks with Polars rather than one by one in Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from ..spec import Issue
from ..wear import worn_from_heart_rate, worn_from_steps
from ..wearable_tables import conform, empty
from .json_array import iter_json_array
from .values import DEVICE, POLARS_TIME_FORMATS, SOURCE_NAME, TIME_SHAPES, FileReport, shown

_CHUNK_RECORDS = 200_000
_BPM_RANGE = (20, 300)


def _steps_value(record: dict) -> Any:
    return record.get("value")


def _bpm_value(record: dict) -> Any:
    value = record.get("value")
    return value.get("bpm") if isinstance(value, dict) else value


class _Chunks:
    """Checks records a chunk at a time and keeps only what the output needs."""

    def __init__(self, kind: str, report: FileReport) -> None:
        self.kind = kind
        self.report = report
        self.value_field = "value" if kind == "steps" else "value.bpm"
        self.numbers: list[int] = []
        self.times: list[str | None] = []
        self.values: list[str | None] = []
        self.steps: list[pl.DataFrame] = []  # minutes with steps > 0
        self.minutes: list[pl.Series] = []  # distinct minutes with wear evidence

    def add(self, number: int, time: Any, value: Any) -> None:
        self.numbers.append(number)
        self.times.append(None if time is None else str(time))
        self.values.append(None if value is None else str(value))
        if len(self.numbers) >= _CHUNK_RECORDS:
            self.flush()

    def flush(self) -> None:
        if not self.numbers:
            return
        chunk = pl.DataFrame(
            {"record": self.numbers, "time_text": self.times, "value_text": self.values},
            schema={"record": pl.Int64, "time_text": pl.String, "value_text": pl.String},
        )
        self.numbers, self.times, self.values = [], [], []
        text = pl.col("time_text").str.strip_chars()
        value = pl.col("value_text").str.strip_chars().cast(pl.Float64, strict=False)
        if self.kind == "steps":
            value_ok = value.is_finite() & (value >= 0)
        else:
            value_ok = value.is_finite() & value.is_between(*_BPM_RANGE)
        checked = chunk.with_columns(
            time=pl.coalesce(text.str.to_datetime(f, strict=False) for f in POLARS_TIME_FORMATS),
            value=value,
            value_ok=value_ok.fill_null(False),
        )
        broken = checked.filter(pl.col("time").is_null() | ~pl.col("value_ok"))
        for number, time_text, time, value_text, ok in broken.select(
            "record", "time_text", "time", "value_text", "value_ok"
        ).iter_rows():
            if time is None:
                self._issue(number, "dateTime", time_text, f"must be a time like {TIME_SHAPES}")
            if not ok:
                wanted = "a number ≥ 0" if self.kind == "steps" else "a heart rate 20–300 bpm"
                self._issue(number, self.value_field, value_text, f"must be {wanted}")
        good = checked.filter(pl.col("time").is_not_null() & pl.col("value_ok"))
        if self.kind == "steps":
            self.steps.append(good.select("time", "value"))
        else:
            self.minutes.append(good["time"].dt.truncate("1m").unique())

    def _issue(self, number: int, field_name: str, raw: str | None, reason: str) -> None:
        self.report.issues.append(
            Issue(
                line=number,
                field=field_name,
                value=shown(raw),
                reason=f"record {number}: {field_name} {'is missing' if raw is None else reason}",
            )
        )


def _worn_rows(worn: pl.DataFrame) -> pl.DataFrame:
    return worn.select("start", duration_s=pl.lit(900), metric=pl.lit("worn_min"), value="value")


def parse_intraday(path: Path, kind: str, participant_id: str, report: FileReport) -> pl.DataFrame:
    """wearable_intervals rows: steps per minute and worn_min per quarter hour.

    Wear comes from heart-rate minutes, or from steps by the non-wear rule of `parsers.wear`.
    """
    chunks = _Chunks(kind, report)
    value_of = _steps_value if kind == "steps" else _bpm_value
    for number, record in iter_json_array(path):
        report.rows_read = number
        if isinstance(record, dict):
            chunks.add(number, record.get("dateTime"), value_of(record))
        else:
            report.not_an_object(number, record)
    chunks.flush()

    parts = []
    if kind == "steps" and chunks.steps:
        minutes = (
            pl.concat(chunks.steps)
            .unique("time", keep="last", maintain_order=True)  # a minute repeated across months
            .sort("time")
        )
        steps = minutes.filter(pl.col("value") > 0).select(
            start=pl.col("time"), duration_s=pl.lit(60), metric=pl.lit("steps"), value="value"
        )
        worn = worn_from_steps(minutes["time"], minutes["value"])
        parts += [steps, _worn_rows(worn)]
    if chunks.minutes:
        parts.append(_worn_rows(worn_from_heart_rate(pl.concat(chunks.minutes))))
    if not parts:
        return empty("wearable_intervals")
    rows = pl.concat(parts).sort("metric", "start")
    return conform(
        "wearable_intervals",
        rows.select(
            participant_id=pl.lit(participant_id),
            source=pl.lit(SOURCE_NAME),
            device=pl.lit(DEVICE),
            start_utc=pl.col("start").dt.replace_time_zone("UTC"),
            duration_s="duration_s",
            metric="metric",
            value="value",
        ),
    )


def parse_steps(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    return parse_intraday(path, "steps", participant_id, report)


def parse_heart_rate(path: Path, participant_id: str, report: FileReport) -> pl.DataFrame:
    return parse_intraday(path, "heart_rate", participant_id, report)
