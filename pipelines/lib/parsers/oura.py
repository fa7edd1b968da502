"""Oura ring exports: the Oura Cloud "trends" CSV and Oura JSON (API v1 and v2 documents).

The trends CSV has one row per calendar day, keyed by the wake-up date: the
night that ended that morning and the activity day of that date. Durations are
seconds, missing values are the literal `None` (or empty), bedtimes are ISO 8601
with the offset Oura stamped on the whole night. Column names are matched
trimmed and case-blind ("Total Bedtime " carries a trailing space).

JSON: the older account export and API v1 give `{"sleep": [...], "activity":
[...], "readiness": [...]}` with `summary_date` and minutes for activity; API v2
gives `{"data": [...]}` pages or collections of documents with `day` and
seconds. Records are recognised by their fields, so any of these shapes works.

What lands (docs/sources/oura.md): the night as a sleep episode, resting HR
(the night's lowest) and HRV (RMSSD) as vitals, and steps, active minutes and
worn minutes as daily intervals. A value that cannot be read quarantines only
the canonical row built from it; the rest of that day still lands.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from .source import LandingFile, Parsed, Source
from .spec import Issue
from .wearable_tables import WEARABLE_TABLES, conform

SOURCE_NAME = "oura"
DEVICE = "Oura"
TABLES = ("wearable_intervals", "wearable_sleep", "wearable_vitals")
DAY_S = 86400

# Trends CSV columns used (trimmed, lower case).
DATE = "date"
ASLEEP = "total sleep duration"
IN_BED = "total bedtime"
BED_START = "bedtime start"
BED_END = "bedtime end"
LOWEST_HR = "lowest resting heart rate"
HRV = "average hrv"
STEPS = "steps"
MEDIUM = "medium activity time"
HIGH = "high activity time"
NON_WEAR = "non-wear time"
# A value as read, with the name to quote in an issue: ("Steps", "13341") or ("sleep[2].total", 25200).
Value = tuple[str, object]

USED_COLUMNS = (ASLEEP, IN_BED, BED_START, BED_END, LOWEST_HR, HRV, STEPS, MEDIUM, HIGH, NON_WEAR)


class BadValue(ValueError):
    """One field that cannot be used; the message is the reason a person can act on."""

    def __init__(self, field: str, value: object, reason: str):
        super().__init__(reason)
        self.field = field
        self.value = None if value is None else str(value)


class Rows:
    """Column lists for one canonical table, turned into a frame at the end.

    `row_number` is the CSV line or JSON record a row came from, so raw lineage
    points at the export itself (raw_store keeps a parser's own row_number).
    """

    def __init__(self, table: str):
        self.table = table
        self.columns: dict[str, list] = {name: [] for name in WEARABLE_TABLES[table]}
        self.lines: list[int] = []

    def add(self, line: int, **values: object) -> None:
        self.lines.append(line)
        for name, column in self.columns.items():
            column.append(values.get(name))

    def frame(self) -> pl.DataFrame:
        schema = WEARABLE_TABLES[self.table]
        rows = conform(self.table, pl.DataFrame(self.columns, schema=schema))
        return rows.with_columns(pl.Series("row_number", self.lines, dtype=pl.Int64))


class Output:
    """Everything one file yields: rows per table and issues."""

    def __init__(self, participant_id: str):
        self.participant_id = participant_id
        self.rows = {table: Rows(table) for table in TABLES}
        self.issues: list[Issue] = []

    def add(self, table: str, line: int, **values: object) -> None:
        self.rows[table].add(
            line, participant_id=self.participant_id, source=SOURCE_NAME, device=DEVICE, **values
        )

    def quarantine(self, line: int, err: BadValue, what: str) -> None:
        self.issues.append(Issue(line, err.field, err.value, f"{err} — {what} not loaded"))

    def parsed(self, rows_read: int) -> Parsed:
        tables = {table: rows.frame() for table, rows in self.rows.items()}
        return Parsed(tables, self.issues, rows_read)


class UnreadableExport(Exception):
    """The whole file cannot be used."""


def _file_issue(reason: str) -> Parsed:
    return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)


def parse(landing: LandingFile) -> Parsed:
    out = Output(landing.participant_id)
    try:
        if landing.path.suffix.lower() == ".json":
            rows_read = _parse_json(landing.path, out)
        else:
            rows_read = _parse_trends_csv(landing.path, out)
    except UnreadableExport as err:
        return _file_issue(str(err))
    return out.parsed(rows_read)


# ---------------------------------------------------------------- values


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() in ("", "None", "null"))


def _number(field: str, raw: object, low: float, high: float) -> float | None:
    """A number within [low, high], None when missing; BadValue otherwise."""
    if _blank(raw):
        return None
    if isinstance(raw, bool):
        raise BadValue(field, raw, f"{field} must be a number, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadValue(field, raw, f"{field} must be a number, got {raw!r}") from None
    if not low <= value <= high:
        raise BadValue(field, raw, f"{field} must be between {low:g} and {high:g}, got {raw!r}")
    return value


def _instant(field: str, raw: object) -> tuple[datetime, int] | None:
    """An ISO 8601 time with offset → (UTC instant, offset in minutes); None when missing."""
    if _blank(raw):
        return None
    try:
        stamp = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        stamp = None
    if stamp is None or stamp.utcoffset() is None:
        raise BadValue(
            field,
            raw,
            f"{field} must be an ISO 8601 time with a UTC offset "
            f"(e.g. 2019-01-24T22:39:08-06:00), got {raw!r}",
        )
    return stamp.astimezone(UTC), int(stamp.utcoffset().total_seconds() // 60)


def _day(field: str, raw: object) -> date:
    try:
        return date.fromisoformat(str(raw).strip()[:10])
    except (TypeError, ValueError):
        raise BadValue(field, raw, f"{field} must be a date YYYY-MM-DD, got {raw!r}") from None


def _episode_id(start_utc: datetime | None, day: date) -> str:
    key = start_utc.isoformat() if start_utc is not None else day.isoformat()
    return hashlib.sha1(f"{SOURCE_NAME}|{key}".encode()).hexdigest()


def _minutes(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds / 60)


# ---------------------------------------------------------------- canonical rows


def _sleep(
    out: Output,
    line: int,
    day: date,
    *,
    start: Value,
    end: Value,
    asleep_s: Value,
    in_bed_s: Value,
    is_main: bool | None,
    sleep_type: str,
    episode_id: str | None = None,
) -> None:
    """One sleep episode; each pair is (field name, raw value)."""
    try:
        begins = _instant(*start)
        ends = _instant(*end)
        asleep = _number(*asleep_s, 0, DAY_S)
        in_bed = _number(*in_bed_s, 0, DAY_S)
        if begins and ends and ends[0] <= begins[0]:
            raise BadValue(*end, f"{end[0]} {end[1]!r} is not after {start[0]} {start[1]!r}")
    except BadValue as err:
        out.quarantine(line, err, f"the sleep of {day}")
        return
    if begins is None and ends is None and asleep is None and in_bed is None:
        return
    out.add(
        "wearable_sleep",
        line,
        start_utc=begins[0] if begins else None,
        end_utc=ends[0] if ends else None,
        utc_offset_min=(ends or begins or (None, None))[1],
        local_day=day,
        episode_id=episode_id or _episode_id(begins[0] if begins else None, day),
        minutes_asleep=_minutes(asleep),
        minutes_in_bed=_minutes(in_bed),
        is_main=is_main,
        sleep_type=sleep_type,
    )


def _vital(
    out: Output,
    line: int,
    day: date,
    metric: str,
    field: str,
    raw: object,
    low: float,
    high: float,
    start: Value | None = None,
) -> None:
    try:
        value = _number(field, raw, low, high)
        begins = _instant(*start) if start else None
    except BadValue as err:
        out.quarantine(line, err, f"{metric} of {day}")
        return
    if value is None:
        return
    out.add(
        "wearable_vitals",
        line,
        start_utc=begins[0] if begins else None,
        utc_offset_min=begins[1] if begins else None,
        local_day=day,
        metric=metric,
        value=value,
    )


def _daily(
    out: Output, line: int, day: date, metric: str, compute, offset_min: int | None = None
) -> None:
    """A vendor daily total (86400 s from local midnight); `compute` may raise BadValue."""
    try:
        value = compute()
    except BadValue as err:
        out.quarantine(line, err, f"{metric} of {day}")
        return
    if value is None:
        return
    out.add(
        "wearable_intervals",
        line,
        start_local=datetime(day.year, day.month, day.day),
        utc_offset_min=offset_min,
        local_day=day,
        duration_s=DAY_S,
        metric=metric,
        value=value,
    )


def _activity(
    out: Output,
    line: int,
    day: date,
    *,
    steps: Value,
    medium: Value,
    high: Value,
    non_wear: Value,
    unit_s: int,
    offset_min: int | None = None,
) -> None:
    """Steps, active minutes (medium + high) and worn minutes (1440 − non-wear) of one activity day."""
    limit = DAY_S / unit_s

    def active() -> float | None:
        parts = [_number(*medium, 0, limit), _number(*high, 0, limit)]
        return None if None in parts else sum(parts) * unit_s / 60

    def worn() -> float | None:
        missing = _number(*non_wear, 0, limit)
        return None if missing is None else 1440 - missing * unit_s / 60

    _daily(out, line, day, "steps", lambda: _number(*steps, 0, 200_000), offset_min)
    _daily(out, line, day, "active_min", active, offset_min)
    _daily(out, line, day, "worn_min", worn, offset_min)


# ---------------------------------------------------------------- trends CSV


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line, row by trimmed lower-case column) or (line, why the line cannot be read)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None:
                raise UnreadableExport("the file is empty")
            names = [h.strip().lower() for h in header]
            if DATE not in names or not set(USED_COLUMNS) & set(names):
                raise UnreadableExport(
                    "not an Oura trends CSV: expected a 'date' column and Oura columns such as "
                    f"'Total Sleep Duration' or 'Steps'; found: {', '.join(h.strip() for h in header)}"
                )
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(names):
                    yield reader.line_num, f"expected {len(names)} fields, found {len(row)}"
                    continue
                yield reader.line_num, dict(zip(names, row, strict=True))
    except UnicodeDecodeError as err:
        raise UnreadableExport(
            f"not UTF-8 text (invalid byte at offset {err.start}); re-export it from Oura"
        ) from err


def _parse_trends_csv(path: Path, out: Output) -> int:
    rows_read = 0
    for line, row in _csv_rows(path):
        rows_read += 1
        if isinstance(row, str):
            out.issues.append(Issue(line, None, None, row))
            continue
        try:
            day = _day("date", row[DATE])
        except BadValue as err:
            out.quarantine(line, err, "the whole day")
            continue
        _sleep(
            out,
            line,
            day,
            start=("Bedtime Start", row.get(BED_START)),
            end=("Bedtime End", row.get(BED_END)),
            asleep_s=("Total Sleep Duration", row.get(ASLEEP)),
            in_bed_s=("Total Bedtime", row.get(IN_BED)),
            is_main=True,
            sleep_type="oura_long_sleep",
        )
        night = ("Bedtime Start", row.get(BED_START))
        _vital(
            out,
            line,
            day,
            "resting_hr",
            "Lowest Resting Heart Rate",
            row.get(LOWEST_HR),
            20,
            250,
            night,
        )
        _vital(out, line, day, "hrv_rmssd_ms", "Average HRV", row.get(HRV), 1, 500, night)
        _activity(
            out,
            line,
            day,
            steps=("Steps", row.get(STEPS)),
            medium=("Medium Activity Time", row.get(MEDIUM)),
            high=("High Activity Time", row.get(HIGH)),
            non_wear=("Non-wear Time", row.get(NON_WEAR)),
            unit_s=1,
        )
    return rows_read


# ---------------------------------------------------------------- JSON (API v1 / v2, account export)


def _json_records(document: object) -> Iterator[tuple[str, dict | object]]:
    """(collection name, record) for every record in the shapes Oura JSON comes in."""
    if isinstance(document, list):
        for record in document:
            yield "data", record
    elif isinstance(document, dict):
        if "bedtime_start" in document or "steps" in document:
            yield "data", document  # a single document
            return
        for name, value in document.items():
            if isinstance(value, list):
                for record in value:
                    yield name, record
            elif isinstance(value, dict) and ("bedtime_start" in value or "steps" in value):
                yield name, value


def _parse_json(path: Path, out: Output) -> int:
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise UnreadableExport(f"not UTF-8 text (invalid byte at offset {err.start})") from err
    except json.JSONDecodeError as err:
        raise UnreadableExport(
            f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from err
    rows_read = 0
    recognised = 0
    counts: dict[str, int] = {}
    for collection, record in _json_records(document):
        rows_read += 1
        index = counts[collection] = counts.get(collection, 0) + 1
        where = f"{collection}[{index}]"
        if not isinstance(record, dict):
            out.issues.append(Issue(rows_read, where, None, f"{where} is not a JSON object"))
            continue
        if "bedtime_start" in record:
            recognised += 1
            _json_sleep(out, rows_read, where, record)
        elif "steps" in record:
            recognised += 1
            _json_activity(out, rows_read, where, record)
        # readiness and daily_sleep documents hold scores only: nothing canonical to take
    if rows_read and not recognised and not _only_scores(document):
        raise UnreadableExport(
            "no Oura sleep or activity records found (expected records with 'bedtime_start' "
            "or 'steps', as in Oura's JSON export or API)"
        )
    return rows_read


def _only_scores(document: object) -> bool:
    names = {"readiness", "daily_readiness", "daily_sleep", "restful_periods"}
    return isinstance(document, dict) and bool(set(document) & names)


def _json_sleep(out: Output, line: int, where: str, record: dict) -> None:
    def field(name: str) -> Value:
        return f"{where}.{name}", record.get(name)

    if "summary_date" in record and "day" not in record:
        # API v1: summary_date is the day *before* the wake-up date
        try:
            day = _day(f"{where}.summary_date", record["summary_date"]) + timedelta(days=1)
        except BadValue as err:
            out.quarantine(line, err, "this sleep")
            return
        is_main = record.get("is_longest") in (1, True) if "is_longest" in record else None
        asleep, in_bed, lowest, rmssd = "total", "duration", "hr_lowest", "rmssd"
        sleep_type = "oura_long_sleep" if is_main else "oura_sleep"
        episode_id = None
    else:
        try:
            day = _day(f"{where}.day", record.get("day"))
        except BadValue as err:
            out.quarantine(line, err, "this sleep")
            return
        kind = record.get("type")
        if kind == "deleted":
            return
        is_main = kind == "long_sleep" if kind else None
        asleep, in_bed, lowest, rmssd = (
            "total_sleep_duration",
            "time_in_bed",
            "lowest_heart_rate",
            "average_hrv",
        )
        sleep_type = f"oura_{kind}" if kind else "oura_sleep"
        episode_id = str(record["id"]) if record.get("id") else None
    _sleep(
        out,
        line,
        day,
        start=field("bedtime_start"),
        end=field("bedtime_end"),
        asleep_s=field(asleep),
        in_bed_s=field(in_bed),
        is_main=is_main,
        sleep_type=sleep_type,
        episode_id=episode_id,
    )
    # naps have their own lowest HR; the day's resting HR and HRV come from the main sleep only
    if is_main is not False:
        night = field("bedtime_start")
        _vital(out, line, day, "resting_hr", *field(lowest), 20, 250, night)
        _vital(out, line, day, "hrv_rmssd_ms", *field(rmssd), 1, 500, night)


def _json_activity(out: Output, line: int, where: str, record: dict) -> None:
    def field(name: str) -> Value:
        return f"{where}.{name}", record.get(name)

    v1 = "summary_date" in record and "day" not in record
    try:
        day = _day(
            f"{where}.{'summary_date' if v1 else 'day'}",
            record.get("summary_date" if v1 else "day"),
        )
        day_start = _instant(*field("day_start" if v1 else "timestamp"))
    except BadValue as err:
        out.quarantine(line, err, "this activity day")
        return
    _activity(
        out,
        line,
        day,
        steps=field("steps"),
        medium=field("medium" if v1 else "medium_activity_time"),
        high=field("high" if v1 else "high_activity_time"),
        non_wear=field("non_wear" if v1 else "non_wear_time"),
        unit_s=60 if v1 else 1,  # API v1 counts minutes, v2 seconds
        offset_min=day_start[1] if day_start else None,
    )


SOURCE = Source(
    name=SOURCE_NAME,
    folder="oura",
    patterns=("oura/**/*.csv", "oura/**/*.json"),
    outputs={table: WEARABLE_TABLES[table] for table in TABLES},
    parse=parse,
    description="Oura ring trends CSV / JSON: nights, resting HR and HRV, daily steps, activity and wear",
    per_person=True,
    identifiers=("participant_id",),
)
