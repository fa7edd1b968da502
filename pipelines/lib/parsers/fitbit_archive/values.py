"""Reading one field of one archive record, and saying clearly what was wrong with it.

The archive writes numbers sometimes as JSON numbers, sometimes as strings
("value": "12"), and times in three shapes: "MM/DD/YY HH:MM:SS" (archive),
"YYYY-MM-DDTHH:MM:SS.000" (sleep logs) and "YYYY-MM-DD HH:MM:SS" (PMData's
re-formatted files). None of them carries a zone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from ..spec import Issue

SOURCE_NAME = "fitbit"
DEVICE = "Fitbit"  # the archive names a device only on exercise logs

TIME_FORMATS = (
    "%m/%d/%y %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
)
# the same shapes for Polars (%.f: an optional fraction)
POLARS_TIME_FORMATS = ("%m/%d/%y %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S")
TIME_SHAPES = "MM/DD/YY HH:MM:SS, YYYY-MM-DDTHH:MM:SS[.fff] or YYYY-MM-DD HH:MM:SS"


class Invalid(ValueError):
    """A field that cannot be read: `reason` finishes the sentence "<field> ..."."""

    def __init__(self, field_name: str, value: Any, reason: str) -> None:
        super().__init__(f"{field_name} {reason}")
        self.field_name = field_name
        self.value = value
        self.reason = reason


def shown(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 200 else text[:197] + "..."


def parse_time(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    text = text.strip()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    return None


def parse_day(text: Any) -> date | None:
    """A day from "YYYY-MM-DD" or the date part of any archive time."""
    if isinstance(text, str):
        try:
            return date.fromisoformat(text.strip())
        except ValueError:
            pass
    moment = parse_time(text)
    return moment.date() if moment else None


def parse_number(value: Any) -> float | None:
    """A finite number from a JSON number or a numeric string; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def required_time(record: dict, name: str) -> datetime:
    raw = record.get(name)
    if raw is None:
        raise Invalid(name, raw, "is missing")
    moment = parse_time(raw)
    if moment is None:
        raise Invalid(name, raw, f"must be a time like {TIME_SHAPES}")
    return moment


def optional_number(record: dict, name: str, low: float = 0) -> float | None:
    raw = record.get(name)
    if raw is None or raw == "":
        return None
    number = parse_number(raw)
    if number is None or number < low:
        raise Invalid(name, raw, f"must be a number ≥ {low:g}")
    return number


def required_number(record: dict, name: str, low: float = 0) -> float:
    number = optional_number(record, name, low)
    if number is None:
        raise Invalid(name, record.get(name), "is missing")
    return number


def optional_bool(record: dict, name: str) -> bool | None:
    raw = record.get(name)
    if raw is None:
        return None
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in ("true", "false"):
        return raw.strip().lower() == "true"
    raise Invalid(name, raw, "must be true or false")


@dataclass
class FileReport:
    """What one file's parse found wrong, and how many records it read."""

    issues: list[Issue] = field(default_factory=list)
    rows_read: int = 0

    def bad_record(self, number: int, err: Invalid) -> None:
        self.issues.append(
            Issue(
                line=number,
                field=err.field_name,
                value=shown(err.value),
                reason=f"record {number}: {err.field_name} {err.reason}",
            )
        )

    def ignored_field(self, number: int, err: Invalid) -> None:
        """The record lands without this field."""
        self.issues.append(
            Issue(
                line=number,
                field=err.field_name,
                value=shown(err.value),
                reason=f"record {number}: {err.field_name} {err.reason}; the record landed without it",
                severity="warning",
                action="column ignored",
            )
        )

    def not_an_object(self, number: int, record: Any) -> None:
        self.bad_record(number, Invalid("record", record, "must be a JSON object"))


def frame(table_columns: dict[str, list], **constants: Any) -> pl.DataFrame:
    """A frame from column lists plus columns holding one value on every row."""
    height = len(next(iter(table_columns.values()))) if table_columns else 0
    columns = dict(table_columns)
    for name, value in constants.items():
        columns[name] = [value] * height
    return pl.DataFrame(columns)
