"""Program rules end to end: `<data dir>/program.toml` changes every rule at once, and the marts,
the statistics and the dashboards move exactly as an independent recomputation says.

The recomputations below read lower-level tables (marts.sessions, marts.participant_day,
marts.participant_week, marts.participants, the warehouse's staging.wearable__source_days)
and apply the rule values written out in `OVERRIDES` — never the code under test. Each
recomputation is also run with the default rules, to show that every change moves numbers on
this cohort. Every rule written out at its default publishes the same snapshot as no file at
all; an invalid file stops the run before anything is parsed or built.
"""

from __future__ import annotations

import csv
import shutil
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from flag_oracle import expected_flags, flag_inputs, published_flags
from generated_data import copy_generated
from spell_oracle import expected_spells_frame
from warning_oracle import expected_weeks

from dashboards import disclosure
from pipelines import cli
from pipelines.definitions import build_definitions
from pipelines.lib.digest.compose import read_snapshot
from pipelines.lib.rules import ProgramRules, rule_keys
from pipelines.lib.statistics.early_warning import band
from pipelines.lib.statistics.retention import kaplan_meier
from pipelines.lib.users import User
from pipelines.runner import RunReport, run_pipeline

pytestmark = pytest.mark.pipeline

# Every rule changed, each so that it moves numbers on the small cohort (asserted below).
OVERRIDES = {
    "gentle_max_discomfort": 4,
    "aggressive_min_discomfort": 6,
    "adherent_share": 0.7,
    "dose_band_low_share": 0.5,
    "responder_pain_points": 1.0,
    "responder_pain_share": 0.25,
    "responder_odi_points": 6.0,
    "responder_tsk_points": 3.0,
    "baseline_min_checkins": 4,
    "valid_wear_minutes": 480,
    "person_min_paired_days": 10,
    "person_min_weeks": 3,
    "disengagement_gap_days": 7,
    "missed_days_info_days": 2,
    "missed_days_warning_days": 4,
    "missed_days_alert_days": 6,
    "no_wear_info_days": 3,
    "no_wear_warning_days": 7,
    "burst_max_practice_days": 3,
    "burst_gap_days": 3,
    "boom_bust_warning_bursts": 3,
    "boom_bust_alert_bursts": 4,
    "too_intense_min_sessions": 3,
    "too_intense_alert_sessions": 6,
    "no_breathing_min_sessions": 3,
    "no_stability_min_days": 3,
    "short_sleep_min_nights": 2,
    "short_sleep_minutes": 390,
    "short_sleep_warning_minutes": 345,
    "pain_rising_points": 1.5,
    "pain_rising_alert_points": 2.0,
    "flag_escalation_weeks": 3,
    "disengagement_horizon_days": 21,
    "risk_raised_probability": 0.1,
    "risk_high_probability": 0.3,
    "risk_baseline_adherence": 0.7,
    "risk_min_events": 2,
    "checkin_silence_days": 2,
}
FLAG_RULES = (
    "missed_days_info_days",
    "missed_days_warning_days",
    "missed_days_alert_days",
    "no_wear_info_days",
    "no_wear_warning_days",
    "burst_max_practice_days",
    "burst_gap_days",
    "boom_bust_warning_bursts",
    "boom_bust_alert_bursts",
    "too_intense_min_sessions",
    "too_intense_alert_sessions",
    "no_breathing_min_sessions",
    "no_stability_min_days",
    "short_sleep_min_nights",
    "short_sleep_minutes",
    "short_sleep_warning_minutes",
    "pain_rising_points",
    "pain_rising_alert_points",
    "flag_escalation_weeks",
)
DEFAULTS = {key: getattr(ProgramRules(), key) for key in rule_keys()}


def but_default(*keys: str) -> dict:
    """OVERRIDES with `keys` back at their defaults: what the change of those rules alone does."""
    return {**OVERRIDES, **{key: DEFAULTS[key] for key in keys}}


BAND_LABELS = ["< 50 %", "50–69 %", "≥ 70 %"]  # the dose–response bands of OVERRIDES
# Wear time of a day of the Oura ring added for two people without a Fitabase tracker: 540 and
# 500 minutes are valid wear days at 480 but not at 600.
WORN_MINUTES = (540, 900, 300, 1440, 500, 0)
PROGRAM_MANAGER = User(username="test-pm", role="program_manager")


def write_program(data_dir: Path, rules: dict) -> None:
    lines = ["[rules]"] + [f"{key} = {value!r}" for key, value in rules.items()]
    (data_dir / "program.toml").write_text("\n".join(lines) + "\n")


def snapshot_path(data_dir: Path) -> Path:
    return data_dir / "published" / "current.duckdb"


def rows(database: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def frame(database: Path, sql: str) -> pl.DataFrame:
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(sql).pl()


def raw_files(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Every file parsed from a landing file (raw/<source>/parser=…/file_sha256=…/), with its
    modification time and size; each source's list of current files is rewritten by every run."""
    return {
        str(p.relative_to(data_dir)): (p.stat().st_mtime_ns, p.stat().st_size)
        for p in (data_dir / "raw").rglob("file_sha256=*/*")
        if p.is_file()
    }


def add_oura_ring(data_dir: Path, as_of: date) -> list[str]:
    """An Oura trends CSV for the first two people without a Fitabase tracker; their ids."""
    with (data_dir / "truth" / "participants.csv").open(newline="") as handle:
        people = [p for p in csv.DictReader(handle) if not p["fitbit_id"]][:2]
    header = (
        "date,Total Sleep Duration,Total Bedtime ,Bedtime Start,Bedtime End,Lowest Resting "
        "Heart Rate,Average HRV,Steps,Medium Activity Time,High Activity Time,Non-wear Time\n"
    )
    for person in people:
        enrolled = date.fromisoformat(person["enrolled_on"])
        lines = []
        for i in range(7 * int(person["program_weeks"])):
            day = enrolled + timedelta(days=i)
            if day > as_of:
                break
            worn = WORN_MINUTES[i % len(WORN_MINUTES)]
            lines.append(
                f"{day},None,None,None,None,None,None,{5000 + 37 * i},None,None,{(1440 - worn) * 60}"
            )
        folder = data_dir / "landing" / "oura" / person["participant_id"]
        folder.mkdir(parents=True)
        (folder / "oura_trends.csv").write_text(header + "\n".join(lines) + "\n")
    return [p["participant_id"] for p in people]


@dataclass
class Runs:
    data_dir: Path
    at_defaults: Path  # the snapshot of the run with every rule written at its default
    default_report: RunReport
    report: RunReport  # the run with OVERRIDES
    raw_before: dict[str, tuple[int, int]]
    oura_people: list[str]

    @property
    def snapshot(self) -> Path:
        return snapshot_path(self.data_dir)

    @property
    def warehouse(self) -> Path:
        return self.data_dir / "warehouse.duckdb"


@pytest.fixture(scope="module")
def runs(small_cohort: Path, tmp_path_factory) -> Runs:
    root = tmp_path_factory.mktemp("program_rules")
    data_dir = copy_generated(small_cohort, root / "data")
    write_program(data_dir, DEFAULTS)
    default_report = run_pipeline(data_dir, log_level="WARNING")
    assert default_report.published, default_report.render()
    at_defaults = shutil.copy(snapshot_path(data_dir), root / "defaults.duckdb")
    raw_before = raw_files(data_dir)

    (as_of,) = rows(snapshot_path(data_dir), "select as_of from meta.snapshot")[0]
    oura_people = add_oura_ring(data_dir, as_of)
    write_program(data_dir, OVERRIDES)
    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    return Runs(data_dir, Path(at_defaults), default_report, report, raw_before, oura_people)


def test_the_overrides_change_every_rule():
    assert set(OVERRIDES) == set(rule_keys())
    assert all(OVERRIDES[key] != DEFAULTS[key] for key in OVERRIDES)


# --- every rule at its default ----------------------------------------------------------------


def published_tables(database: Path) -> list[str]:
    return [
        f"{s}.{t}"
        for s, t in rows(
            database,
            "select table_schema, table_name from information_schema.tables "
            "where table_catalog = current_database() order by 1, 2",
        )
    ]


def test_every_rule_written_at_its_default_publishes_the_same_snapshot_as_no_file(
    runs, small_cohort
):
    """Defaults from program.toml and built-in defaults give identical published tables."""
    session_snapshot = snapshot_path(small_cohort)
    tables = published_tables(runs.at_defaults)
    assert tables == published_tables(session_snapshot) and "meta.rules" in tables
    # what differs by nature: the run's id and time, and who set the rules
    ignored = {"meta.snapshot": {"run_id", "published_at"}, "meta.rules": {"source"}}
    with duckdb.connect() as con:
        con.execute("attach ? as a (read_only)", [str(runs.at_defaults)])
        con.execute("attach ? as b (read_only)", [str(session_snapshot)])
        for table in tables:
            schema, name = table.split(".")
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where "
                    "table_catalog = 'a' and table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchall()
                if c not in ignored.get(table, set())
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            for first, second in (("a", "b"), ("b", "a")):
                (extra,) = con.execute(
                    f'select count(*) from (select {listed} from {first}."{schema}"."{name}" '
                    f'except all select {listed} from {second}."{schema}"."{name}")'
                ).fetchone()
                assert extra == 0, f"{table}: {extra} rows only in {first}"
    sources = rows(runs.at_defaults, "select distinct source from meta.rules")
    assert sources == [("program.toml",)]
    assert rows(session_snapshot, "select distinct source from meta.rules") == [("default",)]
    assert "Program rules: all at their defaults" in runs.default_report.render()


# --- what the snapshot and the run say about the rules ------------------------------------------


def test_meta_rules_lists_every_override_as_set_by_program_toml(runs):
    recorded = {
        key: (value, default, source)
        for key, value, default, source in rows(
            runs.snapshot, "select key, value, default_value, source from meta.rules"
        )
    }
    assert recorded == {
        key: (float(OVERRIDES[key]), float(DEFAULTS[key]), "program.toml") for key in OVERRIDES
    }


def test_the_run_summary_prints_the_rules_that_differ_from_their_defaults(runs):
    text = runs.report.render()
    assert "Program rules: not at their defaults (program.toml)" in text
    assert "  adherent_share: 0.7 (default 0.8)" in text
    assert "  disengagement_gap_days: 7 (default 14)" in text
    assert all(f"  {key}: " in text for key in OVERRIDES)


def test_a_changed_rule_parses_nothing_again(runs):
    """raw/ keeps every partition of the run before; only the Oura file added is new."""
    after = raw_files(runs.data_dir)
    assert {path: after.get(path) for path in runs.raw_before} == runs.raw_before
    new = {path for path in after if path not in runs.raw_before}
    assert new and all(path.startswith("raw/oura/") for path in new)


# --- marts ------------------------------------------------------------------------------------


def rated_stretch_sessions(snapshot: Path) -> dict[tuple[str, int], list[int | None]]:
    """(pid, program week) → the discomfort of each completed stretch session on an elapsed day."""
    found: dict[tuple[str, int], list[int | None]] = defaultdict(list)
    for pid, week, discomfort in rows(
        snapshot,
        """
        select s.pid, d.program_week, s.discomfort
        from marts.sessions as s
        join marts.participant_day as d on d.pid = s.pid and d.day = s.day
        where s.kind = 'stretch' and s.completed and d.day_state <> 'unknown'
        """,
    ):
        found[(pid, week)].append(discomfort)
    return found


def discomfort_counts(sessions, rules: dict) -> dict[tuple[str, int], tuple]:
    """(pid, week) → (gentle share or None, aggressive sessions)."""
    counted = {}
    for key, ratings in sessions.items():
        rated = [r for r in ratings if r is not None]
        gentle = sum(r <= rules["gentle_max_discomfort"] for r in rated)
        aggressive = sum(r >= rules["aggressive_min_discomfort"] for r in rated)
        counted[key] = (gentle / len(rated) if rated else None, aggressive)
    return counted


def test_gentle_and_aggressive_sessions_follow_the_discomfort_bands(runs):
    sessions = rated_stretch_sessions(runs.snapshot)
    expected = discomfort_counts(sessions, OVERRIDES)
    for rule in ("gentle_max_discomfort", "aggressive_min_discomfort"):
        assert expected != discomfort_counts(sessions, but_default(rule)), f"{rule} moves numbers"

    weeks = {
        (pid, week): (share, aggressive)
        for pid, week, share, aggressive in rows(
            runs.snapshot,
            "select pid, week, gentle_share, aggressive_sessions from marts.participant_week",
        )
    }
    principles = {
        (pid, week): (gentle, aggressive)
        for pid, week, gentle, aggressive in rows(
            runs.snapshot, "select pid, week, gentle, aggressive_sessions from marts.principles"
        )
    }
    for key, (share, aggressive) in weeks.items():
        want_share, want_aggressive = expected.get(key, (None, None))
        assert share == pytest.approx(want_share), key
        assert aggressive == want_aggressive, key
        assert principles[key][0] == pytest.approx(want_share), key
        assert principles[key][1] == want_aggressive, key


def test_an_adherent_week_follows_the_adherent_share(runs):
    weeks = rows(runs.snapshot, "select adherence, adherent from marts.principles")
    assert all(
        adherent == (None if adherence is None else adherence >= OVERRIDES["adherent_share"])
        for adherence, adherent in weeks
    )
    moved = [a for a, _ in weeks if a is not None and OVERRIDES["adherent_share"] <= a < 0.8]
    assert moved, "some weeks are adherent only at the new share"


@dataclass(frozen=True)
class PainOutcome:
    baseline_week: int | None
    baseline: float | None
    latest_week: int | None
    latest: float | None
    responder: bool | None


def pain_outcomes(snapshot: Path, rules: dict) -> dict[str, PainOutcome]:
    """Baseline week 1 (else 2) and the latest later week, each with enough check-ins."""
    weekly: dict[str, dict[int, float]] = defaultdict(dict)
    for pid, week, mean, checkins in rows(
        snapshot,
        """
        select pid, program_week, avg(pain), count(pain) from marts.participant_day
        where day_state <> 'unknown' group by all
        """,
    ):
        if checkins >= rules["baseline_min_checkins"]:
            weekly[pid][week] = mean
    outcomes = {}
    for (pid,) in rows(snapshot, "select pid from marts.participants"):
        weeks = weekly.get(pid, {})
        base_week = next((w for w in (1, 2) if w in weeks), None)
        later = [w for w in weeks if base_week is not None and w > base_week]
        latest_week = max(later) if later else None
        base = weeks.get(base_week)
        latest = weeks.get(latest_week)
        responder = None
        if base is not None and latest is not None:
            drop = base - latest
            responder = (
                drop >= rules["responder_pain_points"] - 1e-9
                and drop >= rules["responder_pain_share"] * base - 1e-9
            )
        outcomes[pid] = PainOutcome(base_week, base, latest_week, latest, responder)
    return outcomes


def test_outcomes_follow_the_check_in_minimum_and_the_responder_thresholds(runs):
    expected = pain_outcomes(runs.snapshot, OVERRIDES)
    for rule in ("baseline_min_checkins", "responder_pain_points", "responder_pain_share"):
        assert expected != pain_outcomes(runs.snapshot, but_default(rule)), f"{rule} moves numbers"

    mart = rows(
        runs.snapshot,
        """
        select pid, pain_baseline_week, pain_baseline, pain_latest_week, pain_latest,
               pain_responder, odi_baseline, odi_latest, odi_responder,
               tsk_baseline, tsk_latest, tsk_improved
        from marts.outcomes
        """,
    )
    odi_moved = tsk_moved = 0
    for pid, b_week, base, l_week, latest, responder, odi_b, odi_l, odi, tsk_b, tsk_l, tsk in mart:
        want = expected[pid]
        assert (b_week, l_week, responder) == (
            want.baseline_week,
            want.latest_week,
            want.responder,
        ), pid
        assert base == pytest.approx(want.baseline) and latest == pytest.approx(want.latest)
        if odi_b is None or odi_l is None:
            assert odi is None
        else:
            assert odi == (odi_b - odi_l >= OVERRIDES["responder_odi_points"] - 1e-9), pid
            odi_moved += odi != (odi_b - odi_l >= DEFAULTS["responder_odi_points"] - 1e-9)
        if tsk_b is None or tsk_l is None:
            assert tsk is None
        else:
            assert tsk == (tsk_b - tsk_l >= OVERRIDES["responder_tsk_points"]), pid
            tsk_moved += tsk != (tsk_b - tsk_l >= DEFAULTS["responder_tsk_points"])
    assert odi_moved and tsk_moved, "the ODI and TSK-11 changes move numbers"


def wear_states(warehouse: Path, minimum: int) -> dict[tuple[str, date], tuple[str, bool]]:
    """(pid, day) → (wear state, has steps): the source worn longest (then most steps, then by
    name), valid with at least `minimum` minutes; without wear data, worn when it counted any."""
    chosen: dict[tuple[str, date], tuple] = {}
    for pid, day, source, steps, active, worn in rows(
        warehouse,
        "select pid, day, source, steps, active_minutes, wear_minutes "
        "from staging.wearable__source_days",
    ):
        rank = (worn is not None, worn or 0, steps is not None, steps or 0)
        best = chosen.get((pid, day))
        if best is None or rank > best[0] or (rank == best[0] and source < best[1]):
            chosen[(pid, day)] = (rank, source, steps, active, worn)
    states = {}
    for key, (_, _, steps, active, worn) in chosen.items():
        if worn is None:
            state = "worn" if (steps or 0) > 0 or (active or 0) > 0 else "not_worn"
        else:
            state = "worn" if worn >= minimum else ("partial" if worn > 0 else "not_worn")
        states[key] = (state, state == "worn" and steps is not None)
    return states


def test_a_valid_wear_day_follows_valid_wear_minutes(runs):
    expected = wear_states(runs.warehouse, OVERRIDES["valid_wear_minutes"])
    at_defaults = wear_states(runs.warehouse, DEFAULTS["valid_wear_minutes"])
    assert sum(s == "worn" for s, _ in expected.values()) > sum(
        s == "worn" for s, _ in at_defaults.values()
    )
    staged = {
        (pid, day): (state, steps is not None)
        for pid, day, state, steps in rows(
            runs.warehouse, "select pid, day, wear_state, steps from staging.wearable__days"
        )
    }
    assert staged == expected
    program_days = rows(
        runs.snapshot, "select pid, day, wear_state, steps from marts.participant_day"
    )
    for pid, day, state, steps in program_days:
        want = expected.get((pid, day), ("no_data", False))
        assert (state, steps is not None) == want, (pid, day)


def test_flags_follow_their_rules(runs):
    """Every flag's episodes, severities and open state, recomputed (tests/flag_oracle.py)."""
    inputs = flag_inputs(runs.snapshot)
    expected = expected_flags(inputs, OVERRIDES)
    for rule in FLAG_RULES:
        assert expected != expected_flags(inputs, but_default(rule)), f"{rule} moves numbers"
    assert published_flags(runs.snapshot) == expected
    evidence = [e for (e,) in rows(runs.snapshot, "select evidence from marts.flags")]
    assert any(e.startswith("Average sleep under 6 h 30 min a night") for e in evidence)


def test_flags_at_the_defaults_match_the_recomputation(small_cohort):
    """The recomputation itself, against the session's run with every rule at its default."""
    snapshot = snapshot_path(small_cohort)
    assert published_flags(snapshot) == expected_flags(flag_inputs(snapshot), DEFAULTS)


# --- models -----------------------------------------------------------------------------------


def mean_adherence(snapshot: Path) -> dict[str, float]:
    return dict(
        rows(
            snapshot,
            "select pid, avg(adherence) from marts.participant_week "
            "where week_complete and adherence is not null group by pid",
        )
    )


def dose_bands(snapshot: Path, rules: dict) -> list[tuple[int, list[float]]]:
    """Per band (lowest first): the pain changes of its people, from the recomputed outcomes."""
    outcomes = pain_outcomes(snapshot, rules)
    edges = (0.0, rules["dose_band_low_share"], rules["adherent_share"], 1.0 + 1e-9)
    bands: list[list[float]] = [[], [], []]
    for pid, adherence in mean_adherence(snapshot).items():
        outcome = outcomes[pid]
        if outcome.baseline is None or outcome.latest is None:
            continue
        band = next(i for i in range(3) if edges[i] <= adherence < edges[i + 1])
        bands[band].append(outcome.latest - outcome.baseline)
    return list(enumerate(bands, start=1))


def test_dose_response_bands_follow_the_band_edges(runs):
    expected = dose_bands(runs.snapshot, OVERRIDES)
    for rule in ("dose_band_low_share", "adherent_share"):
        sizes = [len(c) for _, c in dose_bands(runs.snapshot, but_default(rule))]
        assert [len(c) for _, c in expected] != sizes, f"{rule} moves numbers"
    table = rows(
        runs.snapshot,
        "select band_order, band, n_people, mean_pain_change from models.dose_response "
        "order by band_order",
    )
    assert [band for _, band, _, _ in table] == BAND_LABELS
    for (order, _, n, mean), (want_order, changes) in zip(table, expected, strict=True):
        assert (order, n) == (want_order, len(changes))
        assert mean == (pytest.approx(statistics.fmean(changes)) if changes else None)


def person_effect_evidence(snapshot: Path, rules: dict) -> dict[tuple[str, str], int]:
    """(pid, term) → rows, for people with enough rows whose covariate varies."""
    daily = rows(
        snapshot,
        """
        select pid, count(*), count(distinct sleep_minutes) from marts.participant_day
        where day_state <> 'unknown' and pain is not null and sleep_minutes is not null
        group by pid
        """,
    )
    weekly = rows(
        snapshot,
        """
        select pid, count(*), max(adherence) - min(adherence) from marts.participant_week
        where days_elapsed > 0 and mean_pain is not null and adherence is not null
          and mean_steps is not null
        group by pid
        """,
    )
    enough = {
        (pid, "sleep_prev_night_h"): n
        for pid, n, distinct in daily
        if n >= rules["person_min_paired_days"] and distinct > 1
    }
    enough |= {
        (pid, "consistency_10pct"): n
        for pid, n, spread in weekly
        if n >= rules["person_min_weeks"] and spread > 1e-9
    }
    return enough


def test_person_effects_need_the_minimum_data_of_the_rules(runs):
    expected = person_effect_evidence(runs.snapshot, OVERRIDES)
    for rule in ("person_min_paired_days", "person_min_weeks"):
        fewer = person_effect_evidence(runs.snapshot, but_default(rule)).keys()
        assert expected.keys() > fewer, f"{rule} moves numbers"
    published = {
        (pid, term): n
        for pid, term, n in rows(
            runs.snapshot, "select pid, term, n_obs from models.person_effects"
        )
    }
    assert published == expected


def expected_spells(snapshot: Path, gap_days: int) -> pl.DataFrame:
    people = frame(
        snapshot, "select pid, enrolled_on, program_weeks, withdrawn_on from marts.participants"
    )
    practice = frame(snapshot, "select distinct pid, day from marts.sessions where completed")
    (as_of,) = rows(snapshot, "select as_of from meta.snapshot")[0]
    return expected_spells_frame(people, practice, as_of, gap_days)


def test_retention_follows_the_disengagement_gap(runs):
    expected = expected_spells(runs.snapshot, OVERRIDES["disengagement_gap_days"])
    at_defaults = expected_spells(runs.snapshot, DEFAULTS["disengagement_gap_days"])
    assert expected["disengaged"].sum() > at_defaults["disengaged"].sum()

    mart = frame(runs.snapshot, "select pid, days, disengaged from marts.engagement_spells")
    assert mart.sort("pid").equals(expected.sort("pid"))
    retention = frame(runs.snapshot, "select * from models.retention order by days_since_enrolment")
    assert retention.equals(kaplan_meier(expected))


def test_the_early_warning_follows_its_rules(runs):
    """Gap and horizon decide the weeks at risk and their labels, risk_min_events whether the
    model is validated, the probability rules its bands and risk_baseline_adherence the baseline
    (tests/warning_oracle.py recomputes the weeks)."""
    expected = expected_weeks(runs.snapshot, OVERRIDES)
    for rule in ("disengagement_gap_days", "disengagement_horizon_days"):
        other = expected_weeks(runs.snapshot, but_default(rule))
        assert {k: w.event for k, w in other.items()} != {
            k: w.event for k, w in expected.items()
        }, f"{rule} moves numbers"
    risk = frame(runs.snapshot, "select * from models.disengagement_risk")
    assert set(zip(risk["pid"], risk["week"], strict=True)) == set(expected)

    (row,) = frame(runs.snapshot, "select * from models.disengagement_model").to_dicts()
    assert (row["horizon_days"], row["gap_days"]) == (21, 7)
    train_cohorts, test_cohorts = row["train_cohorts"].split(", "), row["test_cohorts"].split(", ")
    labelled = [w for w in expected.values() if w.event is not None]
    train = [w for w in labelled if w.cohort in train_cohorts]
    test = [w for w in labelled if w.cohort in test_cohorts]
    assert (row["train_weeks"], row["train_events"]) == (len(train), sum(w.event for w in train))
    assert (row["test_weeks"], row["test_events"]) == (len(test), sum(w.event for w in test))
    # validated with risk_min_events = 2; at its default (20) it would not have been
    assert "was not validated" not in row["reason"] and row["roc_auc_model"] is not None
    assert min(row["train_events"], row["test_events"]) < DEFAULTS["risk_min_events"]

    # on this cohort the model beats the baseline under these rules (and not under others,
    # e.g. a 7-day horizon): its bands follow the probability rules
    assert row["published"] == "logistic_regression"
    bands = [band(p, ProgramRules(**OVERRIDES)) for p in risk["probability"]]
    assert risk["band"].to_list() == bands
    assert bands != [band(p, ProgramRules()) for p in risk["probability"]]

    # the baseline of the validation: its flagged group is the weeks below 70 % adherence
    flagged = sum(w.features["adherence"] < OVERRIDES["risk_baseline_adherence"] for w in test)
    assert flagged != sum(
        w.features["adherence"] < DEFAULTS["risk_baseline_adherence"] for w in test
    )
    baseline = frame(
        runs.snapshot,
        "select weeks from models.disengagement_calibration where scorer = 'baseline_rule' "
        "order by bin",
    )
    assert baseline["weeks"].to_list() == [len(test) - flagged, flagged]


def test_the_coach_digest_counts_silence_by_the_rule(runs):
    """A person stopped checking in after checkin_silence_days (2 here) without a check-in."""
    (as_of,) = rows(runs.snapshot, "select as_of from meta.snapshot")[0]
    silence: dict[str, dict[str, int]] = defaultdict(dict)
    for coach, pid, enrolled_on, last in rows(
        runs.snapshot,
        """
        select p.coach_id, p.pid, p.enrolled_on, max(d.day) filter (
            where d.day_state <> 'unknown' and (d.pain is not null or d.sleep_quality is not null
                or d.stress is not null or d.movement_confidence is not null))
        from marts.participants as p join marts.participant_day as d using (pid)
        where p.status = 'active'
        group by all
        """,
    ):
        silence[coach][pid] = (as_of - (last or enrolled_on - timedelta(days=1))).days

    def silent(days: int) -> dict[str, dict[str, int]]:
        return {
            coach: {pid: n for pid, n in people.items() if n >= days}
            for coach, people in silence.items()
        }

    assert silent(OVERRIDES["checkin_silence_days"]) != silent(DEFAULTS["checkin_silence_days"])
    snapshot = read_snapshot(runs.snapshot, sorted(silence))
    assert snapshot.rules.checkin_silence_days == OVERRIDES["checkin_silence_days"]
    assert {
        coach: {
            line.pid: line.days_without_checkin
            for line in caseload.lines
            if line.days_without_checkin is not None
        }
        for coach, caseload in snapshot.caseloads.items()
    } == silent(OVERRIDES["checkin_silence_days"])


# --- dashboards -------------------------------------------------------------------------------


@pytest.fixture
def dashboards_on(runs, monkeypatch) -> Path:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(runs.data_dir))
    return runs.data_dir


def share_of_people(yes: int, people: int) -> float | None:
    if not disclosure.share_shown(yes, people):
        return None
    return disclosure.round_value(yes / people, disclosure.SHARE)


def test_cohort_figures_follow_the_rules(runs, dashboards_on):
    from dashboards.queries import cohort as queries

    latest: dict[str, tuple[int, float]] = {}
    for pid, week, adherence in rows(
        runs.snapshot,
        """
        select w.pid, w.week, w.adherence from marts.participant_week as w
        join marts.participants as p using (pid)
        where p.status = 'active' and w.week_complete and w.adherence is not null
        """,
    ):
        if pid not in latest or week > latest[pid][0]:
            latest[pid] = (week, adherence)
    adherent = sum(a >= OVERRIDES["adherent_share"] for _, a in latest.values())
    responders = [o.responder for o in pain_outcomes(runs.snapshot, OVERRIDES).values()]
    responders = [r for r in responders if r is not None]

    headline = queries.cohort_headline(PROGRAM_MANAGER)
    assert headline["adherent_this_week"] == share_of_people(adherent, len(latest))
    assert headline["responders"] == share_of_people(sum(responders), len(responders))

    dose = queries.dose_response(PROGRAM_MANAGER)
    assert dose["band"].to_list() == BAND_LABELS
    for n, (_, changes) in zip(
        dose["n_people"].to_list(), dose_bands(runs.snapshot, OVERRIDES), strict=True
    ):
        assert n == (len(changes) if disclosure.count_shown(len(changes)) else None)

    spells = expected_spells(runs.snapshot, OVERRIDES["disengagement_gap_days"])
    retention = queries.retention_by_week(PROGRAM_MANAGER)
    shown = retention.filter(~pl.col("suppressed"))
    assert shown.height
    for week, at_risk in shown.select("week", "at_risk").iter_rows():
        assert at_risk == (spells["days"] >= 7 * week).sum(), week


def test_person_and_caseload_figures_follow_the_rules(runs, dashboards_on):
    from dashboards import person_metrics
    from dashboards.queries import caseload as caseload_queries
    from dashboards.queries import person as person_queries

    (as_of,) = rows(runs.snapshot, "select as_of from meta.snapshot")[0]
    weekly: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for pid, week, mean, checkins in rows(
        runs.snapshot,
        "select pid, program_week, avg(pain), count(pain) from marts.participant_day "
        "where day <= ? and day_state <> 'unknown' group by all order by pid, program_week",
        [as_of],
    ):
        if checkins >= OVERRIDES["baseline_min_checkins"]:
            weekly[pid].append((week, mean))
    outcomes = pain_outcomes(runs.snapshot, OVERRIDES)
    pid = min(pid for pid, o in outcomes.items() if o.baseline is not None)

    panels = person_queries.person_panels(PROGRAM_MANAGER, pid)
    rules = panels["rules"]
    assert {key: getattr(rules, key) for key in OVERRIDES} == OVERRIDES
    shown = person_metrics.weekly_pain(panels["days"], as_of, rules)
    assert shown["program_week"].to_list() == [week for week, _ in weekly[pid]]
    assert shown["mean_pain"].to_list() == pytest.approx([mean for _, mean in weekly[pid]])
    baseline = outcomes[pid].baseline
    assert person_metrics.responder_threshold(baseline, rules) == pytest.approx(
        baseline - max(1.0, 0.25 * baseline)
    )

    (coach,) = rows(runs.snapshot, "select coach_id from marts.participants where pid = ?", [pid])[
        0
    ]
    caseload = caseload_queries.caseload(User(username="test-coach", role="coach", coach_id=coach))
    for person, means in caseload.select("pid", "weekly_pain").iter_rows():
        assert means == pytest.approx([mean for _, mean in weekly[person]]), person


# --- an invalid program.toml --------------------------------------------------------------------


@pytest.fixture
def invalid_program(small_cohort, tmp_path, monkeypatch) -> Path:
    """A copy of the published cohort (no raw/, no warehouse yet) with an invalid program.toml."""
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))  # cli.main points it here
    data_dir = copy_generated(small_cohort, tmp_path / "data")
    (data_dir / "program.toml").write_text("[rules]\nadherent_share = 1.5\n")
    return data_dir


def nothing_built(data_dir: Path, snapshot: bytes) -> None:
    assert not (data_dir / "raw").exists(), "nothing parsed"
    assert not (data_dir / "warehouse.duckdb").exists(), "nothing built"
    assert snapshot_path(data_dir).read_bytes() == snapshot, "the snapshot is unchanged"


def test_an_invalid_program_toml_stops_steadyback_run_before_anything(invalid_program, capsys):
    snapshot = snapshot_path(invalid_program).read_bytes()
    code = cli.main(["run", "--data-dir", str(invalid_program)])

    out, err = capsys.readouterr()
    assert code == 2
    assert str(invalid_program / "program.toml") in err
    assert "adherent_share = 1.5 is out of range" in err and "from 0 to 1" in err
    assert "Published" not in out
    nothing_built(invalid_program, snapshot)


def test_an_invalid_program_toml_fails_a_run_started_by_the_sensor_in_its_first_steps(
    invalid_program,
):
    snapshot = snapshot_path(invalid_program).read_bytes()
    job = build_definitions(invalid_program).resolve_job_def("refresh")
    with dg.DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)

    assert not result.success
    failed = [e for e in result.all_events if e.is_step_failure]
    assert failed and all(e.step_key.startswith("raw__") for e in failed)
    assert all(
        "adherent_share = 1.5 is out of range" in e.step_failure_data.error.to_string()
        for e in failed
    )
    nothing_built(invalid_program, snapshot)
