"""Retention: Kaplan–Meier estimate of staying engaged with the program.

A person disengages on the first day that starts 14 days in a row without any
completed session (of any kind). Time is counted in days since enrolment. A
person who is still engaged is censored at the end of what we can see: the
program's end, their withdrawal, or the run's as-of day, whichever comes first.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl

DISENGAGED_AFTER_DAYS = 14
Z_95 = 1.959963984540054


def engagement_spells(
    people: pl.DataFrame, session_days: pl.DataFrame, as_of: date
) -> pl.DataFrame:
    """(pid, days, disengaged) per person.

    people: pid, enrolled_on, program_weeks, withdrawn_on; session_days: pid, day
    (the local days with at least one completed session).
    """
    rows = []
    days_by_person = {
        pid: sorted(days)
        for pid, days in session_days.group_by("pid").agg(pl.col("day")).iter_rows()
    }
    for pid, enrolled_on, program_weeks, withdrawn_on in people.select(
        "pid", "enrolled_on", "program_weeks", "withdrawn_on"
    ).iter_rows():
        if enrolled_on > as_of:
            continue
        # the last day we could have seen: program end, withdrawal or as-of
        horizon = min(
            as_of, enrolled_on + timedelta(days=program_weeks * 7 - 1), withdrawn_on or as_of
        )
        observed = (horizon - enrolled_on).days + 1
        practice = [(d - enrolled_on).days for d in days_by_person.get(pid, []) if d <= horizon]
        practice = [d for d in practice if d >= 0]
        event_day = _first_gap_start(practice, observed)
        if event_day is None:
            rows.append((pid, observed, False))
        else:
            rows.append((pid, event_day, True))
    return pl.DataFrame(
        rows, schema={"pid": pl.String, "days": pl.Int64, "disengaged": pl.Boolean}, orient="row"
    )


def _first_gap_start(practice_days: list[int], observed_days: int) -> int | None:
    """Day index starting the first full 14-day stretch without practice, if one was seen."""
    last = -1  # the day before enrolment counts as practised: a gap may start on day 0
    for day in [*practice_days, None]:
        gap_start = last + 1
        gap_end = day if day is not None else observed_days  # exclusive
        if gap_end - gap_start >= DISENGAGED_AFTER_DAYS:
            return gap_start
        if day is None:
            return None
        last = day
    return None


def kaplan_meier(spells: pl.DataFrame) -> pl.DataFrame:
    """models.retention: days_since_enrolment, at_risk, disengaged, still_engaged + 95 % CI.

    The CI uses Greenwood's variance on the log(−log) scale, which stays inside 0–1.
    """
    schema = {
        "days_since_enrolment": pl.Int64,
        "at_risk": pl.Int64,
        "disengaged": pl.Int64,
        "censored": pl.Int64,
        "still_engaged": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
    }
    if spells.is_empty():
        return pl.DataFrame(schema=schema)
    times = spells["days"].to_numpy()
    events = spells["disengaged"].to_numpy()
    rows = []
    survival, greenwood = 1.0, 0.0
    for t in np.unique(times):
        at_risk = int((times >= t).sum())
        d = int(((times == t) & events).sum())
        c = int(((times == t) & ~events).sum())
        if d:
            survival *= 1 - d / at_risk
            if at_risk > d:
                greenwood += d / (at_risk * (at_risk - d))
        low, high = _loglog_ci(survival, greenwood)
        rows.append((int(t), at_risk, d, c, survival, low, high))
    return pl.DataFrame(rows, schema=schema, orient="row")


def _loglog_ci(survival: float, greenwood: float) -> tuple[float | None, float | None]:
    if survival <= 0 or survival >= 1:
        return (survival, survival) if survival >= 1 else (0.0, 0.0)
    log_s = np.log(survival)
    se = np.sqrt(greenwood) / abs(log_s)
    c = np.log(-log_s)
    return float(np.exp(-np.exp(c + Z_95 * se))), float(np.exp(-np.exp(c - Z_95 * se)))
