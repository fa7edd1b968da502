"""Dose–response: pain change by adherence band, with 95 % confidence intervals.

A person's adherence is the mean of their weekly adherence over completed
program weeks; their pain change is latest minus baseline weekly mean pain
(marts.outcomes). Bands follow the exercise-therapy literature's 80 % threshold
(program-exports spec): < 60 %, 60–79 %, ≥ 80 %.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

BANDS = (("< 60 %", 0.0, 0.6), ("60–79 %", 0.6, 0.8), ("≥ 80 %", 0.8, 1.0 + 1e-9))


def adherence_band(adherence: float) -> str:
    for name, low, high in BANDS:
        if low <= adherence < high:
            return name
    raise ValueError(f"adherence {adherence} outside 0–1")


def dose_response(people: pl.DataFrame) -> pl.DataFrame:
    """models.dose_response from (pid, mean_adherence, pain_change) per person.

    CIs are t-intervals of the band's mean change; a band with fewer than two
    people has no interval.
    """
    rows = []
    known = people.drop_nulls(["mean_adherence", "pain_change"])
    banded = known.with_columns(
        pl.col("mean_adherence").map_elements(adherence_band, return_dtype=pl.String).alias("band")
    )
    for order, (name, _, _) in enumerate(BANDS):
        changes = banded.filter(pl.col("band") == name)["pain_change"].to_numpy()
        n = len(changes)
        mean = float(changes.mean()) if n else None
        low = high = None
        if n >= 2:
            sem = float(changes.std(ddof=1) / np.sqrt(n))
            half = float(stats.t.ppf(0.975, n - 1)) * sem
            low, high = mean - half, mean + half
        rows.append((order + 1, name, n, mean, low, high))
    return pl.DataFrame(
        rows,
        schema={
            "band_order": pl.Int64,
            "band": pl.String,
            "n_people": pl.Int64,
            "mean_pain_change": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
        },
        orient="row",
    )
