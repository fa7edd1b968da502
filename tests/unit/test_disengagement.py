"""The early warning without Dagster: features from marts written by the test (numbers worked out by
hand), labels and the risk set, the as-of cut, the validation's measures, the choice between model
and baseline, bands and reasons."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from pipelines.lib.rules import ProgramRules
from pipelines.lib.statistics.disengagement import (
    FEATURES,
    WarningInputs,
    labelled_weeks,
    warning_inputs,
    week_features,
)
from pipelines.lib.statistics.early_warning import (
    BASELINE,
    MODEL,
    BaselineRule,
    Evaluation,
    RiskModel,
    Validation,
    band,
    calibration,
    decision,
    model_reasons,
    precision_at_top,
    risk_table,
    split_by_cohort,
)

RULES = ProgramRules()
START = date(2026, 1, 5)


# --- features from hand-written marts ----------------------------------------------------------


def day(n: int) -> date:
    """Program day n (1-based) of a person enrolled on START."""
    return START + timedelta(days=n - 1)


@pytest.fixture
def marts() -> duckdb.DuckDBPyConnection:
    """One person (5 sessions a week prescribed, 4-week program), three weeks elapsed:

    week 1: one stretch a day on days 1–5 (discomfort 2), check-ins every day (pain 4), 7 h sleep
            and 8,000 steps a night/day;
    week 2: two stretches on days 8 and 9 (discomfort 5), a walk on day 11, check-ins on days
            8–10 (pain 6), 6 h sleep and 6,000 steps;
    week 3: nothing at all. Week 4 has not started (unknown).
    """
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.participants as select 'p_a' as pid, 'A' as cohort, "
        "?::date as enrolled_on, 5 as prescribed_sessions_per_week, 4 as program_weeks",
        [START],
    )
    rows = []
    for n in range(1, 29):
        week = (n - 1) // 7 + 1
        stretch = {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 8: 2, 9: 2}.get(n, 0)
        state = "unknown" if n > 21 else ("done" if stretch else "missed")
        pain = 4 if n <= 7 else (6 if n in (8, 9, 10) else None)
        rows.append(
            (
                day(n), n, week, state, stretch,
                2 if n <= 7 and stretch else (5 if stretch else None),
                pain,
                420 if week == 1 else (360 if week == 2 else None),
                8000 if week == 1 else (6000 if week == 2 else None),
            )
        )  # fmt: skip
    con.execute(
        "create table marts.participant_day (day date, program_day integer, program_week integer,"
        " day_state varchar, stretch_sessions bigint, max_discomfort integer, pain integer,"
        " sleep_minutes integer, steps integer)"
    )
    con.executemany("insert into marts.participant_day values (?,?,?,?,?,?,?,?,?)", rows)
    con.execute(
        "alter table marts.participant_day add column pid varchar default 'p_a';"
        "alter table marts.participant_day add column sleep_quality integer;"
        "alter table marts.participant_day add column stress integer;"
        "alter table marts.participant_day add column movement_confidence integer;"
    )
    sessions = [(day(n), "stretch", True) for n in (1, 2, 3, 4, 5, 8, 8, 9, 9)]
    sessions += [(day(11), "walk", True), (day(12), "stretch", False)]  # abandoned: not practice
    con.execute("create table marts.sessions (day date, kind varchar, completed boolean)")
    con.executemany("insert into marts.sessions values (?,?,?)", sessions)
    con.execute("alter table marts.sessions add column pid varchar default 'p_a'")
    con.execute(
        "create table marts.principles as select 'p_a' as pid, * from (values "
        "(1, 1.0), (2, 0.5), (3, null), (4, null)) as t(week, regularity)"
    )
    con.execute(
        "create table marts.engagement_spells as select 'p_a' as pid, ?::date as enrolled_on, "
        "21::bigint as days, false as disengaged, null::date as disengaged_on, 21 as followed_days",
        [START],
    )
    yield con
    con.close()


def test_features_of_each_completed_week_worked_out_by_hand(marts):
    features = week_features(warning_inputs(marts), RULES)
    rows = {row["week"]: row for row in features.to_dicts()}
    assert sorted(rows) == [1, 2, 3], "week 4 has not elapsed"
    expected = {
        1: dict(
            adherence=1.0, adherence_change=None, days_practised=5, regularity=1.0,
            days_since_session=2, checkin_days=7, days_since_checkin=0,
            discomfort_change=None, pain_change=None, sleep_change_h=None,
            steps_change_1000=None, program_week=1, days_left=21,
        ),
        2: dict(
            adherence=0.8, adherence_change=0.8 - 1.0, days_practised=2, regularity=0.75,
            days_since_session=3, checkin_days=3, days_since_checkin=4,
            discomfort_change=5 - 2, pain_change=6 - 4, sleep_change_h=-1.0,
            steps_change_1000=-2.0, program_week=2, days_left=14,
        ),
        3: dict(
            adherence=0.0, adherence_change=0.0 - 0.9, days_practised=0, regularity=0.75,
            days_since_session=10, checkin_days=0, days_since_checkin=11,
            discomfort_change=None, pain_change=None, sleep_change_h=None,
            steps_change_1000=None, program_week=3, days_left=7,
        ),
    }  # fmt: skip
    for week, want in expected.items():
        got = {name: rows[week][name] for name in FEATURES}
        assert got == pytest.approx(want), week
    assert rows[3]["as_of"] == day(21)
    assert (rows[2]["sessions"], rows[2]["prescribed"], rows[2]["sessions_before"]) == (4, 5, 5.0)


def test_days_left_is_capped_at_the_gap_and_the_horizon(marts):
    capped = week_features(
        warning_inputs(marts),
        ProgramRules(disengagement_gap_days=7, disengagement_horizon_days=7),
    )
    assert capped["days_left"].to_list() == [14, 14, 7]


# --- labels and the risk set --------------------------------------------------------------------


def person_weeks(pid: str, program_weeks: int, practice_days: set[int]) -> pl.DataFrame:
    """Days of a person who practised (one stretch) on `practice_days`, all days elapsed."""
    return pl.DataFrame(
        {
            "pid": pid,
            "program_day": range(1, 7 * program_weeks + 1),
            "program_week": [(n - 1) // 7 + 1 for n in range(1, 7 * program_weeks + 1)],
            "stretch_sessions": [int(n in practice_days) for n in range(1, 7 * program_weeks + 1)],
            "practised": [n in practice_days for n in range(1, 7 * program_weeks + 1)],
            "checked_in": False,
            "max_discomfort": None,
            "pain": None,
            "sleep_minutes": None,
            "steps": None,
        },
        schema_overrides={c: pl.Float64 for c in ("max_discomfort", "pain")}
        | {c: pl.Float64 for c in ("sleep_minutes", "steps")},
    )


def label_inputs(spells: list[tuple], weeks: int = 10) -> WarningInputs:
    """People p0, p1, … practising every day (10-week program), with the spells given as
    (disengaged_on program day or None, last seen program day, followed to the end)."""
    pids = [f"p{i}" for i in range(len(spells))]
    days = pl.concat([person_weeks(pid, weeks, set(range(1, 7 * weeks + 1))) for pid in pids])
    return WarningInputs(
        days=days,
        regularity=pl.DataFrame(
            schema={"pid": pl.String, "week": pl.Int32, "regularity": pl.Float64}
        ),
        people=pl.DataFrame(
            {
                "pid": pids,
                "cohort": "A",
                "enrolled_on": START,
                "prescribed": pl.Series([5] * len(pids), dtype=pl.Int32),
                "program_weeks": pl.Series([weeks] * len(pids), dtype=pl.Int32),
            }
        ),
        spells=pl.DataFrame(
            {
                "pid": pids,
                "disengaged_on": [None if s[0] is None else day(s[0]) for s in spells],
                "last_seen": [day(s[1]) for s in spells],
                "followed_to_end": [s[2] for s in spells],
            },
            schema_overrides={"disengaged_on": pl.Date},
        ),
    )


def labels(inputs: WarningInputs, rules: ProgramRules = RULES) -> dict[str, dict[int, bool | None]]:
    found: dict[str, dict[int, bool | None]] = {}
    for row in labelled_weeks(inputs, rules).iter_rows(named=True):
        found.setdefault(row["pid"], {})[row["week"]] = row["event"]
    return found


def test_labels_the_risk_set_and_when_a_label_is_known():
    """Gap 14, horizon 14: a week ending on day e is labelled once day e + 27 has been seen
    (or the program's end), true when the first spell starts by day e + 14; after the spell has
    lasted 14 days the person is no longer at risk."""
    found = labels(
        label_inputs(
            [
                (30, 70, True),  # p0: spell from day 30, seen to the end
                (None, 70, True),  # p1: never disengaged, seen to the end
                (None, 40, False),  # p2: seen to day 40 only (as of, or a withdrawal)
                (30, 50, False),  # p3: spell from day 30, seen to day 50
            ]
        )
    )
    # p0: weeks ending on days 7 … 42, at risk until the spell has lasted 14 days (day 43);
    # week 3 (ending on day 21) is the first whose 14 days ahead reach day 30
    assert found["p0"] == {1: False, 2: False, 3: True, 4: True, 5: True, 6: True}
    assert found["p1"] == {w: False for w in range(1, 11)}
    # p2: week w (ending on day 7w) is known once day 7w + 27 has been seen: week 1 only
    assert found["p2"] == {1: False} | {w: None for w in range(2, 11)}
    # p3: a spell is confirmed before its window closes, but not labelled early either
    assert found["p3"] == {1: False, 2: False, 3: True, 4: None, 5: None, 6: None}


def test_the_horizon_and_the_gap_come_from_the_rules():
    inputs = label_inputs([(30, 70, True)])
    found = labels(inputs, ProgramRules(disengagement_horizon_days=7))
    assert found["p0"] == {1: False, 2: False, 3: False, 4: True, 5: True, 6: True}
    found = labels(inputs, ProgramRules(disengagement_gap_days=7))  # at risk until day 36
    assert found["p0"] == {1: False, 2: False, 3: True, 4: True, 5: True}


# --- the as-of cut ------------------------------------------------------------------------------


def random_inputs(seed: int, people: int = 30, weeks: int = 8) -> WarningInputs:
    rng = np.random.default_rng(seed)
    frames, regularity = [], []
    for i in range(people):
        n = 7 * weeks
        stretch = rng.integers(0, 3, n) * (rng.random(n) < 0.6)
        frames.append(
            pl.DataFrame(
                {
                    "pid": f"p{i:02}",
                    "program_day": np.arange(1, n + 1),
                    "program_week": np.arange(n) // 7 + 1,
                    "stretch_sessions": stretch,
                    "practised": (stretch > 0) | (rng.random(n) < 0.1),
                    "checked_in": rng.random(n) < 0.7,
                    "max_discomfort": np.where(stretch > 0, rng.integers(0, 10, n), np.nan),
                    "pain": np.where(rng.random(n) < 0.7, rng.integers(0, 11, n), np.nan),
                    "sleep_minutes": np.where(rng.random(n) < 0.8, rng.normal(420, 60, n), np.nan),
                    "steps": np.where(rng.random(n) < 0.8, rng.normal(7000, 2000, n), np.nan),
                }
            ).fill_nan(None)
        )
        regularity.append(
            pl.DataFrame(
                {"pid": f"p{i:02}", "week": range(1, weeks + 1), "regularity": rng.random(weeks)}
            )
        )
    return WarningInputs(
        days=pl.concat(frames).with_columns(pl.col("program_day", "program_week").cast(pl.Int32)),
        regularity=pl.concat(regularity).with_columns(pl.col("week").cast(pl.Int32)),
        people=pl.DataFrame(
            {
                "pid": [f"p{i:02}" for i in range(people)],
                "cohort": "A",
                "enrolled_on": START,
                "prescribed": pl.Series([5] * people, dtype=pl.Int32),
                "program_weeks": pl.Series([weeks] * people, dtype=pl.Int32),
            }
        ),
        spells=pl.DataFrame(),
    )


def perturbed_after(inputs: WarningInputs, week: int, seed: int) -> WarningInputs:
    """Every day after `week` shuffled across people and values, some days dropped (as of
    earlier, for some), every later week's regularity changed."""
    rng = np.random.default_rng(seed)
    days = inputs.days
    later = days.filter(pl.col("program_week") > week)
    shuffled = later.with_columns(
        *(
            pl.Series(name, rng.permutation(later[name].to_numpy()))
            for name in ("stretch_sessions", "practised", "checked_in", "pain", "steps")
        )
    ).filter(pl.Series(rng.random(later.height) < 0.9))
    regularity = inputs.regularity.with_columns(
        pl.when(pl.col("week") > week)
        .then(1 - pl.col("regularity"))
        .otherwise(pl.col("regularity"))
    )
    return WarningInputs(
        pl.concat([days.filter(pl.col("program_week") <= week), shuffled]).sort(
            "pid", "program_day"
        ),
        regularity,
        inputs.people,
        inputs.spells,
    )


@pytest.mark.parametrize("week", [1, 3, 6])
def test_a_week_s_features_read_no_later_day(week):
    inputs = random_inputs(seed=week)
    before = week_features(inputs, RULES)
    after = week_features(perturbed_after(inputs, week, seed=100 + week), RULES)
    assert after.filter(pl.col("week") <= week).equals(before.filter(pl.col("week") <= week))
    # the perturbation does change later weeks (a cut at the wrong week would show here)
    assert not after.filter(pl.col("week") > week).equals(before.filter(pl.col("week") > week))


# --- measures -----------------------------------------------------------------------------------


def test_precision_at_the_top_counts_ties_at_the_cut_by_their_rate():
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    events = np.array([1, 0, 1, 0, 0])
    # top 40 % = 2 weeks: the 0.9 week (an event) and one of three tied at 0.5 (1/3 events)
    assert precision_at_top(scores, events, 0.4) == pytest.approx((1 + 1 / 3) / 2)
    assert precision_at_top(scores, events, 0.2) == 1.0
    assert precision_at_top(np.array([0.2, 0.8]), np.array([1, 0]), 0.1) == 0.0


def test_calibration_bins_keep_tied_predictions_together():
    table = calibration(
        "baseline_rule", np.array([0.1] * 8 + [0.3] * 2), np.array([0] * 7 + [1, 1, 0])
    )
    assert table.select("bin", "weeks", "events").rows() == [(1, 8, 1), (2, 2, 1)]
    assert table["mean_predicted"].to_list() == pytest.approx([0.1, 0.3])
    assert table["observed_rate"].to_list() == pytest.approx([1 / 8, 0.5])


def test_cohorts_are_held_out_from_the_latest_back_until_they_hold_a_third_of_the_events():
    labelled = pl.DataFrame(
        {
            "cohort": ["A"] * 40 + ["B"] * 30 + ["C"] * 30,
            "event": [True] * 40 + [True] * 30 + [True] * 5 + [False] * 25,
        }
    )
    assert split_by_cohort(labelled, ["A", "B", "C"]) == (["A"], ["B", "C"])
    assert split_by_cohort(labelled, ["C", "A", "B"]) == (["C", "A"], ["B"])
    assert split_by_cohort(labelled.filter(pl.col("cohort") != "A"), ["B", "C"]) == (["B"], ["C"])


def evaluation(name: str, auc: float, brier: float) -> Evaluation:
    return Evaluation(name, auc, 0.5, brier, pl.DataFrame())


def validation(model=None, baseline=None, problem=None) -> Validation:
    return Validation(("A",), ("B",), 100, 20, 50, 20, model, baseline, problem)


def test_the_model_is_published_only_when_it_beats_the_baseline_on_both_measures():
    wins = validation(evaluation(MODEL, 0.80, 0.07), evaluation(BASELINE, 0.70, 0.08))
    assert decision(wins)[0] == MODEL
    assert "ROC AUC 0.800 vs 0.700, Brier 0.0700 vs 0.0800 on B" in decision(wins)[1]
    for auc, brier in ((0.69, 0.07), (0.80, 0.09), (0.70, 0.07)):
        loses = validation(evaluation(MODEL, auc, brier), evaluation(BASELINE, 0.70, 0.08))
        published, reason = decision(loses)
        assert published == BASELINE and reason.startswith("the model did not beat")
    published, reason = decision(validation(problem="too few"))
    assert (published, reason) == (BASELINE, "the model was not validated: too few")


# --- bands, reasons, the published rows -----------------------------------------------------------


def test_bands_follow_the_probability_rules():
    assert [band(p, RULES) for p in (0.0, 0.199, 0.2, 0.499, 0.5, 1.0)] == [
        "low", "low", "raised", "raised", "high", "high",
    ]  # fmt: skip
    custom = ProgramRules(risk_raised_probability=0.1, risk_high_probability=0.3)
    assert [band(p, custom) for p in (0.05, 0.1, 0.3)] == ["low", "raised", "high"]


def reason_row(**values) -> dict:
    row = {name: 0.0 for name in FEATURES}
    row.update(week=5, sessions=1, prescribed=5, sessions_before=4.5)
    return row | values


def contributions(**values) -> np.ndarray:
    return np.array([values.get(name, 0.0) for name in FEATURES])


COEFFICIENTS = contributions(
    adherence=-1, adherence_change=-1, days_practised=-1, regularity=1, days_since_session=1,
    checkin_days=-1, days_since_checkin=1, pain_change=1, sleep_change_h=-1, program_week=1,
)  # fmt: skip


def test_reasons_name_the_strongest_risky_features_in_words():
    row = reason_row(adherence=0.2, adherence_change=-0.7, days_since_session=6, pain_change=1.5)
    said = model_reasons(
        row,
        contributions(adherence=0.4, adherence_change=0.9, days_since_session=1.2, pain_change=0.3),
        COEFFICIENTS,
    )
    assert said == (
        "no completed session for 6 days; practice fell to 1 session in week 5, from 4.5 a week; "
        "pain up 1.5 points on earlier weeks"
    )


def test_reasons_never_point_the_wrong_way_and_skip_small_pushes_and_unknowns():
    # regularity raises the risk when it is high (its coefficient is positive): no sentence
    # about bunched practice can explain that
    row = reason_row(regularity=0.95, pain_change=None, days_since_checkin=3, sleep_change_h=-0.5)
    said = model_reasons(
        row,
        contributions(regularity=2.0, pain_change=1.0, days_since_checkin=0.05, sleep_change_h=0.2),
        COEFFICIENTS,
    )
    assert said == "sleeping 0.5 h a night less than in earlier weeks"
    assert model_reasons(row, contributions(program_week=3.0), COEFFICIENTS) is None


def scored_weeks() -> pl.DataFrame:
    """Labelled weeks where low adherence and a long gap go with a spell."""
    rng = np.random.default_rng(3)
    n = 400
    adherence = rng.random(n)
    gap = rng.integers(0, 12, n).astype(float)
    event = rng.random(n) < 1 / (1 + np.exp(-(-3 + 3 * (adherence < 0.3) + 0.3 * gap)))
    frame = {name: rng.normal(size=n) for name in FEATURES}
    frame |= {"adherence": adherence, "days_since_session": gap}
    return pl.DataFrame(
        frame
        | {
            "pid": [f"p{i}" for i in range(n)],
            "week": pl.Series([4] * n, dtype=pl.Int32),
            "as_of": START,
            "sessions": (adherence * 5).astype(int),
            "prescribed": 5,
            "sessions_before": 4.0,
            "event": event,
        }
    )


def test_a_model_week_has_a_band_by_the_rules_and_reasons_only_when_raised_or_high():
    weeks = scored_weeks()
    table = risk_table(RiskModel(weeks), weeks, RULES)
    assert table.columns == ["pid", "week", "as_of", "probability", "band", "reasons", "model"]
    assert set(table["model"]) == {MODEL}
    for probability, banded, reasons in table.select("probability", "band", "reasons").iter_rows():
        assert banded == band(probability, RULES)
        assert banded != "low" or reasons is None
    raised = table.filter(pl.col("band") != "low")
    assert raised.height and raised["reasons"].null_count() < raised.height


def test_the_baseline_raises_weeks_below_its_adherence_with_its_groups_event_rates():
    weeks = scored_weeks()
    rule = ProgramRules(risk_baseline_adherence=0.3)
    table = risk_table(BaselineRule(weeks, rule), weeks, rule)
    flagged = weeks["adherence"] < 0.3
    assert table["band"].to_list() == ["raised" if f else "low" for f in flagged]
    rate = weeks.filter(flagged)["event"].mean()
    assert table.filter(pl.Series(flagged))["probability"].unique().to_list() == [
        pytest.approx(rate)
    ]
    first = table.filter(pl.Series(flagged)).row(0, named=True)
    assert first["reasons"].endswith("in week 4, below 30 %")
    assert table.filter(~pl.Series(flagged))["reasons"].null_count() == (~flagged).sum()
