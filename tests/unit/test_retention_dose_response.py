"""Retention (Kaplan–Meier) and dose–response, checked against independent implementations."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from statsmodels.duration.survfunc import SurvfuncRight

from pipelines.lib.models.dose_response import adherence_band, dose_response
from pipelines.lib.models.retention import engagement_spells, kaplan_meier

START = date(2026, 3, 2)


def people(*rows):
    return pl.DataFrame(
        list(rows),
        schema={
            "pid": pl.String,
            "enrolled_on": pl.Date,
            "program_weeks": pl.Int64,
            "withdrawn_on": pl.Date,
        },
        orient="row",
    )


def sessions(pid, offsets):
    return [(pid, START + timedelta(days=d)) for d in offsets]


def test_disengagement_is_the_start_of_the_first_14_day_gap_and_censoring_is_what_we_could_see():
    roster = people(
        ("steady", START, 4, None),  # practises every other day: never disengages
        ("fades", START, 4, None),  # last session on day 9: disengaged from day 10
        ("never", START, 4, None),  # never practised: disengaged from day 0
        ("left", START, 4, START + timedelta(days=11)),  # withdrew on day 11 before a full gap
        ("late", START + timedelta(days=20), 4, None),  # enrolled 8 days before as of
    )
    days = pl.DataFrame(
        sessions("steady", range(0, 28, 2))
        + sessions("fades", range(0, 10))
        + sessions("left", [0, 1]),
        schema={"pid": pl.String, "day": pl.Date},
        orient="row",
    )
    spells = engagement_spells(roster, days, as_of=START + timedelta(days=27))
    got = {pid: (d, e) for pid, d, e in spells.iter_rows()}
    assert got == {
        "steady": (28, False),
        "fades": (10, True),
        "never": (0, True),
        "left": (12, False),
        "late": (8, False),
    }


def test_kaplan_meier_matches_statsmodels_survival_and_greenwood_error():
    rng = np.random.default_rng(3)
    times = rng.integers(0, 84, size=200)
    events = rng.random(200) < 0.6
    spells = pl.DataFrame(
        {"pid": [str(i) for i in range(200)], "days": times, "disengaged": events}
    )
    ours = kaplan_meier(spells)
    reference = SurvfuncRight(times, events.astype(int))
    at_event_times = ours.filter(pl.col("disengaged") > 0)
    np.testing.assert_allclose(
        at_event_times["still_engaged"].to_numpy(), reference.surv_prob, rtol=1e-12
    )
    # Greenwood: SE(S) = S · sqrt(Σ d / (n (n − d))); our CI is built from the same variance
    d, n = at_event_times["disengaged"].to_numpy(), at_event_times["at_risk"].to_numpy()
    se = at_event_times["still_engaged"].to_numpy() * np.sqrt(np.cumsum(d / (n * (n - d))))
    np.testing.assert_allclose(se, reference.surv_prob_se, rtol=1e-9)
    inside = ours.drop_nulls("ci_low")
    assert (
        (inside["ci_low"] <= inside["still_engaged"])
        & (inside["still_engaged"] <= inside["ci_high"])
    ).all()
    assert (inside["ci_low"] >= 0).all() and (inside["ci_high"] <= 1).all()


def test_adherence_bands_follow_the_80_percent_threshold():
    assert [adherence_band(a) for a in (0.0, 0.59, 0.6, 0.79, 0.8, 1.0)] == [
        "< 60 %",
        "< 60 %",
        "60–79 %",
        "60–79 %",
        "≥ 80 %",
        "≥ 80 %",
    ]


def test_dose_response_means_and_t_intervals():
    from scipy import stats

    changes = {"< 60 %": [0.5, 1.0, -0.5], "60–79 %": [-1.0], "≥ 80 %": [-2.0, -1.5, -2.5, -1.0]}
    adherence = {"< 60 %": 0.4, "60–79 %": 0.7, "≥ 80 %": 0.9}
    rows = [
        (f"{band}{i}", adherence[band], c) for band, cs in changes.items() for i, c in enumerate(cs)
    ]
    rows.append(("no-outcome", 0.95, None))
    table = dose_response(
        pl.DataFrame(rows, schema=["pid", "mean_adherence", "pain_change"], orient="row")
    )
    by_band = {r["band"]: r for r in table.iter_rows(named=True)}
    high = np.array(changes["≥ 80 %"])
    half = stats.t.ppf(0.975, len(high) - 1) * high.std(ddof=1) / np.sqrt(len(high))
    assert by_band["≥ 80 %"]["n_people"] == 4
    assert by_band["≥ 80 %"]["mean_pain_change"] == pytest.approx(high.mean())
    assert by_band["≥ 80 %"]["ci_low"] == pytest.approx(high.mean() - half)
    assert by_band["60–79 %"]["ci_low"] is None, "one person has no interval"
    assert table["band"].to_list() == ["< 60 %", "60–79 %", "≥ 80 %"]
