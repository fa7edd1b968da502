"""The pages explain their numbers with the snapshot's program rules (`meta.rules`).

The small cohort's snapshot is copied and its `meta.rules` rewritten to other values, as a run
with a program.toml would have recorded them: every threshold a page states, draws or applies
itself must follow. A copy without `meta.rules` stands for a snapshot of an older version: the
pages read it with the defaults and the data-health page says so.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from page_harness import copy_published, open_app, page_text, plotly_specs, query, snapshot_file

RULES = {  # what the rewritten snapshot records
    "adherent_share": 0.7,
    "dose_band_low_share": 0.5,
    "gentle_max_discomfort": 4,
    "aggressive_min_discomfort": 6,
    "responder_pain_points": 1.5,
    "responder_pain_share": 0.25,
    "baseline_min_checkins": 4,
    "disengagement_gap_days": 10,
}


def rewrite_rules(data_dir: Path, sql: str, params: list | None = None) -> None:
    with duckdb.connect(str(snapshot_file(data_dir))) as con:
        con.execute(sql, params or [])


@pytest.fixture
def other_rules(dashboard_dir, tmp_path) -> Path:
    data_dir = copy_published(dashboard_dir, tmp_path / "data")
    for key, value in RULES.items():
        rewrite_rules(
            data_dir,
            "update meta.rules set value = ?, source = 'program.toml' where key = ?",
            [value, key],
        )
    return data_dir


@pytest.fixture
def older_snapshot(dashboard_dir, tmp_path) -> Path:
    data_dir = copy_published(dashboard_dir, tmp_path / "data")
    rewrite_rules(data_dir, "drop table meta.rules")
    return data_dir


def test_the_cohort_page_states_and_draws_the_snapshots_rules(other_rules, monkeypatch):
    at = open_app(other_rules, monkeypatch, "program_manager", "cohort")
    helps = {metric.label: metric.proto.help for metric in at.metric}
    assert "at least 70 % of their prescribed" in helps["Adherent this week"]
    assert "at least 1.5 points and at least 25 % from" in helps["Pain responders"]
    assert "a weekly mean of ≥ 4 check-ins" in helps["Pain responders"]
    assert "disengages when 10 days in a row pass" in helps["Retention"]
    text = page_text(at)
    assert "(< 50 %, 50–69 %, ≥ 70 %)" in text
    assert "has at least 4 pain check-ins" in text
    assert "the dashed line marks an adherent week (70 %)" in text
    assert "on the first of 10 days in a row" in text
    adherence_chart = next(
        spec
        for spec in plotly_specs(at)
        if any(s.get("type") == "line" for s in spec["layout"].get("shapes", []))
    )
    assert [s["y0"] for s in adherence_chart["layout"]["shapes"] if s["type"] == "line"] == [0.7]


def busy_person_with_baseline(data_dir: Path) -> tuple[str, float]:
    return query(
        data_dir,
        """
        select o.pid, o.pain_baseline from marts.outcomes as o
        join marts.participant_day as d using (pid)
        where o.pain_baseline is not null
        group by all order by count(*) filter (where d.day_state = 'done') desc, o.pid
        limit 1
        """,
    )[0]


def test_the_person_page_applies_the_snapshots_rules(other_rules, monkeypatch):
    pid, baseline = busy_person_with_baseline(other_rules)
    at = open_app(other_rules, monkeypatch, "program_manager", "person", pid=pid)
    specs = {
        chart.proto.id.rsplit("-", 1)[-1]: spec
        for chart, spec in zip(at.get("plotly_chart"), plotly_specs(at), strict=True)
    }
    pain = {trace.get("name", ""): trace for trace in specs["pain"]["data"]}
    (as_of,) = query(other_rules, "select as_of from meta.snapshot")[0]
    weeks_with_four = [
        week
        for (week,) in query(
            other_rules,
            "select program_week from marts.participant_day "
            "where pid = ? and day <= ? and day_state <> 'unknown' "
            "group by 1 having count(pain) >= 4 order by 1",
            [pid, as_of],
        )
    ]
    assert [c[0] for c in pain["weekly mean (≥ 4 check-ins)"]["customdata"]] == weeks_with_four
    threshold = next(t for name, t in pain.items() if name.startswith("responder threshold"))
    assert all(y == pytest.approx(baseline - max(1.5, 0.25 * baseline)) for y in threshold["y"])

    gentle, aggressive, rated = query(
        other_rules,
        """
        select count(*) filter (where s.discomfort <= 4), count(*) filter (where s.discomfort >= 6),
               count(*)
        from marts.sessions as s
        join marts.participant_day as d on d.pid = s.pid and d.day = s.day
        where s.pid = ? and s.kind = 'stretch' and s.completed and s.discomfort is not null
          and d.day_state <> 'unknown'
        """,
        [pid],
    )[0]
    text = page_text(at)
    assert f"**{gentle / rated:.0%} were gentle** (≤ 4, the program's aim)" in text
    assert f"**{aggressive} aggressive** (≥ 6)" in text
    assert "A week is adherent at 70 % of the prescription or more." in text
    assert "(baseline − max(1.5, 25 % of baseline))" in text


def test_the_data_health_page_lists_the_rules_that_differ(other_rules, monkeypatch):
    at = open_app(other_rules, monkeypatch, "analyst", "data-health")
    (listing,) = [i.value for i in at.info if "program rule" in i.value]
    assert listing.startswith(f"{len(RULES)} program rules differ from the defaults")
    assert "- **adherent_share**: 0.7 (default 0.8)" in listing
    assert "- **disengagement_gap_days**: 10 (default 14)" in listing
    assert "valid_wear_minutes" not in listing


def test_the_data_health_page_says_when_every_rule_is_at_its_default(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")
    assert "Every program rule is at its default." in [s.value for s in at.success]


def test_a_snapshot_of_an_older_version_reads_as_the_defaults(older_snapshot, monkeypatch):
    at = open_app(older_snapshot, monkeypatch, "analyst", "data-health")
    assert any("does not record the program rules" in w.value for w in at.warning)

    at = open_app(older_snapshot, monkeypatch, "program_manager", "cohort")
    helps = {metric.label: metric.proto.help for metric in at.metric}
    assert "at least 80 % of their prescribed" in helps["Adherent this week"]
    assert "disengages when 14 days in a row pass" in helps["Retention"]
