"""Write truth/: what the generator planted, for tests to compare the pipeline against."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .behaviour import Behaviour, Session
from .exports import Correction, Planted, fmt
from .intraday import WEAR_DAY_COLUMNS, WEAR_GAP_COLUMNS, WearTruth
from .outcomes import (
    BASE_MEAN,
    BASE_SD,
    BETA,
    CONSISTENCY_CENTRE,
    NOISE_SD,
    STEPS_CENTRE,
    Outcomes,
)
from .people import Person
from .schedule import Calendar, iso_utc
from .wearable import Recording

PARTICIPANT_COLUMNS = (
    "participant_id",
    "fitbit_id",
    "cohort",
    "site",
    "coach_id",
    "enrolled_on",
    "program_weeks",
    "prescribed_sessions_per_week",
    "timezone",
    "withdrawn_on",
    "archetype",
    "display_name",
)
SESSION_COLUMNS = (
    "session_id",
    "participant_id",
    "started_at_utc",
    "local_day",
    "local_time",
    "kind",
    "target",
    "duration_s",
    "discomfort",
    "guided_breathing",
    "completed",
)
DAY_COLUMNS = (
    "participant_id",
    "day",
    "program_day",
    "program_week",
    "elapsed",
    "completed_stretch_sessions",
    "worn",
    "steps_recorded",
    "sleep_minutes_recorded",
    "pain",
)
WEEK_COLUMNS = (
    "participant_id",
    "program_week",
    "week_start",
    "days_elapsed",
    "completed_stretch_sessions",
    "prescribed",
    "adherence",
    "steps_w",
    "mean_adh",
    "mean_steps",
)
PROM_COLUMNS = (
    "participant_id",
    "redcap_event_name",
    "prom_date",
    "oswestry_complete",
    "odi_items_answered",
    "odi_score",
    "tsk_complete",
    "tsk_score",
    "psqi_total",
)
QUARANTINE_COLUMNS = ("file", "line", "field", "value", "reason")
CORRECTION_COLUMNS = ("session_id", "field", "first_value", "final_value")

EFFECT_UNITS = {
    "week": ("pain NRS points per program week", "within"),
    "sleep_prev_night_h": ("next-day pain NRS points per extra hour asleep", "within"),
    "consistency_10pct": (
        "weekly mean pain NRS points per +10 percentage points weekly adherence",
        "within",
    ),
    "consistency_10pct_between": (
        "pain NRS points per +10 percentage points person-mean adherence",
        "between",
    ),
    "steps_1000": ("weekly mean pain NRS points per +1,000 mean daily steps", "within"),
    "steps_1000_between": ("pain NRS points per +1,000 person-mean daily steps", "between"),
}


def _num(x: float, digits: int = 4) -> str:
    return "" if x is None or (isinstance(x, float) and np.isnan(x)) else f"{round(x, digits)}"


def _write(path: Path, header, rows) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def write_truth(
    root: Path,
    cal: Calendar,
    seed: int,
    people: list[Person],
    behaviours: list[Behaviour],
    outcomes: list[Outcomes],
    recordings: list[Recording | None],
    planted: list[Planted],
    corrections: list[Correction],
    sleep_duplicates: list[tuple[str, str]],
) -> list[Path]:
    files: list[Path] = []
    files.append(
        _write(
            root / "participants.csv",
            PARTICIPANT_COLUMNS,
            [
                [
                    p.participant_id,
                    fmt(p.fitbit_id),
                    p.cohort,
                    p.site,
                    p.coach_id,
                    p.enrolled_on.isoformat(),
                    p.program_weeks,
                    p.prescribed,
                    p.timezone,
                    p.withdrawn_on.isoformat() if p.withdrawn_on else "",
                    p.archetype,
                    fmt(p.display_name),
                ]
                for p in people
            ],
        )
    )

    def session_row(s: Session) -> list:
        return [
            s.session_id,
            s.participant_id,
            iso_utc(s.start),
            s.local_day.isoformat(),
            s.start.strftime("%H:%M"),
            s.kind,
            fmt(s.target),
            s.duration_s,
            fmt(s.discomfort),
            fmt(s.guided_breathing),
            fmt(s.completed),
        ]

    all_sessions = sorted(
        (s for b in behaviours for s in b.sessions),
        key=lambda s: (s.participant_id, s.start, s.session_id),
    )
    files.append(_write(root / "sessions.csv", SESSION_COLUMNS, map(session_row, all_sessions)))

    day_rows, week_rows, prom_rows = [], [], []
    for p, o, rec in zip(people, outcomes, recordings, strict=True):
        pain = o.pain_on()
        sleep = {s.day: s.minutes_asleep for s in rec.sleep} if rec else {}
        for d, day in enumerate(o.days):
            elapsed = bool(o.elapsed[d])
            worn = rec.worn_on(day) if rec else None
            steps = rec.activity[(day - rec.first).days].steps if worn else None
            day_rows.append(
                [
                    p.participant_id,
                    day.isoformat(),
                    d + 1,
                    d // 7 + 1,
                    fmt(elapsed),
                    int(o.completed_stretch[d]) if elapsed else "",
                    fmt(worn),
                    fmt(steps),
                    fmt(sleep.get(day)),
                    fmt(pain.get(day)),
                ]
            )
        for wk in o.weeks:
            week_rows.append(
                [
                    p.participant_id,
                    wk.week,
                    wk.start.isoformat(),
                    wk.days_elapsed,
                    wk.completed_stretch if wk.days_elapsed else "",
                    p.prescribed,
                    _num(wk.adherence),
                    _num(wk.steps_w, 1),
                    _num(o.mean_adh),
                    _num(o.mean_steps, 1),
                ]
            )
        for pr in o.proms:
            prom_rows.append(
                [
                    pr.record_id,
                    pr.event,
                    pr.prom_date.isoformat(),
                    pr.oswestry_complete,
                    sum(x is not None for x in pr.odi),
                    fmt(pr.odi_score),
                    pr.tsk_complete,
                    fmt(pr.tsk_score),
                    fmt(pr.psqi_total),
                ]
            )
    files.append(_write(root / "days.csv", DAY_COLUMNS, day_rows))
    files.append(_write(root / "weeks.csv", WEEK_COLUMNS, week_rows))
    files.append(_write(root / "proms.csv", PROM_COLUMNS, prom_rows))
    files.append(
        _write(
            root / "quarantine.csv",
            QUARANTINE_COLUMNS,
            [
                [q.file, q.line, q.field, q.value, q.reason]
                for q in sorted(planted, key=lambda q: (q.file, q.line))
            ],
        )
    )
    files.append(
        _write(
            root / "corrections.csv",
            CORRECTION_COLUMNS,
            [[c.session_id, c.field, c.first_value, c.final_value] for c in corrections],
        )
    )

    effects = {
        "seed": seed,
        "participants": len(people),
        "weeks": cal.weeks,
        "export_date": cal.export_date.isoformat(),
        "as_of": cal.as_of.isoformat(),
        "outcome": "daily pain NRS 0-10, reported on check-in days",
        "formula": (
            "latent = base + week*(w-1) + sleep_prev_night_h*(sleep_h - mean_sleep_h)"
            " + consistency_10pct*10*(adh_w - mean_adh)"
            " + consistency_10pct_between*10*(mean_adh - 0.7)"
            " + steps_1000*(steps_w - mean_steps)/1000"
            " + steps_1000_between*(mean_steps - 7000)/1000 + e;"
            " pain = clip(floor(latent + 0.5), 0, 10)"
        ),
        "effects": {
            term: {
                "estimate": BETA[term],
                "unit": EFFECT_UNITS[term][0],
                "level": EFFECT_UNITS[term][1],
            }
            for term in (
                "sleep_prev_night_h",
                "consistency_10pct",
                "steps_1000",
                "consistency_10pct_between",
                "steps_1000_between",
                "week",
            )
        },
        "base": {"mean": BASE_MEAN, "sd": BASE_SD},
        "residual_sd": NOISE_SD,
        "centres": {"consistency": CONSISTENCY_CENTRE, "steps": STEPS_CENTRE},
        "sleep_duplicates": [list(k) for k in sleep_duplicates],
    }
    path = root / "effects.json"
    path.write_text(json.dumps(effects, indent=2) + "\n", encoding="utf-8")
    files.append(path)
    return files


def write_wear_truth(root: Path, wear: WearTruth) -> list[Path]:
    """truth/wear_days.csv and truth/wear_gaps.csv (minute-level cohorts only)."""
    return [
        _write(root / "wear_days.csv", WEAR_DAY_COLUMNS, wear.days),
        _write(root / "wear_gaps.csv", WEAR_GAP_COLUMNS, wear.gaps),
    ]
