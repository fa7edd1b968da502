"""Field-level export specs and their validation.

An `Entity` says which landing files hold it and what each column must look
like. `validate` checks a whole file at once (Polars expressions) and returns
the rows that keep to the spec plus one `Issue` per broken field, so a bad row
is quarantined with a reason that names file, line and field while the rest of
the file still lands.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from functools import cache

import polars as pl

from .issue import Issue
from .runs import per_run
from .us_datetime import parse_us_datetime

# Column names added to every raw row.
LINEAGE_COLUMNS = ("source_file", "file_sha256", "row_number", "ingested_at")


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "text"  # text | int | decimal | bool | date | us_date | us_datetime | timestamp_tz | enum | timezone
    required: bool = False
    identifier: bool = False  # personal identifier: pseudonymised before it leaves staging
    low: float | None = None
    high: float | None = None
    values: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.kind == "int" and self.low is not None and self.high is not None:
            return f"an integer {self.low:g}–{self.high:g}"
        if self.kind == "int" and self.low is not None:
            return f"an integer ≥ {self.low:g}"
        return {
            "int": "an integer",
            "decimal": "a number",
            "bool": "true or false",
            "date": "a date YYYY-MM-DD",
            "us_date": "a date M/D/YYYY",
            "us_datetime": "a time M/D/YYYY h:mm:ss AM/PM",
            "timestamp_tz": "an ISO 8601 time with a UTC offset (e.g. 2026-03-02T07:15:00-06:00)",
            "enum": "one of " + ", ".join(self.values),
            "timezone": "an IANA time zone name (e.g. America/Chicago)",
            "text": "text",
        }[self.kind]


@dataclass(frozen=True)
class Entity:
    """One kind of record in one source, e.g. the app's sessions."""

    name: str  # raw table name, e.g. app_sessions
    source: str  # landing folder, e.g. app
    patterns: tuple[str, ...]  # globs relative to landing/
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    # Columns a vendor writes that we knowingly do not use (not reported as unknown).
    ignored: tuple[str, ...] = ()
    description: str = ""
    # bump when the fields change, so files already parsed are parsed again
    version: str = "1"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)

    @property
    def identifiers(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.identifier)


ISSUE_SCHEMA = {
    "line": pl.Int64,
    "field": pl.String,
    "value": pl.String,
    "reason": pl.String,
    "severity": pl.String,
    "action": pl.String,
}


def issues_frame(issues: list[Issue]) -> pl.DataFrame:
    return pl.DataFrame(
        [(i.line, i.field, i.value, i.reason, i.severity, i.action) for i in issues],
        schema=ISSUE_SCHEMA,
        orient="row",
    )


@cache
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


_INT = r"^[+-]?\d+$"
_DECIMAL = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_US_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
_TIMESTAMP_TZ = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"


def _is_valid(value: pl.Expr, f: Field, strip: bool = True) -> pl.Expr:
    """True where a present (non-null) value keeps to the field's type (`strip`: as it reads
    without surrounding whitespace, which is the rule; False only for `_as_written`)."""
    v = value.str.strip_chars() if strip else value
    match f.kind:
        case "text":
            return pl.lit(True)
        case "int":
            ok = v.str.contains(_INT)
            number = v.cast(pl.Int64, strict=False)
            if f.low is not None:
                ok = ok & (number >= f.low)
            if f.high is not None:
                ok = ok & (number <= f.high)
            return ok.fill_null(False)
        case "decimal":
            ok = v.str.contains(_DECIMAL)
            number = v.cast(pl.Float64, strict=False)
            if f.low is not None:
                ok = ok & (number >= f.low)
            if f.high is not None:
                ok = ok & (number <= f.high)
            return ok.fill_null(False)
        case "bool":
            return v.str.to_lowercase().is_in(["true", "false"])
        case "date":
            return v.str.contains(_ISO_DATE) & v.str.to_date("%Y-%m-%d", strict=False).is_not_null()
        case "us_date":
            return v.str.contains(_US_DATE) & v.str.to_date("%m/%d/%Y", strict=False).is_not_null()
        case "us_datetime":  # parsed once, before the checks (`validate`)
            return pl.col(time_column(f.name)).is_not_null()
        case "timestamp_tz":
            parsed = v.str.replace(" ", "T").str.to_datetime(
                "%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC", strict=False
            )
            return v.str.contains(_TIMESTAMP_TZ) & parsed.is_not_null()
        case "enum":
            return v.is_in(list(f.values))
        case "timezone":
            return v.is_in(list(_timezones()))
    raise ValueError(f"unknown field kind {f.kind!r}")


# Kinds whose check, applied to a value as written, passes it only if it has no surrounding
# whitespace (anchored patterns) or strips it itself: a pass then is the rule's pass.
_ANCHORED = frozenset({"decimal", "date", "us_date", "us_datetime", "timestamp_tz"})


def _maybe_broken(frame: pl.DataFrame, f: Field) -> pl.Series:
    """A superset of the rows `validate` reports for the field, cheaper to find than they
    are: values as written that do not pass (no copy of every value stripped)."""
    value = pl.col(f.name)
    if f.kind == "int":
        # Polars casts only [+-]?[0-9]+ (tests/unit/test_us_datetime.py), a subset of _INT
        number = value.cast(pl.Int64, strict=False)  # null where it does not cast
        if f.low is not None and f.high is not None:
            ok = number.is_between(f.low, f.high)
        elif f.low is not None:
            ok = number >= f.low
        elif f.high is not None:
            ok = number <= f.high
        else:
            ok = number.is_not_null()
        maybe = (~ok).fill_null(True)
    elif f.kind == "us_datetime":  # parsed before the checks: null where absent or broken
        return frame[time_column(f.name)].is_null()
    elif f.kind in _ANCHORED:
        maybe = value.is_null() | ~_is_valid(value, f, strip=False)
    elif f.kind == "text" and f.required:
        return per_run(frame[f.name], lambda v: v.is_null() | (v.str.strip_chars() == ""))
    else:  # an optional text is never broken; other kinds are checked as the rule says
        return pl.repeat(f.kind != "text", frame.height, dtype=pl.Boolean, eager=True)
    return frame.select(maybe.alias("maybe")).to_series()


def time_column(name: str) -> str:
    """The column `validate` puts the parsed value of a `us_datetime` field in."""
    return f"{name}:parsed"


class NeedsText(Exception):
    """A field read as numbers holds a value to report, which needs the text as written."""


def validate(
    frame: pl.DataFrame,
    entity: Entity,
    times: bool = False,
    not_blank: frozenset[str] = frozenset(),
) -> tuple[pl.DataFrame, list[Issue]]:
    """Split parsed text rows into those that keep to the spec and per-field issues.

    `frame` has one text column per header column plus `row_number` (the line in
    the file). Any broken field quarantines its whole row: a value out of range
    often means a shifted column, and half a record is worse than none. `times`:
    keep each `us_datetime` field's parsed value in `time_column(name)` of the rows
    returned (a minute-level parser needs them; parsing is most of checking them).
    `not_blank`: text fields the caller knows hold a non-blank value on every row.
    An `int` field may come as integers already (a fast reader's); if one of them is
    missing or out of range, NeedsText: read the rows as text to report it.
    """
    issues: list[Issue] = []
    bad_rows: set[int] = set()
    parsed = [f.name for f in entity.fields if f.kind == "us_datetime" and f.name in frame.columns]
    frame = frame.with_columns(
        parse_us_datetime(frame[name]).alias(time_column(name)) for name in parsed
    )
    for f in entity.fields:
        if f.name not in frame.columns or (f.kind == "text" and f.name in not_blank):
            continue
        maybe = _maybe_broken(frame, f)
        if not maybe.any():  # (each Polars call costs ~0.2 ms: a minute file makes thousands)
            continue
        if frame.schema[f.name].is_integer():
            raise NeedsText(f.name)
        value = pl.col(f.name)
        blank = value.is_null() | (value.str.strip_chars() == "")
        broken = pl.when(blank).then(pl.lit(f.required)).otherwise(~_is_valid(value, f))
        hits = frame.filter(maybe).filter(broken).select("row_number", f.name)
        for line, raw in hits.iter_rows():
            missing = raw is None or not raw.strip()
            reason = (
                f"{f.name} is required but empty"
                if missing
                else f"{f.name} must be {f.describe()}, got {raw!r}"
            )
            issues.append(Issue(line=line, field=f.name, value=raw, reason=reason))
            bad_rows.add(line)
    good = frame.filter(~pl.col("row_number").is_in(sorted(bad_rows))) if bad_rows else frame
    if not times:
        good = good.drop(time_column(name) for name in parsed)
    issues.sort(key=lambda i: (i.line or 0, i.field or ""))
    return good, issues
