"""The early warning on generated cohorts run through the real pipeline: the published weeks, features
and labels against a day-by-day recomputation (tests/warning_oracle.py), the held-out validation
against the generator's ground truth (its fading people), the baseline kept when the model cannot
be validated, and a past week's prediction unchanged by anything that happens after it."""

from __future__ import annotations

import csv
import json
import math
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from spell_oracle import expected_spells
from warning_oracle import expected_weeks

from pipelines.lib.rules import ProgramRules, rule_keys
from pipelines.lib.statistics.disengagement import (
    FEATURES,
    WarningInputs,
    labelled_weeks,
    warning_inputs,
)
from pipelines.lib.statistics.early_warning import (
    BASELINE,
    MODEL,
    RiskModel,
    band,
    risk_table,
)

pytestmark = pytest.mark.pipeline

DEFAULTS = {key: getattr(ProgramRules(), key) for key in rule_keys()}


def snapshot_of(data_dir: Path) -> Path:
    return data_dir / "published" / "current.duckdb"


def table(snapshot: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(snapshot), read_only=True) as con:
        return con.sql(sql).pl()


def model_row(snapshot: Path) -> dict:
    (row,) = table(snapshot, "select * from models.disengagement_model").to_dicts()
    return row


def archetypes(data_dir: Path) -> dict[str, str]:
    """pid → the generator's archetype (truth/participants.csv, through access/identities.json)."""
    with (data_dir / "truth" / "participants.csv").open(newline="") as handle:
        by_id = {p["participant_id"]: p["archetype"] for p in csv.DictReader(handle)}
    people = json.loads((data_dir / "access" / "identities.json").read_text())["people"]
    return {pid: by_id[person["participant_id"]] for pid, person in people.items()}


# --- what is published ---------------------------------------------------------------------------


def test_every_week_at_risk_is_published_with_the_recomputed_features_and_labels(demo_cohort):
    snapshot = snapshot_of(demo_cohort)
    expected = expected_weeks(snapshot, DEFAULTS)
    risk = table(snapshot, "select * from models.disengagement_risk")
    assert risk.select("pid", "week").is_duplicated().sum() == 0
    published = {(r["pid"], r["week"]): r for r in risk.to_dicts()}
    assert published.keys() == expected.keys()
    assert all(published[key]["as_of"] == week.as_of for key, week in expected.items())
    assert {w.event for w in expected.values()} == {True, False, None}

    with duckdb.connect(str(snapshot), read_only=True) as con:
        weeks = labelled_weeks(warning_inputs(con), ProgramRules())
    for row in weeks.to_dicts():
        want = expected[(row["pid"], row["week"])]
        assert (row["cohort"], row["event"]) == (want.cohort, want.event)
        for name in FEATURES:
            got, value = row[name], want.features[name]
            assert (got is None) == (value is None), (name, row["pid"], row["week"])
            assert got is None or math.isclose(got, value, abs_tol=1e-9), name


def test_the_model_beats_the_baseline_on_the_later_cohorts_and_is_published(demo_cohort):
    snapshot = snapshot_of(demo_cohort)
    row = model_row(snapshot)
    assert row["published"] == MODEL
    assert row["reason"].startswith("the model beat the baseline rule on held-out cohorts")
    assert (row["train_cohorts"], row["test_cohorts"]) == (
        "2026-spring-A",
        "2026-spring-B, 2026-summer-A",
    )
    assert (
        row["roc_auc_model"] > row["roc_auc_baseline"]
        and row["brier_model"] < row["brier_baseline"]
    )
    assert row["precision_top_model"] >= row["precision_top_baseline"]

    # the counts and the baseline's measures, recomputed from the labels and adherence
    expected = expected_weeks(snapshot, DEFAULTS)
    train = [w for w in expected.values() if w.event is not None and w.cohort == "2026-spring-A"]
    test = [w for w in expected.values() if w.event is not None and w.cohort != "2026-spring-A"]
    assert (row["train_weeks"], row["train_events"]) == (len(train), sum(w.event for w in train))
    assert (row["test_weeks"], row["test_events"]) == (len(test), sum(w.event for w in test))
    events = np.array([w.event for w in test], dtype=int)
    adherence = np.array([w.features["adherence"] for w in test])
    assert row["roc_auc_baseline"] == pytest.approx(roc_auc_score(events, 1 - adherence))
    flagged_train = [w.event for w in train if w.features["adherence"] < 0.5]
    other_train = [w.event for w in train if w.features["adherence"] >= 0.5]
    rates = np.where(adherence < 0.5, np.mean(flagged_train), np.mean(other_train))
    assert row["brier_baseline"] == pytest.approx(brier_score_loss(events, rates))

    calibration = table(snapshot, "select * from models.disengagement_calibration")
    for scorer in (MODEL, BASELINE):
        bins = calibration.filter(pl.col("scorer") == scorer)
        assert bins["weeks"].sum() == len(test) and bins["events"].sum() == events.sum()
    baseline = calibration.filter(pl.col("scorer") == BASELINE).sort("bin")
    assert baseline["weeks"].to_list() == [
        int((adherence >= 0.5).sum()),
        int((adherence < 0.5).sum()),
    ]

    risk = table(snapshot, "select * from models.disengagement_risk")
    assert set(risk["model"]) == {MODEL}
    assert (
        risk.height == row["published_weeks"] and risk["pid"].n_unique() == row["published_people"]
    )
    for probability, banded in risk.select("probability", "band").iter_rows():
        assert 0 <= probability <= 1 and banded == band(probability, ProgramRules())
    assert risk.filter(pl.col("band") == "low")["reasons"].null_count() == (
        risk.filter(pl.col("band") == "low").height
    )
    assert risk.filter(pl.col("band") == "high")["reasons"].null_count() == 0


def test_the_generator_s_fading_people_are_the_ones_it_warns_about(demo_cohort):
    """Ground truth: every spell in the demo cohort is a fading person's (the archetype that stops
    for good), and the early warning raised each of them in a week before the spell was
    confirmed; the high band is almost only fading people (boom-and-bust gaps end by
    themselves)."""
    snapshot = snapshot_of(demo_cohort)
    kind = archetypes(demo_cohort)
    spells = table(
        snapshot, "select pid, disengaged_on from marts.engagement_spells where disengaged"
    )
    assert spells.height >= 30 and {kind[pid] for pid in spells["pid"]} == {"fading"}

    risk = table(snapshot, "select pid, as_of, band from models.disengagement_risk")
    warned = 0
    for pid, disengaged_on in spells.iter_rows():
        before = risk.filter(
            (pl.col("pid") == pid) & (pl.col("as_of") >= disengaged_on - timedelta(days=14))
        )
        warned += (before["band"] != "low").any()
    assert warned >= 0.9 * spells.height

    high = [kind[pid] for pid in risk.filter(pl.col("band") == "high")["pid"]]
    assert len(high) >= 20 and high.count("fading") >= 0.8 * len(high)
    boom_bust = risk.filter(pl.col("pid").is_in([p for p, k in kind.items() if k == "boom_bust"]))
    assert (boom_bust["band"] != "low").mean() < 0.02


def test_a_small_program_keeps_the_baseline_rule_and_says_why(small_cohort):
    snapshot = snapshot_of(small_cohort)
    row = model_row(snapshot)
    assert row["published"] == BASELINE
    assert "risk_min_events asks for at least 20" in row["reason"]
    assert row["roc_auc_model"] is None and row["roc_auc_baseline"] is None
    assert (
        table(snapshot, "select count(*) as n from models.disengagement_calibration")["n"][0] == 0
    )

    expected = expected_weeks(snapshot, DEFAULTS)
    labelled = [w for w in expected.values() if w.event is not None]
    rates = {
        flagged: np.mean([w.event for w in labelled if (w.features["adherence"] < 0.5) == flagged])
        for flagged in (True, False)
    }
    risk = table(snapshot, "select * from models.disengagement_risk")
    assert set(risk["model"]) == {BASELINE} and risk.height == len(expected)
    for r in risk.to_dicts():
        flagged = expected[(r["pid"], r["week"])].features["adherence"] < 0.5
        assert r["band"] == ("raised" if flagged else "low")
        assert r["probability"] == pytest.approx(rates[flagged])
        assert (r["reasons"] is not None) == flagged


# --- as of: later data never changes an earlier prediction ----------------------------------------


def spells_frame(people: pl.DataFrame, days: pl.DataFrame, as_of, gap: int) -> pl.DataFrame:
    """What `WarningInputs.spells` holds, recomputed (spell_oracle) from these days."""
    practice = {
        (pid, enrolled + timedelta(days=n - 1))
        for pid, n, enrolled in days.filter(pl.col("practised"))
        .join(people.select("pid", "enrolled_on"), on="pid")
        .select("pid", "program_day", "enrolled_on")
        .iter_rows()
    }
    rows = []
    spells = expected_spells(
        list(people.select("pid", "enrolled_on", "program_weeks", "withdrawn_on").iter_rows()),
        practice,
        as_of,
        gap,
    )
    for pid, enrolled, weeks, withdrawn in people.select(
        "pid", "enrolled_on", "program_weeks", "withdrawn_on"
    ).iter_rows():
        if pid not in spells:
            continue
        end = enrolled + timedelta(days=7 * weeks - 1)
        last_seen = min(as_of, end, withdrawn or as_of)
        length, disengaged = spells[pid]
        rows.append(
            (
                pid,
                enrolled + timedelta(days=length) if disengaged else None,
                last_seen,
                last_seen == end,
            )
        )
    return pl.DataFrame(
        rows,
        schema={
            "pid": pl.String,
            "disengaged_on": pl.Date,
            "last_seen": pl.Date,
            "followed_to_end": pl.Boolean,
        },
        orient="row",
    )


def perturbed_after(days: pl.DataFrame, regularity: pl.DataFrame, week: int, seed: int):
    """Everything after program week `week` rewritten: practice, check-ins, pain, sleep and steps
    shuffled across people and days, a tenth of those days gone, later regularity inverted."""
    rng = np.random.default_rng(seed)
    later = days.filter(pl.col("program_week") > week)
    shuffled = later.with_columns(
        *(
            pl.Series(name, rng.permutation(later[name].to_numpy()))
            for name in (
                "stretch_sessions",
                "practised",
                "checked_in",
                "pain",
                "sleep_minutes",
                "steps",
            )
        )
    ).filter(pl.Series(rng.random(later.height) < 0.9))
    return (
        pl.concat([days.filter(pl.col("program_week") <= week), shuffled]).sort(
            "pid", "program_day"
        ),
        regularity.with_columns(
            pl.when(pl.col("week") > week)
            .then(1 - pl.col("regularity"))
            .otherwise(pl.col("regularity"))
        ),
    )


@pytest.mark.parametrize("week", [3, 6, 9])
def test_a_week_s_prediction_does_not_change_when_later_data_does(demo_cohort, week):
    """The model fitted once; the inputs after `week` rewritten (and the spells recomputed from
    them): every published row of weeks up to `week` is the same, later weeks are not."""
    snapshot = snapshot_of(demo_cohort)
    rules = ProgramRules()
    with duckdb.connect(str(snapshot), read_only=True) as con:
        inputs = warning_inputs(con)
        people = con.sql(
            "select pid, enrolled_on, program_weeks, withdrawn_on from marts.participants"
        ).pl()
        ((as_of,),) = con.execute("select as_of from meta.snapshot").fetchall()
    gap = rules.disengagement_gap_days
    original = WarningInputs(
        inputs.days, inputs.regularity, inputs.people, spells_frame(people, inputs.days, as_of, gap)
    )
    days, regularity = perturbed_after(inputs.days, inputs.regularity, week, seed=week)
    changed = WarningInputs(days, regularity, inputs.people, spells_frame(people, days, as_of, gap))

    before, after = labelled_weeks(original, rules), labelled_weeks(changed, rules)
    model = RiskModel(before.filter(pl.col("event").is_not_null()))
    published_before = risk_table(model, before, rules)
    published_after = risk_table(model, after, rules)
    up_to = pl.col("week") <= week
    assert published_before.filter(up_to).height > 0
    assert published_after.filter(up_to).equals(published_before.filter(up_to))
    assert not published_after.filter(~up_to).equals(published_before.filter(~up_to))
