"""The Data health page for analysts, and the run-history reader behind it.

Runs come from a real Dagster instance: a tiny generated cohort is run twice
through the real pipeline, first with `published` blocked by a plain file (the
publish step fails, nothing is published), then normally. Expected values are
read independently: runs from the instance's SQLite run storage, the failure
text from the runner's own report, everything else from the snapshot with DuckDB
and from the generator's `truth/` files.
"""

from __future__ import annotations

import csv
import shutil
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from page_harness import (
    copy_published,
    metrics,
    open_app,
    page_text,
    plotly_specs,
    query,
    snapshot_file,
)

from dashboards.queries import data_health as queries
from dashboards.run_history import instance_dir, read_run_history
from pipelines.lib.users import User

pytestmark = pytest.mark.pipeline

MIN_CELL_SIZE = 5


@pytest.fixture(scope="module")
def run_dirs(tmp_path_factory) -> dict:
    """Two data dirs with a real run history: after a failed run only, and after a success too."""
    import dagster as dg

    from pipelines.lib.demo_cohort import generate_cohort
    from pipelines.lib.layout import DataDir
    from pipelines.runner import dagster_home, run_pipeline

    data_dir = tmp_path_factory.mktemp("runs") / "data"
    generate_cohort(data_dir, participants=8, weeks=2, seed=3)
    layout = DataDir.at(data_dir)
    layout.published_dir.write_text("a file where the published/ folder should be\n")
    instance = dg.DagsterInstance.from_config(str(dagster_home(layout)))
    try:
        failed = run_pipeline(data_dir, instance=instance, log_level="ERROR")
    finally:
        instance.dispose()
    assert not failed.success and not failed.published, failed.render()
    layout.published_dir.unlink()
    no_snapshot = tmp_path_factory.mktemp("runs") / "no_snapshot"
    shutil.copytree(data_dir, no_snapshot)

    instance = dg.DagsterInstance.from_config(str(dagster_home(layout)))
    try:
        succeeded = run_pipeline(data_dir, instance=instance, log_level="ERROR")
    finally:
        instance.dispose()
    assert succeeded.published, succeeded.render()
    return {"published": data_dir, "no_snapshot": no_snapshot, "failed": failed, "ok": succeeded}


def stored_runs(data_dir: Path) -> list[tuple[str, str]]:
    """(run_id, status) straight from the instance's SQLite run storage, newest first."""
    path = instance_dir(data_dir) / "history" / "runs.db"
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return connection.execute("select run_id, status from runs order by id desc").fetchall()
    finally:
        connection.close()


def frame_with_column(at, column: str):
    frames = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0]


def copy_snapshot(source: Path, target: Path) -> Path:
    snapshot = snapshot_file(target)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(source), snapshot)
    return snapshot


def present(value) -> bool:
    return value is not None and not pd.isna(value)


# --- run history --------------------------------------------------------------------------


def test_run_history_reads_the_instance_the_runner_writes(run_dirs):
    from pipelines.lib.layout import DataDir
    from pipelines.runner import dagster_home

    data_dir = run_dirs["published"]
    assert instance_dir(data_dir) == dagster_home(DataDir.at(data_dir))

    history = read_run_history(data_dir)

    assert history.state == "ok"
    runs = history.runs
    assert list(zip(runs["run_id"], runs["status"], strict=True)) == [
        (run_id, status.lower()) for run_id, status in stored_runs(data_dir)
    ]
    by_id = {row["run_id"]: row for row in runs.iter_rows(named=True)}
    failed, ok = by_id[run_dirs["failed"].run_id], by_id[run_dirs["ok"].run_id]
    assert failed["failure"] == run_dirs["failed"].failure
    assert "published__current_snapshot" in failed["failure"]
    assert (failed["published"], ok["published"]) == (False, True)
    assert ok["failure"] is None
    snapshot_fingerprint = query(data_dir, "select landing_fingerprint from meta.snapshot")[0][0]
    assert ok["landing_fingerprint"] == snapshot_fingerprint
    assert all(seconds > 0 for seconds in runs["duration_s"])


def test_run_history_never_creates_or_changes_an_instance(tmp_path, run_dirs):
    missing = read_run_history(tmp_path)
    assert missing.state == "missing"
    assert not (tmp_path / ".dagster").exists()

    (tmp_path / ".dagster").mkdir()
    (tmp_path / ".dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert read_run_history(tmp_path).state == "empty"
    assert sorted(p.name for p in (tmp_path / ".dagster").iterdir()) == ["dagster.yaml"]

    home = instance_dir(run_dirs["published"])
    before = instance_files(home)
    read_run_history(run_dirs["published"])
    assert instance_files(home) == before


def instance_files(home: Path) -> dict[Path, tuple[int, int]]:
    """Size and mtime of every file of the instance but SQLite's WAL side files, which SQLite
    itself removes when the last connection closes (an empty WAL, no data change)."""
    return {
        p: (p.stat().st_size, p.stat().st_mtime_ns)
        for p in home.rglob("*")
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


# --- the page: runs -----------------------------------------------------------------------


def test_without_a_snapshot_the_page_still_shows_the_failed_run(run_dirs, monkeypatch):
    data_dir = run_dirs["no_snapshot"]
    assert not snapshot_file(data_dir).exists()
    [(run_id, status)] = stored_runs(data_dir)
    assert status == "FAILURE"

    at = open_app(data_dir, monkeypatch, "analyst", "data-health")

    text = page_text(at)
    assert "nothing published yet" in text
    assert any(
        run_id[:8] in error.value and run_dirs["failed"].failure in error.value
        for error in at.error
    ), [error.value for error in at.error]
    runs = frame_with_column(at, "Run")
    assert list(runs["Run"]) == [run_id[:8]]
    assert list(runs["Status"]) == ["failure"]
    assert list(runs["Published"]) == ["no"]
    assert "Nothing has been published yet" in text
    assert "come from the published snapshot" in text
    assert metrics(at)["Failed runs"] == "1 of 1"

    next(button for button in at.button if button.label == "Refresh runs").click().run()
    assert not at.exception
    assert list(frame_with_column(at, "Run")["Status"]) == ["failure"]


def test_runs_are_listed_newest_first_and_the_snapshot_run_is_marked(run_dirs, monkeypatch):
    data_dir = run_dirs["published"]
    expected = stored_runs(data_dir)

    at = open_app(data_dir, monkeypatch, "analyst", "data-health")

    runs = frame_with_column(at, "Run")
    assert list(runs["Run"]) == [run_id[:8] for run_id, _ in expected]
    assert list(runs["Status"]) == [status.lower() for _, status in expected]
    snapshot_run = query(data_dir, "select run_id from meta.snapshot")[0][0]
    published = dict(zip(runs["Run"], runs["Published"], strict=True))
    assert published[snapshot_run[:8]] == "current snapshot"
    assert published[run_dirs["failed"].run_id[:8]] == "no"
    failures = dict(zip(runs["Run"], runs["Failure"], strict=True))
    assert failures[run_dirs["failed"].run_id[:8]] == run_dirs["failed"].failure
    assert metrics(at)["Latest run"] == "success"
    assert metrics(at)["Failed runs"] == f"1 of {len(expected)}"
    assert not any("ended in" in error.value for error in at.error)


def test_a_data_dir_without_run_history_says_so(dashboard_dir, tmp_path, monkeypatch):
    copy_snapshot(dashboard_dir, tmp_path)

    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    assert f"`{tmp_path.absolute() / '.dagster'}` does not exist" in page_text(at)
    assert not (tmp_path / ".dagster").exists()
    assert at.get("plotly_chart"), "the snapshot panels should still be shown"


# --- the page: snapshot panels ------------------------------------------------------------


def test_freshness_per_source_matches_the_snapshot(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")

    files = frame_with_column(at, "files_quarantined")
    expected = query(
        dashboard_dir,
        """
        select source, count(*), count(*) filter (where status <> 'loaded'),
               sum(rows_read), sum(rows_landed), sum(rows_quarantined)
        from meta.source_files group by source order by source
        """,
    )
    shown = [
        (r.source, r.files, r.files_quarantined, r.rows_read, r.rows_landed, r.rows_quarantined)
        for r in files.itertuples()
    ]
    assert shown == [tuple(row) for row in expected]

    streams = frame_with_column(at, "latest_day")
    latest = {
        (r.source, r.data): (r.latest_day, r.days_behind, r.stale) for r in streams.itertuples()
    }
    cutoff = query(dashboard_dir, "select as_of from meta.snapshot")[0][0]
    [(checkin_day,)] = query(
        dashboard_dir,
        "select max(day) from marts.participant_day where pain is not null "
        "or sleep_quality is not null or stress is not null or movement_confidence is not null",
    )
    day, behind, _ = latest[("app", "daily check-ins")]
    assert (day.date() if hasattr(day, "date") else day) == checkin_day
    assert behind == (cutoff - checkin_day).days
    for source, steps_day in query(
        dashboard_dir,
        "select steps_source, max(day) from marts.participant_day "
        "where steps is not null group by steps_source",
    ):
        day, behind, status = latest[(source, "steps (valid wear days)")]
        assert behind == (cutoff - steps_day).days
        assert status == ("stale" if behind >= queries.STALE_AFTER_DAYS else "ok")
    assert latest[("prom", "questionnaires")][2] in ("occasional", "no data")


def test_planted_invalid_rows_show_with_their_reason(dashboard_dir, monkeypatch):
    with (dashboard_dir / "truth" / "quarantine.csv").open() as handle:
        planted = list(csv.DictReader(handle))
    assert planted, "the generator planted no invalid rows"

    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")

    issues = frame_with_column(at, "reason")
    rows = {(r.file, int(r.line)): r for r in issues.itertuples() if present(r.line)}
    for plant in planted:
        row = rows[(plant["file"], int(plant["line"]))]
        assert row.field == plant["field"]
        assert row.action in ("row quarantined", "row not linked")
        assert plant["field"] in row.reason
        if plant["field"] == "participant_id":  # identifiers are shown as their pseudonym
            assert row.value != plant["value"]
            assert plant["value"] not in page_text(at)
        else:
            assert row.value == plant["value"]
            assert plant["value"] in row.reason

    [(quarantined, unlinked, total)] = query(
        dashboard_dir,
        """
        select count(*) filter (where action = 'row quarantined'),
               count(*) filter (where action = 'row not linked'), count(*)
        from marts.ingest_issues
        """,
    )
    shown = metrics(at)
    assert shown["Rows quarantined"] == f"{quarantined:,}"
    assert shown["Rows not linked"] == f"{unlinked:,}"
    assert shown["Other issues"] == f"{total - quarantined - unlinked:,}"
    assert len(issues) == min(total, queries.ISSUE_ROWS_SHOWN)


def test_quarantined_file_is_listed_with_its_error(dashboard_dir, tmp_path, monkeypatch):
    snapshot = copy_snapshot(dashboard_dir, tmp_path)
    connection = duckdb.connect(str(snapshot))
    try:
        connection.execute(
            """
            update meta.source_files set status = 'quarantined', error = 'not UTF-8 text'
            where file = (select min(file) from meta.source_files where source = 'app')
            """
        )
        [(file,)] = connection.execute(
            "select file from meta.source_files where status = 'quarantined'"
        ).fetchall()
    finally:
        connection.close()

    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    files = frame_with_column(at, "error")
    assert list(zip(files["file"], files["error"], strict=True)) == [(file, "not UTF-8 text")]
    assert any("1 landing file could not be read" in error.value for error in at.error)


def test_check_results_list_failures_first(dashboard_dir, tmp_path, monkeypatch):
    snapshot = copy_snapshot(dashboard_dir, tmp_path)
    connection = duckdb.connect(str(snapshot))
    try:
        [(total,)] = connection.execute("select count(*) from meta.check_results").fetchall()
        connection.execute(
            """
            update meta.check_results set passed = false, failing_rows = 7
            where (asset, check_name) in (
                select asset, check_name from meta.check_results where blocking
                order by asset desc, check_name desc limit 1)
            """
        )
        connection.execute(
            """
            update meta.check_results set passed = false, blocking = false, failing_rows = 3
            where (asset, check_name) in (
                select asset, check_name from meta.check_results where passed
                order by asset, check_name limit 1)
            """
        )
        failed = connection.execute(
            "select asset, check_name, blocking from meta.check_results where not passed "
            "order by blocking desc"
        ).fetchall()
    finally:
        connection.close()

    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    checks = frame_with_column(at, "check_name")
    assert len(checks) == total
    head = list(
        zip(checks["asset"][:2], checks["check_name"][:2], checks["passed"][:2], strict=True)
    )
    assert head == [(asset, name, "failed") for asset, name, _ in failed]
    assert list(checks["blocking"][:2]) == ["blocking", "warning"]
    assert set(checks["passed"][2:]) == {"passed"}
    shown = metrics(at)
    assert shown["Checks passed"] == f"{total - 2} of {total}"
    assert shown["Blocking failures"] == "1"
    assert shown["Warnings"] == "1"


def test_published_snapshot_shows_all_checks_passed(dashboard_dir, monkeypatch):
    [(total, failed)] = query(
        dashboard_dir, "select count(*), count(*) filter (where not passed) from meta.check_results"
    )
    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")

    assert metrics(at)["Checks passed"] == f"{total - failed} of {total}"
    if failed == 0:
        assert any(f"All {total} checks passed" in s.value for s in at.success)


def expected_coverage(data_dir: Path) -> dict[str, dict[int, float]]:
    """Per series name, week -> share of elapsed person-days; weeks with >= 5 people only."""
    rows = query(
        data_dir,
        """
        select program_week, pid,
               pain is not null or sleep_quality is not null or stress is not null
                   or movement_confidence is not null,
               steps is not null, steps_source, sleep_minutes is not null, sleep_source
        from marts.participant_day where day_state <> 'unknown'
        """,
    )
    people: dict[int, set] = {}
    days: dict[int, int] = {}
    hits: dict[str, dict[int, int]] = {}
    for week, pid, checked_in, has_steps, steps_source, has_sleep, sleep_source in rows:
        people.setdefault(week, set()).add(pid)
        days[week] = days.get(week, 0) + 1
        for name, present_ in (
            ("check-in · app", checked_in),
            (f"steps · {steps_source}", has_steps),
            (f"sleep · {sleep_source}", has_sleep),
        ):
            if present_:
                hits.setdefault(name, {}).setdefault(week, 0)
                hits[name][week] += 1
    return {
        name: {
            week: by_week.get(week, 0) / days[week]
            for week in sorted(days)
            if len(people[week]) >= MIN_CELL_SIZE
        }
        for name, by_week in hits.items()
    }


def test_coverage_by_week_matches_the_snapshot(dashboard_dir, monkeypatch):
    expected = expected_coverage(dashboard_dir)
    assert {"check-in · app"} < set(expected), "no wearable coverage to compare"

    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")

    (spec,) = plotly_specs(at)
    traces = {trace["name"]: trace for trace in spec["data"]}
    assert set(traces) == set(expected)
    for name, by_week in expected.items():
        assert traces[name]["x"] == list(by_week)
        assert traces[name]["y"] == pytest.approx(list(by_week.values()))


def test_coverage_weeks_of_fewer_than_five_people_are_suppressed(
    dashboard_dir, tmp_path, monkeypatch
):
    snapshot = copy_snapshot(dashboard_dir, tmp_path)
    connection = duckdb.connect(str(snapshot))
    try:
        [(week,)] = connection.execute(
            "select max(program_week) from marts.participant_day where day_state <> 'unknown'"
        ).fetchall()
        connection.execute(
            """
            update marts.participant_day set day_state = 'unknown'
            where program_week = ? and pid not in (
                select distinct pid from marts.participant_day
                where program_week = ? and day_state <> 'unknown' order by pid limit 3)
            """,
            [week, week],
        )
    finally:
        connection.close()

    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    (spec,) = plotly_specs(at)
    assert all(week not in trace["x"] for trace in spec["data"])
    assert all(trace["x"] for trace in spec["data"])
    assert f"Suppressed: week {week} — fewer than {MIN_CELL_SIZE} people" in page_text(at)


# --- access -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["coach", "program_manager"])
def test_data_health_is_denied_to_other_roles(run_dirs, monkeypatch, role):
    at = open_app(run_dirs["published"], monkeypatch, role, "data-health")

    assert any("Data health page is not available" in error.value for error in at.error)
    assert not at.get("dataframe")
    assert not at.get("plotly_chart")


def test_data_layer_gives_the_run_history_to_analysts(run_dirs, monkeypatch):
    """Other roles and anonymous viewers are refused by every data-health read, before it
    reads anything: tests/dashboards/test_access.py walks them all."""
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(run_dirs["published"]))
    assert queries.run_history(User("a", "analyst")).state == "ok"


# --- people per source --------------------------------------------------------------------


def plant_small_sources(source: Path, target: Path) -> dict[str, list[str]]:
    """A copy of the snapshot in which 3 people's steps come from `garmin` (with a per-person
    folder each) and 5 people's from `oura` — in week 3 only 2 of them."""
    snapshot = copy_snapshot(source, target)
    connection = duckdb.connect(str(snapshot))
    try:
        pids = [
            pid
            for (pid,) in connection.execute(
                "select pid from marts.participant_day where steps is not null and program_week = 3 "
                "group by pid order by pid limit 8"
            ).fetchall()
        ]
        garmin, oura = pids[:3], pids[3:8]
        connection.execute(
            "update marts.participant_day set steps_source = 'garmin' "
            "where list_contains(?, pid) and steps is not null",
            [garmin],
        )
        connection.execute(
            "update marts.participant_day set steps_source = 'oura' "
            "where steps is not null and (list_contains(?, pid) and program_week in (1, 2) "
            "or list_contains(?, pid) and program_week = 3)",
            [oura, oura[:2]],
        )
        for pid in garmin:
            connection.execute(
                "insert into meta.source_files values ('garmin', 'garmin_fit', ?, 'abc', 120, "
                "110, 10, 'loaded', null, timestamp '2026-05-09 06:00:00+00')",
                [f"garmin/{pid}/2026-05-09.fit"],
            )
    finally:
        connection.close()
    return {"garmin": garmin, "oura": oura}


def test_a_source_of_fewer_than_five_people_shows_no_figures(dashboard_dir, tmp_path, monkeypatch):
    planted = plant_small_sources(dashboard_dir, tmp_path)

    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    files = frame_with_column(at, "files_quarantined")
    garmin = files[files["source"] == "garmin"].iloc[0]
    assert garmin["people"] == f"fewer than {MIN_CELL_SIZE} people"
    for column in ("files", "files_quarantined", "newest_file_at", "rows_read", "rows_landed"):
        assert not present(garmin[column]), column
    assert all(files[files["source"] != "garmin"]["people"].str.isdigit())

    streams = frame_with_column(at, "latest_day")
    by_source = {(r.source, r.data): r for r in streams.itertuples()}
    hidden = by_source[("garmin", "steps (valid wear days)")]
    assert hidden.stale == f"fewer than {MIN_CELL_SIZE} people"
    assert not present(hidden.latest_day) and not present(hidden.days_behind)
    shown = by_source[("oura", "steps (valid wear days)")]
    assert shown.people == str(len(planted["oura"])) and present(shown.latest_day)

    (spec,) = plotly_specs(at)
    traces = {trace["name"]: trace for trace in spec["data"]}
    assert "steps · garmin" not in traces
    oura = dict(zip(traces["steps · oura"]["x"], traces["steps · oura"]["y"], strict=True))
    assert 3 not in oura, "week 3's oura steps come from 2 people"
    assert oura[1] > 0 and oura[2] > 0
    assert {share for week, share in oura.items() if week > 3} <= {0}, "nobody is shown as 0"
    coverage = frame_with_column(at, "person_days")
    assert "steps · garmin" not in coverage.columns
    text = page_text(at)
    assert (
        f"steps · garmin: every week not shown — its data comes from fewer than {MIN_CELL_SIZE}"
        in text
    )
    assert (
        f"steps · oura: week 3 not shown — its data comes from fewer than {MIN_CELL_SIZE}" in text
    )


def test_data_layer_counts_people_per_source_before_its_figures(
    dashboard_dir, tmp_path, monkeypatch
):
    plant_small_sources(dashboard_dir, tmp_path)
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(tmp_path))
    analyst = User("a", "analyst")

    files = queries.source_files_by_source(analyst)
    garmin = files.filter(files["source"] == "garmin").row(0, named=True)
    assert garmin["suppressed"] and garmin["people"] is None
    assert {garmin[c] for c in ("files", "rows_read", "newest_file_at")} == {None}
    people = dict(zip(files["source"], files["people"], strict=True))
    [(everyone,)] = query(tmp_path, "select count(*) from marts.participants")
    assert people["roster"] == everyone
    [(linked,)] = query(tmp_path, "select count(*) from marts.participants where has_wearable")
    assert people["fitabase"] >= linked

    coverage = queries.coverage_by_week(analyst)
    small = coverage.filter(coverage["source"] == "garmin")
    assert small["share"].is_null().all() and small["days_with"].is_null().all()
    assert small["source_suppressed"].all()


# --- the early warning's decision ----------------------------------------------------------------


def decision_row(data_dir: Path) -> dict:
    connection = duckdb.connect(str(snapshot_file(data_dir)), read_only=True)
    try:
        return connection.sql("select * from models.disengagement_model").pl().row(0, named=True)
    finally:
        connection.close()


def test_the_early_warning_panel_shows_the_published_decision(dashboard_dir, monkeypatch):
    """The small cohort has too few spells to validate the model: the run kept the baseline."""
    decision = decision_row(dashboard_dir)
    assert decision["published"] == "baseline_rule" and decision["roc_auc_model"] is None
    at = open_app(dashboard_dir, monkeypatch, "analyst", "data-health")

    (kept,) = [w.value for w in at.warning if "Baseline kept" in w.value]
    assert kept.endswith(f": {decision['reason']}.")
    headline = metrics(at)
    assert headline["Published scorer"] == "baseline rule"
    assert headline["Weeks scored"] == f"{decision['published_weeks']:,}"
    assert headline["People scored"] == f"{decision['published_people']:,}"
    text = page_text(at)
    assert (
        f"Trained on **{decision['train_cohorts']}** ({decision['train_weeks']:,} labelled weeks, "
        f"{decision['train_events']:,} followed by a disengagement spell); measured on "
        f"**{decision['test_cohorts']}** ({decision['test_weeks']:,} weeks, "
        f"{decision['test_events']:,} events)"
    ) in text
    assert not [f for f in at.dataframe if "measure" in f.value.columns], "no measures to show"


def test_the_scorers_measures_are_the_published_table_s_own(dashboard_dir, tmp_path, monkeypatch):
    """Numbers no run would compute, planted in `models.disengagement_model` and
    `models.disengagement_calibration`: the page shows exactly them (it recomputes nothing)."""
    copy_snapshot(dashboard_dir, tmp_path)
    planted = {
        "published": "logistic_regression",
        "reason": "planted: the model beat the baseline rule",
        "roc_auc_model": 0.7123,
        "roc_auc_baseline": 0.6011,
        "precision_top_model": 0.2345,
        "precision_top_baseline": 0.1234,
        "brier_model": 0.0456,
        "brier_baseline": 0.0789,
        "published_people": 3,
    }
    connection = duckdb.connect(str(snapshot_file(tmp_path)))
    try:
        connection.execute(
            "update models.disengagement_model set "
            + ", ".join(f"{column} = ?" for column in planted),
            list(planted.values()),
        )
        connection.execute("delete from models.disengagement_calibration")
        connection.execute(
            "insert into models.disengagement_calibration values "
            "('logistic_regression', 1, 40, 2, 0.011, 0.05), "
            "('baseline_rule', 1, 30, 3, 0.09, 0.1)"
        )
    finally:
        connection.close()
    at = open_app(tmp_path, monkeypatch, "analyst", "data-health")

    assert any(f"**Model published** (logistic regression): {planted['reason']}." == s.value
               for s in at.success)  # fmt: skip
    measures = frame_with_column(at, "measure")
    assert list(measures["model"]) == [0.7123, 0.2345, 0.0456]
    assert list(measures["baseline"]) == [0.6011, 0.1234, 0.0789]
    assert list(measures["measure"])[1].startswith("Precision at the top 10 % of risk")
    calibration = frame_with_column(at, "observed_rate")
    assert calibration.values.tolist() == [
        ["logistic_regression", 1, 40, 2, 0.011, 0.05],
        ["baseline_rule", 1, 30, 3, 0.09, 0.1],
    ]
    headline = metrics(at)
    assert headline["Published scorer"] == "model"
    assert headline["People scored"] == f"fewer than {MIN_CELL_SIZE} people"


# --- the coach digest's deliveries ---------------------------------------------------------------


class Inbox:
    """An aiosmtpd handler that accepts every message."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def digest_env(port: int) -> dict[str, str]:
    return {
        "STEADYBACK_SMTP_HOST": "127.0.0.1",
        "STEADYBACK_SMTP_PORT": str(port),
        "STEADYBACK_SMTP_SECURITY": "none",
        "STEADYBACK_DIGEST_FROM": "steadyback@clinic.example.org",
        "STEADYBACK_DASHBOARD_URL": "https://steadyback.example.org",
    }


def test_a_failed_digest_send_is_shown_with_its_error_and_sent_ones_are_counted(
    dashboard_dir, tmp_path, monkeypatch
):
    """The real digest code sends one coach's mail to a real SMTP server and another's to a
    port nobody listens on; the ledger it writes is what the page shows."""
    from aiosmtpd.controller import Controller

    from pipelines.lib.digest.deliver import send_digests
    from pipelines.lib.digest.ledger import read_deliveries
    from pipelines.lib.layout import DataDir
    from pipelines.lib.users import UserStore

    data_dir = copy_published(dashboard_dir, tmp_path / "data")
    coaches = [c for (c,) in query(data_dir, "select distinct coach_id from marts.participants")]
    store = UserStore.at(data_dir)
    store.add("ana", "coach", "a coach's password", coach_id=coaches[0], email="ana@x.example.org")
    store.add("bo", "coach", "a coach's password", coach_id=coaches[1], email="bo@x.example.org")
    monday = datetime(2026, 6, 22, 6, 0, tzinfo=UTC)
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        (sent,) = send_digests(data_dir, monday, ["ana"], env=digest_env(controller.port))
    finally:
        controller.stop()
    (failed,) = send_digests(
        data_dir, monday, ["bo"], env=digest_env(free_port()), wait=lambda s: None
    )
    assert (sent.status, failed.status, len(inbox.messages)) == ("sent", "failed", 1)
    entry = read_deliveries(DataDir.at(data_dir))["bo/2026-W26"]

    at = open_app(data_dir, monkeypatch, "analyst", "data-health")

    (error,) = [e.value for e in at.error if "could not be sent" in e.value]
    assert error.startswith("**1 digest could not be sent.**")
    failed_rows = frame_with_column(at, "error").to_dict("records")
    assert failed_rows == [
        {
            "username": "bo",
            "coach_id": coaches[1],
            "week": "2026-W26",
            "attempts": entry["attempts"],
            "last_attempt_at": entry["last_attempt_at"],
            "error": entry["error"],
        }
    ]
    assert entry["attempts"] == 3 and "Connection refused" in entry["error"]
    headline = metrics(at)
    assert (headline["Digests sent"], headline["Failed sends"]) == ("1", "1")
    assert headline["Latest week sent"] == "2026-W26"
    per_coach = frame_with_column(at, "weeks_sent").to_dict("records")
    assert [(r["username"], r["last_sent_week"], r["weeks_sent"]) for r in per_coach] == [
        ("ana", "2026-W26", 1),
        ("bo", "none yet", 0),
    ]


def test_a_damaged_digest_ledger_is_an_error_naming_it(dashboard_dir, tmp_path, monkeypatch):
    data_dir = copy_published(dashboard_dir, tmp_path / "data")
    ledger = data_dir / "digest" / "deliveries.json"
    ledger.parent.mkdir(mode=0o700)
    ledger.write_text('{"version": 1, "deliveries": [', encoding="utf-8")
    at = open_app(data_dir, monkeypatch, "analyst", "data-health")

    assert any(str(ledger) in e.value and "not a steadyback digest ledger" in e.value
               for e in at.error)  # fmt: skip
    assert "Asset checks" in [h.value for h in at.subheader], "the rest of the page still shows"
