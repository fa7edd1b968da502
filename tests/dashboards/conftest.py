"""TEMPORARY stand-in for the real `published_data_dir` fixture.

TEMPORARY — delete this file once `tests/conftest.py` provides the session-scoped
`published_data_dir` built by the real pipeline from a generated cohort. A fixture
defined here would shadow that one for tests/dashboards/ and tests/browser/.

Until then it writes a small snapshot with exactly the published schema of
docs/data-model.md (marts.participants, marts.participant_day,
marts.participant_week, meta.snapshot): 33 people in three cohorts, 6-week
programs, with plausible done/missed/unknown days. The dashboard tests compute
every expected value from whatever snapshot they get, never from these numbers.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

AS_OF = date(2025, 3, 20)
PROGRAM_WEEKS = 6
PRESCRIBED = 5

SCHEMA = """
create schema marts;
create schema meta;
create table marts.participants (
    pid varchar, cohort varchar, site varchar, coach_id varchar, enrolled_on date,
    program_weeks integer, prescribed_sessions_per_week integer, timezone varchar,
    withdrawn_on date, has_wearable boolean, program_week_now integer, status varchar
);
create table marts.participant_day (
    pid varchar, day date, program_day integer, program_week integer,
    stretch_sessions integer, stretch_minutes double, max_discomfort integer,
    breathing_share double, stability_followup boolean, steps integer,
    active_minutes integer, wear_minutes integer, sleep_minutes integer,
    sleep_efficiency double, pain integer, sleep_quality integer, stress integer,
    movement_confidence integer, day_state varchar
);
create table marts.participant_week (
    pid varchar, week integer, week_start date, days_elapsed integer,
    week_complete boolean, sessions integer, prescribed integer, adherence double,
    days_practised integer, gentle_share double, breathing_share double,
    stability_followup_share double, mean_steps double, active_minutes integer,
    valid_wear_days integer, mean_sleep_minutes double, mean_pain double,
    checkin_days integer, data_coverage double
);
create table meta.snapshot (
    run_id varchar, published_at timestamptz, as_of date, landing_files integer,
    code_version varchar
);
"""

# (cohort, people, first enrolment day): "winter" has finished, "spring" is in
# week 6, "pilot" has 3 people — a cohort too small to show.
COHORTS = (
    ("2025-winter", 12, date(2025, 1, 6)),
    ("2025-spring", 18, date(2025, 2, 10)),
    ("2025-pilot", 3, date(2025, 3, 3)),
)


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _person_rows(rng: random.Random, pid: str, enrolled_on: date, withdrawn_on: date | None):
    propensity = rng.uniform(0.15, 0.85)
    has_wearable = rng.random() < 0.7
    days, weeks = [], []
    for week in range(1, PROGRAM_WEEKS + 1):
        week_start = enrolled_on + timedelta(days=7 * (week - 1))
        week_days = []
        for offset in range(7):
            day = week_start + timedelta(days=offset)
            program_day = 7 * (week - 1) + offset + 1
            happened = day <= AS_OF and (withdrawn_on is None or day < withdrawn_on)
            if not happened or rng.random() < 0.06:
                state = "unknown"
            else:
                state = "done" if rng.random() < propensity else "missed"
            sessions = {"done": rng.choice((1, 1, 1, 1, 2)), "missed": 0}.get(state)
            worn = happened and has_wearable and rng.random() < 0.85
            checked_in = happened and rng.random() < 0.6
            row = {
                "pid": pid,
                "day": day,
                "program_day": program_day,
                "program_week": week,
                "stretch_sessions": sessions,
                "stretch_minutes": round(sessions * rng.uniform(8, 20), 1)
                if sessions
                else (0.0 if state == "missed" else None),
                "max_discomfort": rng.randint(1, 6) if sessions else None,
                "breathing_share": rng.choice((0.0, 0.5, 1.0)) if sessions else None,
                "stability_followup": rng.random() < 0.5 if sessions else None,
                "steps": rng.randint(2500, 12000) if worn else None,
                "active_minutes": rng.randint(0, 60) if worn else None,
                "wear_minutes": rng.randint(600, 1300) if worn else None,
                "sleep_minutes": rng.randint(330, 500) if worn else None,
                "sleep_efficiency": round(rng.uniform(0.78, 0.95), 3) if worn else None,
                "pain": rng.randint(1, 8) if checked_in else None,
                "sleep_quality": rng.randint(3, 9) if checked_in else None,
                "stress": rng.randint(1, 8) if checked_in else None,
                "movement_confidence": rng.randint(3, 9) if checked_in else None,
                "day_state": state,
            }
            days.append(row)
            week_days.append(row)
        elapsed = [row for row in week_days if row["day"] <= AS_OF]
        practised = [row for row in week_days if row["day_state"] == "done"]
        sessions = sum(row["stretch_sessions"] or 0 for row in week_days)
        worn_days = [row for row in week_days if row["steps"] is not None]
        checkins = [row for row in week_days if row["pain"] is not None]
        weeks.append(
            {
                "pid": pid,
                "week": week,
                "week_start": week_start,
                "days_elapsed": len(elapsed),
                "week_complete": len(elapsed) == 7,
                "sessions": sessions,
                "prescribed": PRESCRIBED,
                "adherence": min(sessions / PRESCRIBED, 1.0) if elapsed else None,
                "days_practised": len(practised),
                "gentle_share": _mean([float(r["max_discomfort"] <= 4) for r in practised]),
                "breathing_share": _mean([r["breathing_share"] for r in practised]),
                "stability_followup_share": _mean(
                    [float(r["stability_followup"]) for r in practised]
                ),
                "mean_steps": _mean([r["steps"] for r in worn_days]),
                "active_minutes": sum(r["active_minutes"] for r in worn_days)
                if worn_days
                else None,
                "valid_wear_days": len(worn_days),
                "mean_sleep_minutes": _mean([r["sleep_minutes"] for r in worn_days]),
                "mean_pain": _mean([r["pain"] for r in checkins]),
                "checkin_days": len(checkins),
                "data_coverage": (
                    len([r for r in elapsed if r["day_state"] != "unknown"]) / len(elapsed)
                    if elapsed
                    else None
                ),
            }
        )
    return has_wearable, days, weeks


def build_fake_snapshot(path: Path, seed: int = 7) -> None:
    """TEMPORARY: write a snapshot with the published schema and plausible values."""
    rng = random.Random(seed)
    participants, all_days, all_weeks = [], [], []
    number = 0
    for cohort, size, first_enrolment in COHORTS:
        for index in range(size):
            number += 1
            pid = f"p{rng.getrandbits(64):016x}"
            enrolled_on = first_enrolment + timedelta(days=index % 4)
            withdrawn_on = enrolled_on + timedelta(days=17) if number in (5, 20) else None
            has_wearable, days, weeks = _person_rows(rng, pid, enrolled_on, withdrawn_on)
            program_end = enrolled_on + timedelta(days=7 * PROGRAM_WEEKS - 1)
            if withdrawn_on is not None and withdrawn_on <= AS_OF:
                status = "withdrawn"
            elif AS_OF < enrolled_on:
                status = "not_started"
            elif AS_OF > program_end:
                status = "completed"
            else:
                status = "active"
            week_now = (
                None
                if AS_OF < enrolled_on
                else min((AS_OF - enrolled_on).days // 7 + 1, PROGRAM_WEEKS)
            )
            participants.append(
                (
                    pid,
                    cohort,
                    f"site-{1 + index % 2}",
                    f"coach-{1 + index % 3}",
                    enrolled_on,
                    PROGRAM_WEEKS,
                    PRESCRIBED,
                    "Europe/Berlin",
                    withdrawn_on,
                    has_wearable,
                    week_now,
                    status,
                )
            )
            all_days.extend(days)
            all_weeks.extend(weeks)

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = duckdb.connect(str(path))
    try:
        connection.execute(SCHEMA)
        connection.executemany(
            "insert into marts.participants values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            participants,
        )
        day_rows = pl.DataFrame(all_days, infer_schema_length=None)
        week_rows = pl.DataFrame(all_weeks, infer_schema_length=None)
        connection.register("day_rows", day_rows)
        connection.register("week_rows", week_rows)
        connection.execute("insert into marts.participant_day by name select * from day_rows")
        connection.execute("insert into marts.participant_week by name select * from week_rows")
        connection.execute(
            "insert into meta.snapshot values (?, ?, ?, ?, ?)",
            [
                "4f1c2e9ab7d34c0e8a51b2c3d4e5f607",
                datetime(2025, 3, 21, 2, 15, tzinfo=UTC),
                AS_OF,
                42,
                "0.1.0",
            ],
        )
    finally:
        connection.close()


@pytest.fixture(scope="session")
def published_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TEMPORARY: a data dir holding `published/current.duckdb` (see module docstring)."""
    data_dir = tmp_path_factory.mktemp("published_data")
    build_fake_snapshot(data_dir / "published" / "current.duckdb")
    return data_dir
