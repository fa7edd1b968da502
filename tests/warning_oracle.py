"""An independent recomputation of the early warning's weeks: which person-weeks are at risk, their
label and their features, from lower-level published tables and rule values written out by the
test.

Walks each person's days one by one (the code under test uses cumulative window expressions):
`marts.participant_day` for practice, check-ins, discomfort, pain, sleep and steps,
`marts.sessions` for the days with any completed session, `marts.principles.regularity` (that
score's one definition), `marts.participants`, and the spells from `spell_oracle` (never
`marts.engagement_spells`). docs/models.md, "Early warning", is the definition.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from statistics import fmean

import duckdb
from spell_oracle import expected_spells


@dataclass(frozen=True)
class Week:
    cohort: str
    as_of: date
    event: bool | None
    features: dict[str, float | None]


def _mean(values: list) -> float | None:
    known = [v for v in values if v is not None]
    return fmean(known) if known else None


def _change(now: list, before: list, scale: float = 1.0) -> float | None:
    a, b = _mean(now), _mean(before)
    return None if a is None or b is None else (a - b) / scale


def expected_weeks(snapshot: Path, rules: dict) -> dict[tuple[str, int], Week]:
    """(pid, week) → Week, for every completed program week at risk."""
    gap, horizon = rules["disengagement_gap_days"], rules["disengagement_horizon_days"]
    with duckdb.connect(str(snapshot), read_only=True) as con:
        ((as_of,),) = con.execute("select as_of from meta.snapshot").fetchall()
        people = con.execute(
            "select pid, cohort, enrolled_on, program_weeks, withdrawn_on, "
            "prescribed_sessions_per_week from marts.participants"
        ).fetchall()
        days: dict[str, list[tuple]] = defaultdict(list)
        for pid, *row in con.execute(
            "select pid, day, program_day, program_week, day_state, stretch_sessions, pain, "
            "sleep_quality, stress, movement_confidence, max_discomfort, sleep_minutes, steps "
            "from marts.participant_day order by pid, program_day"
        ).fetchall():
            days[pid].append(tuple(row))
        practice = set(
            con.execute("select distinct pid, day from marts.sessions where completed").fetchall()
        )
        regularity = {
            (pid, week): value
            for pid, week, value in con.execute(
                "select pid, week, regularity from marts.principles"
            ).fetchall()
        }
    spells = expected_spells(
        [(pid, enrolled, weeks, withdrawn) for pid, _, enrolled, weeks, withdrawn, _ in people],
        practice,
        as_of,
        gap,
    )
    found = {}
    for pid, cohort, enrolled_on, program_weeks, withdrawn_on, prescribed in people:
        if pid not in spells:
            continue
        spell_days, disengaged = spells[pid]
        disengaged_on = enrolled_on + timedelta(days=spell_days) if disengaged else None
        program_end = enrolled_on + timedelta(days=7 * program_weeks - 1)
        last_seen = min(as_of, program_end, withdrawn_on or as_of)
        elapsed = [d for d in days[pid] if d[3] != "unknown"]
        for week in range(1, program_weeks + 1):
            week_days = [d for d in elapsed if d[2] == week]
            if len(week_days) < 7:
                continue
            end = enrolled_on + timedelta(days=7 * week - 1)
            if disengaged_on is not None and disengaged_on + timedelta(days=gap - 1) <= end:
                continue  # disengaged already: no longer at risk
            event = None
            if last_seen == program_end or last_seen >= end + timedelta(days=horizon + gap - 1):
                event = disengaged_on is not None and disengaged_on <= end + timedelta(days=horizon)
            so_far = [d for d in elapsed if d[2] <= week]
            before = [d for d in elapsed if d[2] < week]
            checked = [d for d in so_far if any(v is not None for v in d[5:9])]
            practised = [d for d in so_far if (pid, d[0]) in practice]
            sessions = sum(d[4] for d in week_days)
            history = [
                min(1.0, sum(d[4] for d in elapsed if d[2] == w) / prescribed)
                for w in (week - 2, week - 1)
                if w >= 1
            ]
            adherence = min(1.0, sessions / prescribed)
            regular = [regularity[(pid, w)] for w in range(1, week + 1)]
            found[(pid, week)] = Week(
                cohort,
                end,
                event,
                {
                    "adherence": adherence,
                    "adherence_change": adherence - fmean(history) if history else None,
                    "days_practised": float(sum(d[4] > 0 for d in week_days)),
                    "regularity": _mean(regular),
                    "days_since_session": 7.0 * week - max((d[1] for d in practised), default=0),
                    "checkin_days": float(sum(d in checked for d in week_days)),
                    "days_since_checkin": 7.0 * week - max((d[1] for d in checked), default=0),
                    "discomfort_change": _change([d[9] for d in week_days], [d[9] for d in before]),
                    "pain_change": _change([d[5] for d in week_days], [d[5] for d in before]),
                    "sleep_change_h": _change(
                        [d[10] for d in week_days], [d[10] for d in before], 60
                    ),
                    "steps_change_1000": _change(
                        [d[11] for d in week_days], [d[11] for d in before], 1000
                    ),
                    "program_week": float(week),
                    "days_left": float(min(7 * (program_weeks - week), gap + horizon)),
                },
            )
    return found
