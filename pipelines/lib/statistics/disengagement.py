"""What is known at the end of each program week, and whether a disengagement spell followed.

The early warning (`early_warning.py`) learns from these frames. Two halves, kept apart on
purpose:

* **Features** (`week_features`) use only a person's days up to the end of the week (an as-of
  cut: every value of week w is computed from program days 1 … 7·w), so a prediction for a past
  week never changes when later data arrives.
* **Labels** (`labelled_weeks`) look ahead: whether a disengagement spell — the first run of
  `disengagement_gap_days` days without any completed session, `marts.engagement_spells`, the
  rule's one definition — is under way within `disengagement_horizon_days` days after the
  week's end. The label is known only when we have seen far enough ahead.

docs/models.md, "Early warning", defines every feature and the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from pipelines.lib.rules import ProgramRules

WEEK_DAYS = 7

FEATURES = (
    "adherence",
    "adherence_change",
    "days_practised",
    "regularity",
    "days_since_session",
    "checkin_days",
    "days_since_checkin",
    "discomfort_change",
    "pain_change",
    "sleep_change_h",
    "steps_change_1000",
    "program_week",
    "days_left",
)
"""The model's inputs, in this order (docs/models.md, "Early warning", says what each is)."""


@dataclass(frozen=True)
class WarningInputs:
    """The marts the early warning reads.

    days: pid, program_day, program_week, stretch_sessions, practised (any completed session),
    checked_in, max_discomfort, pain, sleep_minutes, steps — one row per elapsed program day.
    regularity: pid, week, regularity — `marts.principles.regularity` (its one definition).
    people: pid, cohort, enrolled_on, prescribed, program_weeks.
    spells: pid, disengaged_on (null: not disengaged), last_seen (the last day followed),
    followed_to_end (followed to the program's last day).
    """

    days: pl.DataFrame
    regularity: pl.DataFrame
    people: pl.DataFrame
    spells: pl.DataFrame


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())


def warning_inputs(con: duckdb.DuckDBPyConnection) -> WarningInputs:
    """The early warning's inputs from a warehouse (or a snapshot) holding the marts."""
    days = _frame(
        con,
        """
        select
            d.pid,
            d.program_day,
            d.program_week,
            d.stretch_sessions,
            s.pid is not null as practised,
            d.pain is not null or d.sleep_quality is not null or d.stress is not null
                or d.movement_confidence is not null as checked_in,
            d.max_discomfort::double as max_discomfort,
            d.pain::double as pain,
            d.sleep_minutes::double as sleep_minutes,
            d.steps::double as steps
        from marts.participant_day as d
        left join (select distinct pid, day from marts.sessions where completed) as s
            using (pid, day)
        where d.day_state <> 'unknown'
        order by d.pid, d.program_day
        """,
    )
    regularity = _frame(
        con,
        "select pid, week, regularity::double as regularity from marts.principles order by pid, week",
    )
    people = _frame(
        con,
        """
        select pid, cohort, enrolled_on, prescribed_sessions_per_week as prescribed, program_weeks
        from marts.participants
        order by pid
        """,
    )
    spells = _frame(
        con,
        """
        select
            s.pid,
            s.disengaged_on,
            s.enrolled_on + s.followed_days - 1 as last_seen,
            s.followed_days = p.program_weeks * 7 as followed_to_end
        from marts.engagement_spells as s
        join marts.participants as p using (pid)
        order by s.pid
        """,
    )
    return WarningInputs(days, regularity, people, spells)


def _earlier_mean(total: str, count: str, this_week: bool = False) -> pl.Expr:
    """The mean over the person's weeks before this one (or up to it), from per-week sums and
    counts."""
    back = 0 if this_week else 1
    before_total = pl.col(total).cum_sum().shift(back).over("pid")
    before_count = pl.col(count).cum_sum().shift(back).over("pid")
    return pl.when(before_count > 0).then(before_total / before_count)


def _week_mean(total: str, count: str) -> pl.Expr:
    return pl.when(pl.col(count) > 0).then(pl.col(total) / pl.col(count))


def week_features(inputs: WarningInputs, rules: ProgramRules) -> pl.DataFrame:
    """One row per person and completed program week: FEATURES and the raw values behind them.

    Only days up to the end of the week count (cumulative sums and shifts over earlier weeks,
    never a later one). A week is completed when all 7 of its days have elapsed. `days_left`
    (program days after the week) is capped at disengagement_gap_days +
    disengagement_horizon_days: with more room than that, a spell fits either way.
    """
    days, people = inputs.days, inputs.people
    weekly = (
        days.group_by("pid", pl.col("program_week").alias("week"))
        .agg(
            pl.len().alias("elapsed_days"),
            pl.col("stretch_sessions").sum().alias("sessions"),
            (pl.col("stretch_sessions") > 0).sum().alias("days_practised"),
            pl.col("checked_in").sum().alias("checkin_days"),
            pl.col("program_day").filter(pl.col("practised")).max().alias("last_session_day"),
            pl.col("program_day").filter(pl.col("checked_in")).max().alias("last_checkin_day"),
            *(
                expression
                for column in ("max_discomfort", "pain", "sleep_minutes", "steps")
                for expression in (
                    pl.col(column).sum().alias(f"{column}_total"),
                    pl.col(column).count().alias(f"{column}_count"),
                )
            ),
        )
        .join(people.select("pid", "prescribed", "enrolled_on", "program_weeks"), on="pid")
        .join(inputs.regularity, on=["pid", "week"], how="left")
        .with_columns(
            pl.col("regularity").fill_null(0).alias("regularity_total"),
            pl.col("regularity").is_not_null().cast(pl.Int64).alias("regularity_count"),
        )
        .sort("pid", "week")
    )
    room = rules.disengagement_gap_days + rules.disengagement_horizon_days
    end_day = pl.col("week") * WEEK_DAYS
    adherence = pl.when(pl.col("prescribed") > 0).then(
        pl.min_horizontal(pl.lit(1.0), pl.col("sessions") / pl.col("prescribed"))
    )
    features = (
        weekly.with_columns(adherence.alias("adherence"))
        .with_columns(
            # the mean of the (up to) two weeks before
            pl.col("adherence")
            .shift(1)
            .rolling_mean(2, min_samples=1)
            .over("pid")
            .alias("adherence_before"),
            pl.col("sessions")
            .cast(pl.Float64)
            .shift(1)
            .rolling_mean(2, min_samples=1)
            .over("pid")
            .alias("sessions_before"),
            # the last day with a completed session (any kind) or check-in up to the week's end;
            # none yet: the day before enrolment, as for the disengagement spell
            (
                end_day
                - pl.col("last_session_day").cum_max().forward_fill().over("pid").fill_null(0)
            ).alias("days_since_session"),
            (
                end_day
                - pl.col("last_checkin_day").cum_max().forward_fill().over("pid").fill_null(0)
            ).alias("days_since_checkin"),
            (_week_mean("max_discomfort_total", "max_discomfort_count")).alias("discomfort"),
            _earlier_mean("max_discomfort_total", "max_discomfort_count").alias(
                "discomfort_before"
            ),
            _week_mean("pain_total", "pain_count").alias("pain"),
            _earlier_mean("pain_total", "pain_count").alias("pain_before"),
            _week_mean("sleep_minutes_total", "sleep_minutes_count").alias("sleep_minutes"),
            _earlier_mean("sleep_minutes_total", "sleep_minutes_count").alias("sleep_before"),
            _week_mean("steps_total", "steps_count").alias("steps"),
            _earlier_mean("steps_total", "steps_count").alias("steps_before"),
        )
        .with_columns(
            (pl.col("adherence") - pl.col("adherence_before")).alias("adherence_change"),
            (pl.col("discomfort") - pl.col("discomfort_before")).alias("discomfort_change"),
            (pl.col("pain") - pl.col("pain_before")).alias("pain_change"),
            ((pl.col("sleep_minutes") - pl.col("sleep_before")) / 60).alias("sleep_change_h"),
            ((pl.col("steps") - pl.col("steps_before")) / 1000).alias("steps_change_1000"),
            pl.col("week").alias("program_week"),
            pl.min_horizontal(pl.col("program_weeks") * WEEK_DAYS - end_day, pl.lit(room)).alias(
                "days_left"
            ),
            # the mean of the weekly regularity so far (weeks without a session have none)
            _earlier_mean("regularity_total", "regularity_count", this_week=True).alias(
                "regularity"
            ),
            (pl.col("enrolled_on") + pl.duration(days=end_day - 1)).alias("as_of"),
        )
        .filter(pl.col("elapsed_days") == WEEK_DAYS)
    )
    return features.select(
        "pid",
        "week",
        "as_of",
        *(pl.col(name).cast(pl.Float64) for name in FEATURES),
        "sessions",
        "prescribed",
        "sessions_before",
        "pain",
        "sleep_minutes",
        "steps",
    ).sort("pid", "week")


def labelled_weeks(inputs: WarningInputs, rules: ProgramRules) -> pl.DataFrame:
    """`features` of the weeks at risk, with the person's cohort and the label.

    At risk: not yet disengaged at the week's end (the person's first spell, if any, has not
    yet lasted `disengagement_gap_days` days by then). `event`: the first spell starts within
    `disengagement_horizon_days` days after the week's end, or has started already and is still
    running. It is null until the whole window that decides it has been seen — horizon + gap − 1
    days after the week, or the program's end (no spell can run past it) — whatever the
    outcome: a spell is confirmed sooner than its absence, and labelling those weeks early would
    over-count spells among the recent weeks.
    """
    features, people, spells = week_features(inputs, rules), inputs.people, inputs.spells
    gap = rules.disengagement_gap_days
    horizon = rules.disengagement_horizon_days
    known_from = pl.col("as_of") + pl.duration(days=horizon + gap - 1)
    disengaged = pl.col("disengaged_on").is_not_null()
    return (
        features.join(people.select("pid", "cohort"), on="pid")
        .join(spells, on="pid", how="left")
        .filter(
            ~(disengaged & (pl.col("disengaged_on") + pl.duration(days=gap - 1) <= pl.col("as_of")))
        )
        .with_columns(
            pl.when(pl.col("followed_to_end") | (pl.col("last_seen") >= known_from))
            .then(
                disengaged
                & (pl.col("disengaged_on") <= pl.col("as_of") + pl.duration(days=horizon))
            )
            .alias("event")
        )
        .drop("disengaged_on", "last_seen", "followed_to_end")
        .sort("pid", "week")
    )
