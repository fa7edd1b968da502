"""Retention (Kaplan–Meier) and dose–response, checked against independent implementations."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest
from spell_oracle import expected_spells
from statsmodels.duration.survfunc import SurvfuncRight

from pipelines.lib.rules import AppliedRules, ProgramRules, record_rules
from pipelines.lib.sql_catalog import load_sql_tables
from pipelines.lib.statistics.dose_response import adherence_band, dose_response
from pipelines.lib.statistics.retention import engagement_spells, kaplan_meier
from pipelines.lib.warehouse import build_table

START = date(2026, 3, 2)
DEFAULT = ProgramRules()


def spells_mart(people, practice, as_of, rules: ProgramRules = DEFAULT) -> pl.DataFrame:
    """`marts.engagement_spells` built by its SQL file on these people and completed sessions
    (plus an uncompleted session on every day, which must not count), under `rules`."""
    con = duckdb.connect()
    con.execute("create schema marts; create schema staging; create schema meta")
    record_rules(con, AppliedRules(rules))
    con.execute(
        "create table marts.participants (pid varchar, enrolled_on date, program_weeks integer, "
        "withdrawn_on date)"
    )
    con.executemany("insert into marts.participants values (?, ?, ?, ?)", people)
    con.execute("create table marts.sessions (pid varchar, day date, completed boolean)")
    con.executemany("insert into marts.sessions values (?, ?, true)", practice)
    con.execute(
        "insert into marts.sessions select p.pid, d::date, false from marts.participants as p, "
        "range(p.enrolled_on, p.enrolled_on + 120, interval 1 day) as t(d)"
    )
    con.execute("create table staging.data_horizon as select ?::date as as_of", [as_of])
    (model,) = [m for m in load_sql_tables() if m.table == "marts.engagement_spells"]
    build_table(con, model)
    return engagement_spells(con.cursor())


def sessions(pid, offsets):
    return [(pid, START + timedelta(days=d)) for d in offsets]


def test_disengagement_is_the_start_of_the_first_14_day_gap_and_censoring_is_what_we_could_see():
    roster = [
        ("steady", START, 4, None),  # practises every other day: never disengages
        ("fades", START, 4, None),  # last session on day 9: disengaged from day 10
        ("never", START, 4, None),  # never practised: disengaged from day 0
        ("left", START, 4, START + timedelta(days=11)),  # withdrew on day 11 before a full gap
        ("late", START + timedelta(days=20), 4, None),  # enrolled 8 days before as of
        ("future", START + timedelta(days=30), 4, None),  # not enrolled by as of: no spell
    ]
    days = sessions("steady", range(0, 28, 2)) + sessions("fades", range(0, 10))
    days += sessions("left", [0, 1])
    spells = spells_mart(roster, days, as_of=START + timedelta(days=27))
    got = {pid: (d, e) for pid, d, e in spells.iter_rows()}
    assert got == {
        "steady": (28, False),
        "fades": (10, True),
        "never": (0, True),
        "left": (12, False),
        "late": (8, False),
    }


def test_engagement_spells_match_a_day_by_day_recomputation():
    """Random rosters and practice patterns: the mart agrees with `spell_oracle` person by person."""
    rng = np.random.default_rng(11)
    roster, practice = [], []
    for i in range(300):
        enrolled_on = START + timedelta(days=int(rng.integers(0, 60)))
        weeks = int(rng.integers(1, 13))
        withdrawn_on = (
            enrolled_on + timedelta(days=int(rng.integers(0, 7 * weeks)))
            if rng.random() < 0.2
            else None
        )
        roster.append((f"p{i}", enrolled_on, weeks, withdrawn_on))
        rate = rng.choice([0.02, 0.1, 0.4, 0.9])
        # practice also before enrolment and after the program: neither may count
        practice += [
            (f"p{i}", enrolled_on + timedelta(days=d))
            for d in range(-5, 7 * weeks + 10)
            if rng.random() < rate
        ]
    as_of = START + timedelta(days=70)
    spells = spells_mart(roster, practice, as_of)
    got = {pid: (d, e) for pid, d, e in spells.iter_rows()}
    expected = expected_spells(roster, set(practice), as_of)
    assert got == expected
    assert (
        sum(e for _, e in expected.values()) > 30 and sum(not e for _, e in expected.values()) > 30
    ), "both outcomes should be exercised"


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
    assert [adherence_band(a, DEFAULT) for a in (0.0, 0.59, 0.6, 0.79, 0.8, 1.0)] == [
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
        pl.DataFrame(rows, schema=["pid", "mean_adherence", "pain_change"], orient="row"), DEFAULT
    )
    by_band = {r["band"]: r for r in table.iter_rows(named=True)}
    high = np.array(changes["≥ 80 %"])
    half = stats.t.ppf(0.975, len(high) - 1) * high.std(ddof=1) / np.sqrt(len(high))
    assert by_band["≥ 80 %"]["n_people"] == 4
    assert by_band["≥ 80 %"]["mean_pain_change"] == pytest.approx(high.mean())
    assert by_band["≥ 80 %"]["ci_low"] == pytest.approx(high.mean() - half)
    assert by_band["60–79 %"]["ci_low"] is None, "one person has no interval"
    assert table["band"].to_list() == ["< 60 %", "60–79 %", "≥ 80 %"]
