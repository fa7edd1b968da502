"""The analysis panels the models read, queried from the warehouse's marts.

Missing stays missing: a day without a check-in has no pain, a night without a
worn tracker has no sleep, a week that has not started has no adherence.
"""

from __future__ import annotations

import duckdb
import polars as pl


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())


def daily_panel(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """pid, day, week, pain, sleep_prev_night_h: one row per known program day."""
    return _frame(
        con,
        """
        select pid, day, program_week as week, pain::double as pain,
               sleep_minutes / 60.0 as sleep_prev_night_h
        from marts.participant_day
        where day_state <> 'unknown'
        order by pid, day
        """,
    )


def weekly_panel(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """pid, week, mean_pain, adherence, mean_steps: one row per started program week."""
    return _frame(
        con,
        """
        select pid, week, mean_pain, adherence, mean_steps
        from marts.participant_week
        where days_elapsed > 0
        order by pid, week
        """,
    )


def adherence_and_pain_change(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """pid, mean_adherence over completed weeks, pain_change (latest − baseline)."""
    return _frame(
        con,
        """
        select o.pid, w.mean_adherence, o.pain_change
        from marts.outcomes as o
        left join (
            select pid, avg(adherence) as mean_adherence
            from marts.participant_week
            where week_complete
            group by pid
        ) as w using (pid)
        order by o.pid
        """,
    )
