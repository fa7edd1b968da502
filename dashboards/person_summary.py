"""One person's headline — days, streaks, adherent weeks, tracker wear, pain — computed once.

The Person page and the printable progress report (`dashboards.report`) both render from
`person_summary(...)`, so the two can never show different numbers for the same person.
Pure: frames and values in (what `queries.person.person_panels` returns and the snapshot's as-of
day), a frozen dataclass out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from dashboards import person_metrics
from pipelines.lib.rules import ProgramRules


@dataclass(frozen=True)
class Wear:
    """Elapsed program days (up to as of, not after a withdrawal) by the tracker's wear state."""

    days: int
    worn: int
    partial: int  # some wear, too little for the day's steps to count: steps unknown, not low
    not_worn: int
    no_data: int
    sleep_nights: int  # of those days, nights with sleep recorded

    @property
    def any(self) -> bool:
        """Whether the tracker has told anything yet (a worn, partly worn or unworn day, a night)."""
        return bool(self.worn or self.partial or self.not_worn or self.sleep_nights)


@dataclass(frozen=True)
class PersonSummary:
    """The headline numbers of one person as of a day (docs/metrics.md defines each)."""

    days_done: int
    days_missed: int
    days_unknown: int
    current_streak: int  # days
    longest_streak: int  # days
    complete_weeks: int
    adherent_weeks: int  # complete weeks at or above the adherent share of the prescription
    wear: Wear
    pain_baseline: float | None
    pain_baseline_week: int | None
    pain_latest: float | None
    pain_latest_week: int | None
    pain_change: float | None  # latest − baseline; below 0 = less pain
    pain_change_pct: float | None
    responder: bool | None  # None: not known yet
    responder_threshold: float | None  # the weekly mean at or below which they are a responder

    @property
    def responder_text(self) -> str:
        if self.responder is None:
            return "not known yet"
        return "yes" if self.responder else "not yet"


def person_summary(
    days: pl.DataFrame,
    weeks: pl.DataFrame,
    outcome: dict[str, Any] | None,
    as_of: date,
    rules: ProgramRules,
) -> PersonSummary:
    """The headline of one person from their `marts.participant_day` rows (`days`),
    `marts.participant_week` rows (`weeks`) and `marts.outcomes` row (`outcome`, None when
    they have none), as of `as_of` under the snapshot's program `rules`."""
    if days.height:
        counts = person_metrics.day_counts(days, as_of)
        current, longest = person_metrics.current_streak(days, as_of), person_metrics.longest_streak(days, as_of)
        wear = person_metrics.wear_summary(days, as_of)
    else:
        counts = dict.fromkeys(("done", "missed", "unknown"), 0)
        current = longest = 0
        wear = dict.fromkeys(("days", "worn", "not_worn", "no_data", "sleep_nights"), 0)
    complete = weeks.filter(pl.col("week_complete")) if weeks.height else weeks
    adherent = (
        complete.filter(pl.col("adherence") >= rules.adherent_share).height
        if complete.height
        else 0
    )
    pain = outcome or {}
    baseline = pain.get("pain_baseline")
    return PersonSummary(
        days_done=counts["done"],
        days_missed=counts["missed"],
        days_unknown=counts["unknown"],
        current_streak=current,
        longest_streak=longest,
        complete_weeks=complete.height,
        adherent_weeks=adherent,
        wear=Wear(
            days=wear["days"],
            worn=wear["worn"],
            # the states are worn, partial, not_worn, no_data (marts.participant_day's check)
            partial=wear["days"] - wear["worn"] - wear["not_worn"] - wear["no_data"],
            not_worn=wear["not_worn"],
            no_data=wear["no_data"],
            sleep_nights=wear["sleep_nights"],
        ),
        pain_baseline=baseline,
        pain_baseline_week=pain.get("pain_baseline_week"),
        pain_latest=pain.get("pain_latest"),
        pain_latest_week=pain.get("pain_latest_week"),
        pain_change=pain.get("pain_change"),
        pain_change_pct=pain.get("pain_change_pct"),
        responder=pain.get("pain_responder"),
        responder_threshold=person_metrics.responder_threshold(baseline, rules),
    )
