"""A person's figures computed from their published days and weeks (no reads of their own):
the Person page and the printable report show the same numbers."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from pipelines.lib.rules import ProgramRules

PAIN_ROLLING_DAYS = 7
PAIN_ROLLING_MIN_CHECKINS = 3
"""The daily pain chart's rolling mean: the last 7 days' check-ins, shown with ≥ 3 of them."""


def day_counts(days: pl.DataFrame, as_of: date) -> dict[str, int]:
    """Days done / missed / unknown up to `as_of`, and the days still to come after it.

    Unknown means no data for a day that has happened; days after `as_of` are
    `upcoming`, not unknown, so they do not read as gaps.
    """
    elapsed = days.filter(pl.col("day") <= as_of)
    states = elapsed["day_state"].to_list()
    return {
        "done": states.count("done"),
        "missed": states.count("missed"),
        "unknown": states.count("unknown"),
        "upcoming": days.height - elapsed.height,
    }


def current_streak(days: pl.DataFrame, as_of: date) -> int:
    """Consecutive `done` days ending at the latest day up to `as_of`.

    The latest day (usually today) may still be in progress: if it is not done
    yet, counting starts from the day before. A missed or unknown day ends the
    streak — a day without data is never counted as done.
    """
    states = days.filter(pl.col("day") <= as_of).sort("day")["day_state"].to_list()
    if states and states[-1] != "done":
        states = states[:-1]
    streak = 0
    for state in reversed(states):
        if state != "done":
            break
        streak += 1
    return streak


def longest_streak(days: pl.DataFrame, as_of: date) -> int:
    """The most consecutive `done` days up to `as_of`; a missed or unknown day ends a run."""
    longest = run = 0
    for state in days.filter(pl.col("day") <= as_of).sort("day")["day_state"].to_list():
        run = run + 1 if state == "done" else 0
        longest = max(longest, run)
    return longest


def elapsed_days(days: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Program days that happened and count: up to `as_of` and not unknown (not after withdrawal)."""
    if not days.height:
        return days
    return days.filter((pl.col("day") <= as_of) & (pl.col("day_state") != "unknown")).sort("day")


def wear_summary(days: pl.DataFrame, as_of: date) -> dict[str, int]:
    """Elapsed days by tracker state (worn / not worn / no data) and nights with sleep."""
    elapsed = elapsed_days(days, as_of)
    states = elapsed["wear_state"].to_list() if elapsed.height else []
    return {
        "days": elapsed.height,
        "worn": states.count("worn"),
        "not_worn": states.count("not_worn"),
        "no_data": states.count("no_data"),
        "sleep_nights": int(elapsed["sleep_minutes"].is_not_null().sum()) if elapsed.height else 0,
    }


def pain_trend(days: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Daily pain on elapsed days with the rolling mean of the last `PAIN_ROLLING_DAYS` days.

    Columns: day, program_week, pain, rolling_checkins, rolling_mean. The rolling mean is the
    mean of the check-ins in the 7 days ending that day (the day itself included), shown only
    with at least `PAIN_ROLLING_MIN_CHECKINS` of them; days without a check-in stay null.
    """
    elapsed = elapsed_days(days, as_of)
    if not elapsed.width:  # nothing was read (no snapshot)
        return elapsed
    window = f"{PAIN_ROLLING_DAYS}d"
    trend = elapsed.select("day", "program_week", "pain").with_columns(
        pl.col("pain")
        .is_not_null()
        .cast(pl.UInt32)
        .rolling_sum_by("day", window)
        .alias("rolling_checkins"),
        pl.col("pain").fill_null(0).cast(pl.Float64).rolling_sum_by("day", window).alias("_sum"),
    )
    return trend.with_columns(
        pl.when(pl.col("rolling_checkins") >= PAIN_ROLLING_MIN_CHECKINS)
        .then(pl.col("_sum") / pl.col("rolling_checkins"))
        .otherwise(None)
        .alias("rolling_mean")
    ).drop("_sum")


def weekly_pain(days: pl.DataFrame, as_of: date, rules: ProgramRules) -> pl.DataFrame:
    """Weekly mean pain as `marts.outcomes` uses it: elapsed days, weeks with at least
    `baseline_min_checkins` check-ins.

    Columns: program_week, week_start (first day), week_mid (day 4), mean_pain, checkin_days.
    """
    elapsed = elapsed_days(days, as_of)
    if not elapsed.width:  # nothing was read (no snapshot)
        return elapsed
    first_day = pl.lit(days["day"].min(), dtype=days.schema["day"])
    return (
        elapsed.group_by("program_week")
        .agg(
            pl.col("pain").mean().alias("mean_pain"),
            pl.col("pain").count().alias("checkin_days"),
        )
        .filter(pl.col("checkin_days") >= rules.baseline_min_checkins)
        .with_columns(
            week_start=first_day + pl.duration(days=(pl.col("program_week") - 1) * 7),
        )
        .with_columns(week_mid=pl.col("week_start") + pl.duration(days=3))
        .select("program_week", "week_start", "week_mid", "mean_pain", "checkin_days")
        .sort("program_week")
    )


def responder_threshold(pain_baseline: float | None, rules: ProgramRules) -> float | None:
    """The weekly mean pain at or below which a person is a pain responder.

    `pain_responder` needs a drop of at least `responder_pain_points` **and** at least
    `responder_pain_share` of baseline, so the line is
    baseline − max(responder_pain_points, responder_pain_share × baseline).
    """
    if pain_baseline is None:
        return None
    return pain_baseline - max(
        rules.responder_pain_points, rules.responder_pain_share * pain_baseline
    )


def effect_evidence(days: pl.DataFrame, weeks: pl.DataFrame, as_of: date) -> dict[str, Any]:
    """How much data a person has for each own-effect estimate, as the pain models count it.

    `paired_days`: elapsed days with both a pain check-in and the night's sleep (daily model);
    `model_weeks`: started weeks with weekly mean pain, adherence and mean steps (weekly
    model). `*_varies`: whether sleep / adherence differ at all across those rows.
    """
    elapsed = elapsed_days(days, as_of)
    paired = (
        elapsed.filter(pl.col("pain").is_not_null() & pl.col("sleep_minutes").is_not_null())
        if elapsed.height
        else elapsed
    )
    model_weeks = (
        weeks.filter(
            (pl.col("days_elapsed") > 0)
            & pl.col("mean_pain").is_not_null()
            & pl.col("adherence").is_not_null()
            & pl.col("mean_steps").is_not_null()
        )
        if weeks.height
        else weeks
    )
    return {
        "paired_days": paired.height,
        # a frame without rows may have no columns either (nothing read): nothing varies
        "sleep_varies": paired.height > 1 and paired["sleep_minutes"].n_unique() > 1,
        "model_weeks": model_weeks.height,
        "adherence_varies": model_weeks.height > 1 and model_weeks["adherence"].n_unique() > 1,
    }
