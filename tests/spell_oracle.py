"""An independent recomputation of engagement spells, to check `marts.engagement_spells` against.

Walks each person's days one by one (the mart finds gaps between practice days with a window):
a person disengages on the first day of the first run of `gap_days` idle days in a row (14
unless a test says otherwise), and is otherwise censored after the last day we could see
(program end, withdrawal or as of).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

GAP_DAYS = 14  # docs/models.md, "Retention"


def expected_spells(
    people: list[tuple[str, date, int, date | None]],
    practice_days: set[tuple[str, date]],
    as_of: date,
    gap_days: int = GAP_DAYS,
) -> dict[str, tuple[int, bool]]:
    """pid → (days, disengaged) for (pid, enrolled_on, program_weeks, withdrawn_on) rows."""
    spells = {}
    for pid, enrolled_on, program_weeks, withdrawn_on in people:
        if enrolled_on > as_of:
            continue
        last_seen = min(
            as_of, enrolled_on + timedelta(days=7 * program_weeks - 1), withdrawn_on or as_of
        )
        idle, spell = 0, None
        day = enrolled_on
        while day <= last_seen:
            idle = 0 if (pid, day) in practice_days else idle + 1
            if idle == gap_days:
                spell = ((day - enrolled_on).days - gap_days + 1, True)
                break
            day += timedelta(days=1)
        spells[pid] = spell or ((last_seen - enrolled_on).days + 1, False)
    return spells


def expected_spells_frame(
    people: pl.DataFrame, session_days: pl.DataFrame, as_of: date, gap_days: int = GAP_DAYS
) -> pl.DataFrame:
    """`expected_spells` as a (pid, days, disengaged) frame, the shape `kaplan_meier` reads.

    people: pid, enrolled_on, program_weeks, withdrawn_on; session_days: pid, day (days with a
    completed session).
    """
    spells = expected_spells(
        list(people.select("pid", "enrolled_on", "program_weeks", "withdrawn_on").iter_rows()),
        set(session_days.select("pid", "day").iter_rows()),
        as_of,
        gap_days,
    )
    return pl.DataFrame(
        [(pid, days, disengaged) for pid, (days, disengaged) in sorted(spells.items())],
        schema={"pid": pl.String, "days": pl.Int64, "disengaged": pl.Boolean},
        orient="row",
    )


def spell_inputs(
    snapshot: Path, pids: Collection[str] | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, date]:
    """What `expected_spells_frame` reads, from a published snapshot (everyone, or `pids`):
    its participants, the days each completed a session, and its as-of day — never
    `marts.engagement_spells`, the table the recomputation is checked against."""
    with duckdb.connect(str(snapshot), read_only=True) as con:
        people = con.sql(
            "select pid, enrolled_on, program_weeks, withdrawn_on from marts.participants"
        ).pl()
        session_days = con.sql("select distinct pid, day from marts.sessions where completed").pl()
        ((as_of,),) = con.execute("select as_of from meta.snapshot").fetchall()
    if pids is not None:
        people = people.filter(pl.col("pid").is_in(list(pids)))
        session_days = session_days.filter(pl.col("pid").is_in(list(pids)))
    return people, session_days, as_of
