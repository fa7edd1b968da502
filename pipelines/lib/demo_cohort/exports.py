"""Write the landing/ exports in the program's and Fitabase's exact formats, quirks included."""

from __future__ import annotations

import copy
import csv
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from ..parsers.fitabase import DAILY_ACTIVITY, SLEEP_DAY
from ..parsers.program import APP_CHECKINS, APP_SESSIONS, PROM, ROSTER
from .behaviour import Session
from .outcomes import CheckIn, Prom
from .people import Person
from .schedule import (
    Calendar,
    fitabase_date,
    fitabase_folder,
    fitabase_sleep_day,
    iso_local,
    iso_utc,
    local_datetime,
)
from .wearable import Recording

ROSTER_COLUMNS = ROSTER.column_names
# The re-export comes out of the enrolment sheet with its columns in another order.
ROSTER_COLUMNS_REEXPORT = (
    "participant_id",
    "fitbit_id",
    "cohort",
    "site",
    "timezone",
    "enrolled_on",
    "program_weeks",
    "prescribed_sessions_per_week",
    "coach_id",
    "withdrawn_on",
    "display_name",
)
SESSION_FIELDS = APP_SESSIONS.column_names
SESSION_CSV_COLUMNS = SESSION_FIELDS + ("device_model",)  # device_model: unknown to the spec
CHECKIN_COLUMNS = APP_CHECKINS.column_names
# REDCap puts its repeat-instrument columns right after the event name.
REDCAP_COLUMNS = PROM.column_names[:2] + PROM.ignored[:2] + PROM.column_names[2:]
DAILY_ACTIVITY_COLUMNS = DAILY_ACTIVITY.column_names
SLEEP_DAY_COLUMNS = SLEEP_DAY.column_names

UNKNOWN_PARTICIPANT = "P-99999"


def fmt(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "true" if x else "false"
    return str(x)


def fmt_km(x: float) -> str:
    """Fitabase writes single-precision floats with 15 significant digits (6.96999979019165)."""
    return format(float(np.float32(x)), ".15g")


@dataclass
class Planted:
    file: str  # relative to landing/
    line: int  # 1-based; header = line 1 in CSV files
    field: str
    value: str
    reason: str


@dataclass
class Correction:
    session_id: str
    field: str
    first_value: str  # in the earlier export
    final_value: str  # in the later export (the truth)


@dataclass
class Landing:
    root: Path  # out_dir/landing
    files: list[tuple[Path, datetime]] = field(default_factory=list)  # path, export instant
    planted: list[Planted] = field(default_factory=list)
    corrections: list[Correction] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def write_csv(self, rel: str, header, rows, instant: datetime, crlf: bool = False) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh, lineterminator="\r\n" if crlf else "\n")
            w.writerow(header)
            w.writerows(rows)
        self.files.append((path, instant))
        return path

    def write_jsonl(self, rel: str, objs, instant: datetime) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8", newline="") as fh:
            for o in objs:
                fh.write(json.dumps(o, ensure_ascii=False))
                fh.write("\n")
        self.files.append((path, instant))
        return path


# --- roster ----------------------------------------------------------------------------------


def write_rosters(land: Landing, people: list[Person], cal: Calendar) -> None:
    for day, columns, final in (
        (cal.roster_first_date, ROSTER_COLUMNS, False),
        (cal.export_date, ROSTER_COLUMNS_REEXPORT, True),
    ):
        rows = []
        for p in people:
            rec = {
                "participant_id": p.participant_id,
                "cohort": p.cohort,
                "site": p.site,
                "coach_id": p.coach_id if final else p.coach_id_first,
                "enrolled_on": p.enrolled_on.isoformat(),
                "program_weeks": p.program_weeks,
                "prescribed_sessions_per_week": p.prescribed,
                "timezone": p.timezone,
                "withdrawn_on": p.withdrawn_on.isoformat() if final and p.withdrawn_on else None,
                "fitbit_id": p.fitbit_id,
                "display_name": p.display_name,
            }
            rows.append([fmt(rec[c]) for c in columns])
        land.write_csv(
            f"roster/roster_{day.isoformat()}.csv", columns, rows, cal.export_instant(day)
        )
    land.counts["roster_rows"] = len(people)


# --- app sessions ----------------------------------------------------------------------------


def _new_id(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _pick(rng: np.random.Generator, pool: list[Session], fallback: list[Session]) -> Session:
    pool = pool or fallback
    return pool[int(rng.integers(0, len(pool)))]


def write_sessions(
    land: Landing, sessions: list[Session], cal: Calendar, rng: np.random.Generator
) -> None:
    """CSV export up to ~60 % of the period (local offsets), JSONL from ~50 % (UTC, ``Z``)."""
    csv_cut = cal.export_instant(cal.sessions_csv_date)
    jsonl_from = cal.utc_midnight(cal.sessions_jsonl_from)
    in_csv = [s for s in sessions if s.start < csv_cut]
    in_jsonl = [s for s in sessions if s.start >= jsonl_from]
    overlap = [s for s in in_csv if s.start >= jsonl_from]
    csv_only = [s for s in in_csv if s.start < jsonl_from]
    jsonl_only = [s for s in in_jsonl if s.start >= csv_cut]

    # ~3 % of the sessions exported twice were corrected in between: the CSV has the first value.
    first_version: dict[str, Session] = {}
    if overlap:
        n_corr = max(1, round(0.03 * len(overlap)))
        for k in sorted(rng.choice(len(overlap), size=n_corr, replace=False)):
            s = overlap[int(k)]
            orig = copy.copy(s)
            options = ["duration_s", "completed"] + (
                ["discomfort"] if s.discomfort is not None else []
            )
            what = options[int(rng.integers(0, len(options)))]
            if what == "duration_s":
                orig.duration_s = s.duration_s * 3 + int(
                    rng.integers(30, 300)
                )  # timer left running
            elif what == "completed":
                orig.completed = not s.completed
            else:
                step = int(rng.integers(1, 4))
                orig.discomfort = (
                    s.discomfort + step if s.discomfort + step <= 10 else s.discomfort - step
                )
            first_version[s.session_id] = orig
            land.corrections.append(
                Correction(s.session_id, what, fmt(getattr(orig, what)), fmt(getattr(s, what)))
            )

    # --- CSV ---
    def csv_row(s: Session, blank_completed: bool) -> list[str]:
        return [
            s.session_id,
            s.participant_id,
            iso_local(s.start),
            str(s.duration_s),
            s.kind,
            fmt(s.target),
            fmt(s.discomfort),
            fmt(s.guided_breathing),
            "" if blank_completed else fmt(s.completed),
            s.app_version,
            s.device_model,
        ]

    blank = rng.random(len(in_csv)) < 0.01  # empty `completed` = the spec's default (true)
    keyed: list[tuple[datetime, str, list[str], Planted | None]] = []
    for s, b in zip(in_csv, blank, strict=True):
        out = first_version.get(s.session_id, s)
        keyed.append((s.start, s.session_id, csv_row(out, b and out.completed and out is s), None))

    csv_name = f"app/sessions_{cal.sessions_csv_date.isoformat()}.csv"
    stretches = [s for s in csv_only if s.kind == "stretch"]
    bad = copy.copy(_pick(rng, stretches, in_csv))
    bad.session_id, bad.start = _new_id(rng), bad.start + timedelta(minutes=90)
    row = csv_row(bad, False)
    row[6] = "12"
    keyed.append(
        (
            bad.start,
            bad.session_id,
            row,
            Planted(csv_name, 0, "discomfort", "12", "discomfort 12 outside 0-10"),
        )
    )
    bad = copy.copy(_pick(rng, stretches, in_csv))
    bad.session_id, bad.start = _new_id(rng), bad.start + timedelta(minutes=75)
    row = csv_row(bad, False)
    row[2] = bad.start.replace(tzinfo=None).isoformat(timespec="seconds")
    keyed.append(
        (
            bad.start,
            bad.session_id,
            row,
            Planted(csv_name, 0, "started_at", row[2], "started_at has no UTC offset"),
        )
    )
    keyed.sort(key=lambda r: (r[0], r[1]))
    for line, r in enumerate(keyed, start=2):
        if r[3] is not None:
            r[3].line = line
            land.planted.append(r[3])
    land.write_csv(
        csv_name,
        SESSION_CSV_COLUMNS,
        [r[2] for r in keyed],
        cal.export_instant(cal.sessions_csv_date),
    )

    # --- JSONL ---
    def obj(s: Session) -> dict:
        o: dict = {
            "session_id": s.session_id,
            "participant_id": s.participant_id,
            "started_at": iso_utc(s.start),
            "duration_s": s.duration_s,
            "kind": s.kind,
            "target": s.target,
        }
        if s.discomfort is not None:  # missing discomfort: key absent; other missing: null
            o["discomfort"] = s.discomfort
        o["guided_breathing"] = s.guided_breathing
        o["completed"] = s.completed
        o["app_version"] = s.app_version
        return o

    jsonl_name = f"app/sessions_{cal.export_date.isoformat()}.jsonl"
    jkeyed: list[tuple[datetime, str, dict, Planted | None]] = [
        (s.start, s.session_id, obj(s), None) for s in in_jsonl
    ]
    bad = copy.copy(_pick(rng, jsonl_only, in_jsonl or sessions))
    bad.session_id, bad.start = _new_id(rng), bad.start + timedelta(minutes=50)
    o = obj(bad)
    o["kind"] = "yoga"
    jkeyed.append(
        (
            bad.start,
            bad.session_id,
            o,
            Planted(jsonl_name, 0, "kind", "yoga", "kind 'yoga' is not an allowed kind"),
        )
    )
    bad = copy.copy(_pick(rng, jsonl_only, in_jsonl or sessions))
    bad.session_id, bad.start = _new_id(rng), bad.start + timedelta(minutes=40)
    bad.participant_id = UNKNOWN_PARTICIPANT
    jkeyed.append(
        (
            bad.start,
            bad.session_id,
            obj(bad),
            Planted(
                jsonl_name,
                0,
                "participant_id",
                UNKNOWN_PARTICIPANT,
                "participant_id not in the roster",
            ),
        )
    )
    jkeyed.sort(key=lambda r: (r[0], r[1]))
    for line, r in enumerate(jkeyed, start=1):
        if r[3] is not None:
            r[3].line = line
            land.planted.append(r[3])
    land.write_jsonl(jsonl_name, [r[2] for r in jkeyed], cal.export_instant(cal.export_date))
    land.counts["session_rows_csv"] = len(keyed)
    land.counts["session_rows_jsonl"] = len(jkeyed)
    land.counts["session_corrections"] = len(first_version)


# --- check-ins -------------------------------------------------------------------------------


def write_checkins(
    land: Landing,
    checkins: list[CheckIn],
    people: list[Person],
    cal: Calendar,
    rng: np.random.Generator,
) -> None:
    name = f"app/checkins_{cal.export_date.isoformat()}.csv"
    keyed = [
        (
            c.day,
            c.submitted_at,
            c.participant_id,
            [
                c.participant_id,
                c.day.isoformat(),
                str(c.pain),
                fmt(c.sleep_quality),
                fmt(c.stress),
                fmt(c.movement_confidence),
                iso_local(c.submitted_at),
            ],
            None,
        )
        for c in checkins
    ]
    # A check-in typed as a word, on a day the person has no other check-in.
    have = {(c.participant_id, c.day) for c in checkins}
    for k in rng.permutation(len(people)):
        p = people[int(k)]
        last = p.last_active_day(cal.as_of)
        free = [
            p.enrolled_on + timedelta(days=d)
            for d in range((last - p.enrolled_on).days + 1)
            if (p.participant_id, p.enrolled_on + timedelta(days=d)) not in have
        ]
        if free:
            day = free[int(rng.integers(0, len(free)))]
            at = local_datetime(day, 20 * 3600 + int(rng.integers(0, 3600)), p.timezone)
            row = [p.participant_id, day.isoformat(), "eleven", "6", "4", "5", iso_local(at)]
            keyed.append(
                (
                    day,
                    at,
                    p.participant_id,
                    row,
                    Planted(name, 0, "pain", "eleven", "pain 'eleven' is not an integer 0-10"),
                )
            )
            break
    keyed.sort(key=lambda r: (r[0], r[1], r[2]))
    for line, r in enumerate(keyed, start=2):
        if r[4] is not None:
            r[4].line = line
            land.planted.append(r[4])
    land.write_csv(
        name, CHECKIN_COLUMNS, [r[3] for r in keyed], cal.export_instant(cal.export_date)
    )
    land.counts["checkin_rows"] = len(keyed)


# --- questionnaires (REDCap export records) ---------------------------------------------------


def write_redcap(land: Landing, proms: list[Prom], cal: Calendar) -> None:
    rows = [
        [pr.record_id, pr.event, "", "", pr.prom_date.isoformat()]
        + [fmt(x) for x in pr.odi]
        + [str(pr.oswestry_complete)]
        + [fmt(x) for x in pr.tsk]
        + [str(pr.tsk_complete), fmt(pr.psqi_total)]
        for pr in proms
    ]
    land.write_csv(
        f"prom/redcap_export_{cal.export_date.isoformat()}.csv",
        REDCAP_COLUMNS,
        rows,
        cal.export_instant(cal.export_date),
    )
    land.counts["prom_rows"] = len(rows)


# --- Fitabase ----------------------------------------------------------------------------------


def fitabase_export(cal: Calendar) -> str:
    """The Fitabase export's folder under landing/: ``fitabase/Fitabase Data 2.16.26-6.21.26``."""
    return "fitabase/" + fitabase_folder(cal.fitabase_start, cal.as_of)


def write_fitabase(
    land: Landing, recordings: list[Recording], cal: Calendar, rng: np.random.Generator
) -> list[tuple[str, str]]:
    """Returns the (Id, SleepDay) keys of the rows written twice."""
    folder = fitabase_export(cal)
    recordings = sorted(recordings, key=lambda r: r.fitbit_id)
    act_rows, sleep_rows = [], []
    for r in recordings:
        for a in r.activity:
            act_rows.append(
                [
                    r.fitbit_id,
                    fitabase_date(a.day),
                    str(a.steps),
                    fmt_km(a.total_km),
                    fmt_km(a.total_km),
                    "0",
                    fmt_km(a.very_km),
                    fmt_km(a.moderate_km),
                    fmt_km(a.light_km),
                    fmt_km(a.sedentary_km),
                    str(a.very_min),
                    str(a.fairly_min),
                    str(a.light_min),
                    str(a.sedentary_min),
                    str(a.calories),
                ]
            )
        for s in r.sleep:
            sleep_rows.append(
                [
                    r.fitbit_id,
                    fitabase_sleep_day(s.day),
                    str(s.records),
                    str(s.minutes_asleep),
                    str(s.minutes_in_bed),
                ]
            )
    # Fitabase's sleepDay export repeats a few rows verbatim (the real 2016 export has 3).
    n_dup = min(len(sleep_rows), 3 + len(sleep_rows) // 5000)
    dup_at = (
        set(int(k) for k in rng.choice(len(sleep_rows), size=n_dup, replace=False))
        if n_dup
        else set()
    )
    with_dups, dups = [], []
    for k, row in enumerate(sleep_rows):
        with_dups.append(row)
        if k in dup_at:
            with_dups.append(list(row))
            dups.append((row[0], row[1]))
    instant = cal.export_instant(cal.export_date)
    land.write_csv(
        f"{folder}/dailyActivity_merged.csv", DAILY_ACTIVITY_COLUMNS, act_rows, instant, crlf=True
    )
    land.write_csv(
        f"{folder}/sleepDay_merged.csv", SLEEP_DAY_COLUMNS, with_dups, instant, crlf=True
    )
    land.counts["fitabase_activity_rows"] = len(act_rows)
    land.counts["fitabase_sleep_rows"] = len(with_dups)
    return dups
