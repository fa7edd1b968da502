"""Open mHealth (OMH) data points: steps, sleep, heart rate and physical activity.

A file holds one data point (`{"header": …, "body": …}`), a body alone, an
array of either, or a Shimmer-style `{"body": [data points]}`; `.jsonl` files
hold one per line. The schema comes from `header.schema_id.name`; a body alone
is recognised by its measure field (`step_count`, `heart_rate`, …), and a bare
`total_sleep_time` body counts as a sleep episode only when it carries episode
fields or its path names `sleep-episode`. Granola HealthKit serialisations
(`hk-workout`, step and heart-rate `hk-quantity-sample`) are read the same way.

Times are RFC 3339. An explicit offset (`-08:00`, `+00:00`) is the
participant's clock and is kept in `utc_offset_min`; `Z` only fixes the instant
(RFC 3339: the local offset is unknown), so it leaves `utc_offset_min` null and
the local day to staging. Mappings and decisions: docs/sources/omh.md.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl

from .source import LandingFile, Parsed, Source
from .spec import Issue
from .wearable_tables import WEARABLE_TABLES, conform

SOURCE_NAME = "omh"
TABLES = ("wearable_intervals", "wearable_sleep", "wearable_vitals", "wearable_workouts")
NIGHT_S = 24 * 3600  # a sleep or a resting-HR average longer than this is not one night
QUARTER_S = 900

SECONDS_PER = {"ms": 0.001, "sec": 1, "s": 1, "min": 60, "h": 3600, "d": 86400, "wk": 604800}
METRES_PER = {
    "mm": 0.001,
    "cm": 0.01,
    "m": 1,
    "km": 1000,
    "in": 0.0254,
    "ft": 0.3048,
    "yd": 0.9144,
    "mi": 1609.344,
}
EPISODE_FIELDS = (
    "is_main_sleep",
    "latency_to_sleep_onset",
    "latency_to_arising",
    "wake_after_sleep_onset",
    "number_of_awakenings",
    "sleep_maintenance_efficiency_percentage",
)
# Descriptive statistics that still describe one resting heart rate.
RESTING_STATISTICS = (None, "average", "median")
HK_STEPS = "HKQuantityTypeIdentifierStepCount"
HK_HEART_RATE = "HKQuantityTypeIdentifierHeartRate"

# Activity name → session kind (docs/sources/omh.md). Names are free text in OMH
# ("walking", "Yoga") or HealthKit types (HKWorkoutActivityTypeMindAndBody); they
# are lower-cased and split into words first, then the first matching rule wins.
KIND_RULES = (
    ("breathing", re.compile(r"breath|mindful|meditat")),
    ("stretch", re.compile(r"yoga|stretch|flexib|mind and body|cool ?down")),
    ("stability", re.compile(r"\bcore\b|strength|pilates|barre")),
    ("walk", re.compile(r"walk|\bhik")),
)


def activity_kind(name: str) -> str:
    words = re.sub(r"^HKWorkoutActivityType", "", name)
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", words).replace("_", " ").replace("-", " ").lower()
    return next((kind for kind, rule in KIND_RULES if rule.search(words)), "other")


class BadValue(ValueError):
    """One field that cannot be used; the message is the reason a person can act on."""

    def __init__(self, field: str, value: object, reason: str):
        super().__init__(reason)
        self.field = field
        self.value = None if value is None else json.dumps(value, default=str)[:200]


class Skip(Exception):
    """A well-formed data point that steadyback cannot use; the message says why."""


# ---------------------------------------------------------------- time frames


@dataclass(frozen=True)
class When:
    """An effective time frame. `start`/`end` are UTC when `aware`, else the local wall clock."""

    start: datetime | None
    end: datetime | None
    aware: bool
    offset_min: int | None  # the stated offset; None for Z, -00:00 or no offset
    day: date | None = None  # date + part_of_day frames

    @property
    def seconds(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()

    def wall_clock(self, instant: datetime) -> datetime | None:
        """The participant's clock at `instant`, when the frame states it."""
        if not self.aware:
            return instant
        if self.offset_min is None:
            return None
        return (instant + timedelta(minutes=self.offset_min)).replace(tzinfo=None)

    def columns(self, end: bool = False) -> dict[str, object]:
        at = self.end if end else self.start
        prefix = "end" if end else "start"
        return {
            f"{prefix}_utc": at if self.aware else None,
            f"{prefix}_local": None if self.aware else at,
            "utc_offset_min": self.offset_min,
        }


def _stamp(field: str, raw: object) -> tuple[datetime, bool, int | None]:
    """RFC 3339 → (UTC instant or naive wall clock, aware, stated offset in minutes)."""
    text = raw.strip() if isinstance(raw, str) else None
    try:
        stamp = datetime.fromisoformat(text) if text else None
    except ValueError:
        stamp = None
    if stamp is None:
        raise BadValue(
            field,
            raw,
            f"{field} must be an RFC 3339 time such as 2016-02-05T06:25:00-08:00, got {raw!r}",
        )
    offset = stamp.utcoffset()
    if offset is None:
        return stamp, False, None
    unknown_offset = str(text).endswith(("Z", "z", "-00:00"))
    minutes = None if unknown_offset else int(offset.total_seconds() // 60)
    return stamp.astimezone(UTC), True, minutes


def _seconds(field: str, raw: object) -> float:
    value, unit = _unit_value(field, raw)
    if unit not in SECONDS_PER:
        raise BadValue(
            field, raw, f"{field} unit must be one of {', '.join(SECONDS_PER)}, got {unit!r}"
        )
    if value < 0:
        raise BadValue(field, raw, f"{field} must not be negative, got {value:g}")
    return value * SECONDS_PER[unit]


def _time_frame(field: str, frame: object) -> When:
    if not isinstance(frame, dict):
        raise BadValue(field, frame, f"{field} is required (date_time or time_interval)")
    if "date_time" in frame:
        at, aware, offset = _stamp(f"{field}.date_time", frame["date_time"])
        return When(at, at, aware, offset)
    interval = frame.get("time_interval")
    where = f"{field}.time_interval"
    if not isinstance(interval, dict):
        raise BadValue(field, frame, f"{field} needs date_time or time_interval")
    if "date" in interval and "start_date_time" not in interval and "end_date_time" not in interval:
        try:
            day = date.fromisoformat(str(interval["date"]))
        except ValueError:
            raise BadValue(
                f"{where}.date", interval["date"], f"{where}.date must be YYYY-MM-DD"
            ) from None
        return When(None, None, False, None, day=day)
    start = end = None
    if "start_date_time" in interval:
        start = _stamp(f"{where}.start_date_time", interval["start_date_time"])
    if "end_date_time" in interval:
        end = _stamp(f"{where}.end_date_time", interval["end_date_time"])
    if start and end is None and "duration" in interval:
        length = timedelta(seconds=_seconds(f"{where}.duration", interval["duration"]))
        end = (start[0] + length, start[1], start[2])
    if end and start is None and "duration" in interval:
        length = timedelta(seconds=_seconds(f"{where}.duration", interval["duration"]))
        start = (end[0] - length, end[1], end[2])
    if start is None or end is None:
        raise BadValue(
            where, interval, f"{where} needs two of start_date_time, end_date_time and duration"
        )
    if start[1] != end[1]:
        raise BadValue(where, interval, f"{where} mixes times with and without a UTC offset")
    if end[0] < start[0]:
        raise BadValue(
            f"{where}.end_date_time",
            interval.get("end_date_time"),
            f"{where} ends before it starts",
        )
    offset = end[2] if end[2] is not None else start[2]
    return When(start[0], end[0], start[1], offset)


# ---------------------------------------------------------------- values


def _unit_value(field: str, raw: object) -> tuple[float, str]:
    if not isinstance(raw, dict) or not _is_number(raw.get("value")):
        raise BadValue(field, raw, f'{field} must be {{"value": <number>, "unit": …}}, got {raw!r}')
    return float(raw["value"]), str(raw.get("unit", ""))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _minutes(field: str, raw: object) -> float:
    return _seconds(field, raw) / 60


def _stable_id(*parts: object) -> str:
    return hashlib.sha1("|".join(str(p) for p in (SOURCE_NAME, *parts)).encode()).hexdigest()


# ---------------------------------------------------------------- data points


@dataclass(frozen=True)
class Point:
    line: int  # record number in the file (array index from 1, or line of a .jsonl file)
    schema: str | None
    body: dict
    prefix: str  # "body." for a wrapped data point, so issues name the real JSON path
    point_id: str | None
    device: str

    def field(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def when(self) -> When:
        return _time_frame(
            self.field("effective_time_frame"), self.body.get("effective_time_frame")
        )


def _infer_schema(body: dict, relative: str) -> str | None:
    for name, schema in (
        ("step_count", "step-count"),
        ("heart_rate", "heart-rate"),
        ("sleep_duration", "sleep-duration"),
        ("activity_name", "physical-activity"),
        ("quantity_type", "hk-quantity-sample"),
        ("category_type", "hk-category-sample"),
    ):
        if name in body:
            return schema
    if "total_sleep_time" in body:
        episode = any(f in body for f in EPISODE_FIELDS) or _path_names(relative, "sleep-episode")
        return "sleep-episode" if episode else "total-sleep-time"
    return next((schema for schema in HANDLERS if _path_names(relative, schema)), None)


def _path_names(relative: str, schema: str) -> bool:
    """Whether a folder or the file name is the schema's name (`step-count/`, `step-count_2024.json`)."""
    rule = re.compile(rf"^{re.escape(schema)}(?![a-z])", re.IGNORECASE)
    return any(rule.match(part) for part in Path(relative).with_suffix("").parts)


def _point(line: int, record: object, relative: str) -> Point:
    if not isinstance(record, dict):
        raise BadValue("", record, "a data point must be a JSON object")
    if isinstance(record.get("header"), dict) and "body" in record:
        header, body = record["header"], record["body"]
        if not isinstance(body, dict):
            raise BadValue("body", body, "body must be a JSON object")
        schema_id = header.get("schema_id") if isinstance(header.get("schema_id"), dict) else {}
        provenance = header.get("acquisition_provenance")
        device = provenance.get("source_name") if isinstance(provenance, dict) else None
        schema = schema_id.get("name") or _infer_schema(body, relative)
        point_id = header.get("id")
        return Point(
            line, schema, body, "body.", str(point_id) if point_id else None, str(device or "")
        )
    return Point(line, _infer_schema(record, relative), record, "", None, "")


def _records(document: object) -> Iterator[tuple[int, object]]:
    if isinstance(document, dict) and isinstance(document.get("body"), list):
        document = document["body"]  # a Shimmer-style response
    elif isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    if isinstance(document, list):
        yield from enumerate(document, start=1)
    else:
        yield 1, document


@dataclass
class Quarter:
    """Wear evidence inside one quarter hour: the minutes seen, the stated offset, the first record."""

    minutes: set[datetime]
    offset_min: int | None
    line: int


class Output:
    """Rows per canonical table (as column lists), wear quarters and issues of one file.

    `row_number` is the record each row came from (for a wear quarter, its first
    record), so raw lineage points at the file itself; raw_store keeps it.
    """

    def __init__(self, participant_id: str):
        self.participant_id = participant_id
        self.columns = {t: {name: [] for name in WEARABLE_TABLES[t]} for t in TABLES}
        self.lines: dict[str, list[int]] = {t: [] for t in TABLES}
        self.issues: list[Issue] = []
        self.wear: dict[tuple[str, bool, datetime], Quarter] = {}  # (device, aware, start)
        self.unused: dict[str, list[int]] = {}

    def add(self, table: str, point: Point, **values: object) -> None:
        values |= {
            "participant_id": self.participant_id,
            "source": SOURCE_NAME,
            "device": point.device,
        }
        self.lines[table].append(point.line)
        for name, column in self.columns[table].items():
            column.append(values.get(name))

    def worn_minute(self, point: Point, instant: datetime, aware: bool, offset: int | None) -> None:
        minute = instant.replace(second=0, microsecond=0)
        start = minute.replace(minute=minute.minute - minute.minute % 15)
        quarter = self.wear.setdefault(
            (point.device, aware, start), Quarter(set(), offset, point.line)
        )
        quarter.minutes.add(minute)
        quarter.offset_min = quarter.offset_min if quarter.offset_min is not None else offset

    def parsed(self, rows_read: int) -> Parsed:
        for (device, aware, start), quarter in self.wear.items():
            when = When(start, start + timedelta(seconds=QUARTER_S), aware, quarter.offset_min)
            self.add(
                "wearable_intervals",
                Point(quarter.line, None, {}, "", None, device),
                **when.columns(),
                duration_s=QUARTER_S,
                metric="worn_min",
                value=len(quarter.minutes),
            )
        for schema, lines in self.unused.items():
            shown = ", ".join(str(n) for n in lines[:10]) + (" …" if len(lines) > 10 else "")
            self.issues.append(
                Issue(
                    None,
                    "schema",
                    schema,
                    f"{len(lines)} data point(s) of schema {schema!r} (records {shown}) carry "
                    "nothing steadyback uses (steps, sleep, heart rate, physical activity); ignored",
                    severity="warning",
                )
            )
        tables = {
            table: conform(
                table, pl.DataFrame(columns, schema=WEARABLE_TABLES[table])
            ).with_columns(pl.Series("row_number", self.lines[table], dtype=pl.Int64))
            for table, columns in self.columns.items()
        }
        return Parsed(tables, self.issues, rows_read)


# ---------------------------------------------------------------- schemas


def _steps_interval(out: Output, point: Point, field: str, count: float) -> None:
    statistic = point.body.get("descriptive_statistic")
    if statistic not in (None, "sum"):
        raise Skip(
            f"a step count with descriptive_statistic {statistic!r} is a summary over a period, "
            "not the steps taken in its interval; only plain counts are used"
        )
    if count < 0:
        raise BadValue(
            point.field(field), count, f"{point.field(field)} must not be negative, got {count:g}"
        )
    when = point.when()
    seconds = when.seconds
    if when.start is None or not seconds:
        raise Skip(
            "a step count needs a time interval (start and end, or a duration) to be placed in time"
        )
    local_start = when.wall_clock(when.start)
    daily = (
        seconds == 86400 and local_start is not None and local_start.time() == datetime.min.time()
    )
    out.add(
        "wearable_intervals",
        point,
        **when.columns(),
        local_day=local_start.date() if daily and local_start else None,
        duration_s=round(seconds),
        metric="steps",
        value=count,
    )
    if seconds <= 60 and count > 0:
        out.worn_minute(point, when.start, when.aware, when.offset_min)


def step_count(out: Output, point: Point) -> None:
    raw = point.body.get("step_count")
    if isinstance(raw, dict):  # step-count 3.0: {"value": …, "unit": "steps"}
        count, _ = _unit_value(point.field("step_count"), raw)
    elif _is_number(raw):
        count = float(raw)
    else:
        raise BadValue(point.field("step_count"), raw, f"step_count must be a number, got {raw!r}")
    _steps_interval(out, point, "step_count", count)


def _heart_rate(out: Output, point: Point, bpm: float, field: str) -> None:
    if not 20 <= bpm <= 300:
        raise BadValue(
            point.field(field), bpm, f"{point.field(field)} must be 20–300 beats/min, got {bpm:g}"
        )
    when = point.when()
    seconds = when.seconds
    used = False
    if when.start is not None and seconds is not None and seconds <= 60:
        out.worn_minute(point, when.start, when.aware, when.offset_min)
        used = True
    at_rest = point.body.get("temporal_relationship_to_physical_activity") == "at rest"
    statistic = point.body.get("descriptive_statistic")
    if at_rest and statistic in RESTING_STATISTICS and seconds is not None and seconds <= NIGHT_S:
        out.add("wearable_vitals", point, **when.columns(), metric="resting_hr", value=bpm)
        used = True
    if not used:
        raise Skip(
            "a heart rate over an interval that is not marked 'at rest' says neither which minutes "
            "the device was worn nor the resting heart rate"
        )


def heart_rate(out: Output, point: Point) -> None:
    field = "heart_rate"
    bpm, unit = _unit_value(point.field(field), point.body.get(field))
    if unit.lower() not in ("beats/min", "bpm"):
        raise BadValue(
            point.field(field),
            point.body.get(field),
            f"heart_rate unit must be beats/min, got {unit!r}",
        )
    _heart_rate(out, point, bpm, field)


def sleep_episode(out: Output, point: Point) -> None:
    when = point.when()
    seconds = when.seconds
    if when.start is None or not seconds:
        raise BadValue(
            point.field("effective_time_frame"),
            point.body.get("effective_time_frame"),
            "a sleep episode needs a time_interval from sleep onset to final awakening",
        )
    if seconds > NIGHT_S:
        raise BadValue(
            point.field("effective_time_frame"),
            point.body.get("effective_time_frame"),
            f"a sleep episode of {seconds / 3600:.1f} h is longer than a day",
        )
    asleep = None
    if "total_sleep_time" in point.body:
        asleep = _minutes(point.field("total_sleep_time"), point.body["total_sleep_time"])
        if asleep * 60 > seconds + 60:
            raise BadValue(
                point.field("total_sleep_time"),
                point.body["total_sleep_time"],
                f"total_sleep_time ({asleep:.0f} min) is longer than the episode ({seconds / 60:.0f} min)",
            )
    # The frame runs from sleep onset to final awakening; time in bed adds the latencies around it.
    in_bed = seconds / 60
    for name in ("latency_to_sleep_onset", "latency_to_arising"):
        if name in point.body:
            in_bed += _minutes(point.field(name), point.body[name])
    is_main = point.body.get("is_main_sleep")
    if is_main is not None and not isinstance(is_main, bool):
        raise BadValue(point.field("is_main_sleep"), is_main, "is_main_sleep must be true or false")
    out.add(
        "wearable_sleep",
        point,
        **when.columns(),
        **{k: v for k, v in when.columns(end=True).items() if k != "utc_offset_min"},
        episode_id=point.point_id or _stable_id("sleep", when.start.isoformat()),
        minutes_asleep=None if asleep is None else round(asleep),
        minutes_in_bed=round(in_bed),
        is_main=is_main,
        sleep_type="omh_sleep_episode",
    )


def _sleep_total(out: Output, point: Point, field: str) -> None:
    statistic = point.body.get("descriptive_statistic")
    if statistic not in (None, "sum"):
        raise Skip(
            f"a sleep time with descriptive_statistic {statistic!r} summarises a period, "
            "it is not one night's sleep"
        )
    minutes = _minutes(point.field(field), point.body.get(field))
    when = point.when()
    if when.day is not None:
        day, end = when.day, None
    elif when.end is not None and when.seconds:
        if when.seconds > NIGHT_S:
            raise Skip(f"the time frame spans {when.seconds / 3600:.0f} h, more than one night")
        if minutes * 60 > when.seconds + 60:
            raise BadValue(
                point.field(field),
                point.body.get(field),
                f"{field} ({minutes:.0f} min) is longer than its time frame ({when.seconds / 60:.0f} min)",
            )
        clock = when.wall_clock(when.end)
        day, end = (clock.date() if clock else None), when.end
    else:
        raise Skip("a sleep total needs a time interval or a date to be put on a night")
    # No start: staging treats a row without a start as a daily total, not an episode.
    out.add(
        "wearable_sleep",
        point,
        end_utc=end if when.aware else None,
        end_local=None if when.aware else end,
        utc_offset_min=when.offset_min,
        local_day=day,
        episode_id=point.point_id or _stable_id("sleep_total", end.isoformat() if end else day),
        minutes_asleep=round(minutes),
        sleep_type="daily_total",
    )


def sleep_duration(out: Output, point: Point) -> None:
    _sleep_total(out, point, "sleep_duration")


def total_sleep_time(out: Output, point: Point) -> None:
    _sleep_total(out, point, "total_sleep_time")


def physical_activity(out: Output, point: Point) -> None:
    name = point.body.get("activity_name")
    if not isinstance(name, str) or not name.strip():
        raise BadValue(point.field("activity_name"), name, "activity_name is required")
    when = point.when()
    if "duration" in point.body:  # hk-workout: active time, without pauses
        seconds: float | None = _seconds(point.field("duration"), point.body["duration"])
    else:
        seconds = when.seconds
    if when.start is None or not seconds:
        raise Skip(
            f"the {name!r} activity has no start time and duration (only a date, part of day or "
            "instant), so it cannot become a session"
        )
    distance = None
    if "distance" in point.body:
        value, unit = _unit_value(point.field("distance"), point.body["distance"])
        if unit not in METRES_PER or value < 0:
            raise BadValue(
                point.field("distance"),
                point.body["distance"],
                f"distance must be ≥ 0 in one of {', '.join(METRES_PER)}, got {value:g} {unit!r}",
            )
        distance = value * METRES_PER[unit]
    out.add(
        "wearable_workouts",
        point,
        **when.columns(),
        workout_id=point.point_id or _stable_id("workout", when.start.isoformat(), name),
        duration_s=round(seconds),
        activity=name,
        kind=activity_kind(name),
        distance_m=distance,
    )


def hk_quantity_sample(out: Output, point: Point) -> None:
    kind = point.body.get("quantity_type")
    if "count" in point.body:
        raw = point.body["count"]
        if not _is_number(raw):
            raise BadValue(point.field("count"), raw, f"count must be a number, got {raw!r}")
        value = float(raw)
    else:
        value, _ = _unit_value(point.field("unit_value"), point.body.get("unit_value"))
    if kind == HK_STEPS:
        _steps_interval(out, point, "count", value)
    elif kind == HK_HEART_RATE:
        _heart_rate(out, point, value, "unit_value")
    else:
        out.unused.setdefault(f"hk-quantity-sample/{kind}", []).append(point.line)


HANDLERS = {
    "step-count": step_count,
    "heart-rate": heart_rate,
    "sleep-episode": sleep_episode,
    "sleep-duration": sleep_duration,
    "total-sleep-time": total_sleep_time,
    "physical-activity": physical_activity,
    "hk-workout": physical_activity,
    "hk-quantity-sample": hk_quantity_sample,
}


# ---------------------------------------------------------------- files


def _file_issue(reason: str) -> Parsed:
    return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)


def _read(path: Path) -> Iterator[tuple[int, object]] | str:
    """The file's records, or why the file cannot be read."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        return f"not UTF-8 text (invalid byte at offset {err.start})"
    if not text.strip():
        return "the file is empty"
    if path.suffix.lower() == ".jsonl":
        return _jsonl(text)
    try:
        return _records(json.loads(text))
    except json.JSONDecodeError as err:
        return f"not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"


def _jsonl(text: str) -> Iterator[tuple[int, object]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            yield line, json.loads(raw)
        except json.JSONDecodeError as err:
            yield line, BadValue("", None, f"not valid JSON: {err.msg} at column {err.colno}")


def parse(landing: LandingFile) -> Parsed:
    records = _read(landing.path)
    if isinstance(records, str):
        return _file_issue(records)
    out = Output(landing.participant_id)
    rows_read = 0
    for line, record in records:
        rows_read += 1
        try:
            if isinstance(record, BadValue):
                raise record
            point = _point(line, record, landing.relative)
            handler = HANDLERS.get(point.schema or "")
            if handler is None:
                label = point.schema or "unrecognised: " + ", ".join(sorted(point.body)[:5])
                out.unused.setdefault(label, []).append(line)
                continue
            handler(out, point)
        except BadValue as err:
            out.issues.append(Issue(line, err.field or None, err.value, f"record {line}: {err}"))
        except Skip as why:
            out.issues.append(
                Issue(line, None, None, f"record {line}: {why}; not loaded", severity="warning")
            )
    return out.parsed(rows_read)


SOURCE = Source(
    name=SOURCE_NAME,
    folder="omh",
    patterns=("omh/**/*.json", "omh/**/*.jsonl"),
    outputs={table: WEARABLE_TABLES[table] for table in TABLES},
    parse=parse,
    description="Open mHealth data points: steps, sleep episodes and totals, heart rate, physical activity",
    per_person=True,
    identifiers=("participant_id",),
    cumulative=False,  # each file holds its own data points, not a repeat of earlier ones
)
