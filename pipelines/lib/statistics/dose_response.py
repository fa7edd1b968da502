"""Dose–response: pain change by adherence band, with 95 % confidence intervals.

A person's adherence is the mean of their weekly adherence over completed
program weeks; their pain change is latest minus baseline weekly mean pain
(marts.outcomes). The top band starts at the adherent-week threshold (the program
rules' `adherent_share`, from the exercise-therapy literature), the middle one at
`dose_band_low_share`; docs/models.md, "Dose–response".
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

from pipelines.lib.rules import ProgramRules, percent_number

from .contract import DOSE_RESPONSE_SCHEMA


class Band(NamedTuple):
    """Mean adherence in [low, high) — the top band includes 1."""

    label: str
    low: float
    high: float


def bands(rules: ProgramRules) -> tuple[Band, Band, Band]:
    """The three adherence bands, lowest first, labelled as the dashboards show them."""
    low, adherent = rules.dose_band_low_share, rules.adherent_share
    whole = all(round(share * 100, 1).is_integer() for share in (low, adherent))
    middle = (
        f"{percent_number(low)}–{round(adherent * 100) - 1} %"  # whole percents: "60–79 %"
        if whole
        else f"{percent_number(low)} to < {percent_number(adherent)} %"
    )
    return (
        Band(f"< {percent_number(low)} %", 0.0, low),
        Band(middle, low, adherent),
        Band(f"≥ {percent_number(adherent)} %", adherent, 1.0 + 1e-9),
    )


def adherence_band(adherence: float, rules: ProgramRules) -> str:
    for name, low, high in bands(rules):
        if low <= adherence < high:
            return name
    raise ValueError(f"adherence {adherence} outside 0–1")


def dose_response(people: pl.DataFrame, rules: ProgramRules) -> pl.DataFrame:
    """models.dose_response from (pid, mean_adherence, pain_change) per person.

    CIs are t-intervals of the band's mean change; a band with fewer than two
    people has no interval.
    """
    rows = []
    known = people.drop_nulls(["mean_adherence", "pain_change"])
    banded = known.with_columns(
        pl.col("mean_adherence")
        .map_elements(lambda adherence: adherence_band(adherence, rules), return_dtype=pl.String)
        .alias("band")
    )
    for order, (name, _, _) in enumerate(bands(rules)):
        changes = banded.filter(pl.col("band") == name)["pain_change"].to_numpy()
        n = len(changes)
        mean = float(changes.mean()) if n else None
        low = high = None
        if n >= 2:
            from scipy import stats  # ~1 s to import: only when a band has an interval

            sem = float(changes.std(ddof=1) / np.sqrt(n))
            half = float(stats.t.ppf(0.975, n - 1)) * sem
            low, high = mean - half, mean + half
        rows.append((order + 1, name, n, mean, low, high))
    return pl.DataFrame(
        rows,
        schema=DOSE_RESPONSE_SCHEMA,
        orient="row",
    )
