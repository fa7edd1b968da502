"""The Dagster code location loads, with one asset per SQL file and the automation analysts rely on."""

from __future__ import annotations

import json
import os

import dagster as dg
import pytest

from pipelines.definitions import build_definitions, defs
from pipelines.defs.automation import landing_sensor
from pipelines.defs.resources import SteadybackResource
from pipelines.lib.sql_catalog import SQL_DIR


def test_definitions_load_like_dagster_dev_loads_them():
    # the same validation `dg check defs` / the webserver's code server performs
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    sql_files = {
        f"{p.parent.name}/{p.stem}"
        for d in ("staging", "marts")
        for p in (SQL_DIR / d).glob("*.sql")
    }
    assert sql_files <= keys
    assert "published/current_snapshot" in keys
    assert {"raw/roster", "raw/app_sessions", "raw/fitabase_daily_activity"} <= keys


def test_lineage_runs_from_raw_through_staging_to_publish():
    graph = defs.resolve_asset_graph()

    def parents(key: str) -> set[str]:
        return {p.to_user_string() for p in graph.get(dg.AssetKey(key.split("/"))).parent_keys}

    assert "raw/app_sessions" in parents("staging/app__sessions")
    assert "staging/app__sessions" in parents("marts/sessions")
    assert "marts/participant_day" in parents("published/current_snapshot")


def test_blocking_checks_guard_the_marts():
    specs = {
        (spec.asset_key.to_user_string(), spec.name): spec
        for asset in defs.assets
        for spec in asset.check_specs
    }
    assert specs[("marts/participant_day", "unique_pid_day")].blocking
    assert specs[("marts/participant_day", "one_row_per_program_day")].blocking
    assert specs[("marts/participant_day", "accepted_values_day_state")].blocking
    assert not specs[("marts/sessions", "linked_to_roster")].blocking


def test_nightly_schedule_runs_the_refresh_job():
    schedule = defs.resolve_schedule_def("nightly_refresh")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.job_name == "refresh"


def _tick(data_dir, cursor):
    context = dg.build_sensor_context(
        cursor=cursor, resources={"steadyback": SteadybackResource(data_dir=str(data_dir))}
    )
    result = landing_sensor(context)
    return result, context.cursor


def test_sensor_starts_exactly_one_run_per_settled_change(tmp_path):
    landing = tmp_path / "landing" / "app"
    landing.mkdir(parents=True)
    (landing / "sessions_1.csv").write_text("session_id\n")

    result, cursor = _tick(tmp_path, None)
    assert isinstance(result, dg.SkipReason) and "once it is stable" in result.skip_message
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.RunRequest)
    first_key = result.run_key
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.SkipReason) and "no change" in result.skip_message

    (landing / "sessions_1.csv").write_text("session_id\ns1\n")  # a re-export with a correction
    os.utime(landing / "sessions_1.csv", ns=(1, 2_000_000_000_000_000_000))
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.SkipReason)
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.RunRequest) and result.run_key != first_key
    assert json.loads(cursor)["submitted"] == json.loads(cursor)["seen"]


def test_sensor_ignores_hidden_partial_copies(tmp_path):
    (tmp_path / "landing").mkdir()
    _, cursor = _tick(tmp_path, None)
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.RunRequest)
    (tmp_path / "landing" / ".sessions_2.csv.part").write_text("half a file")
    result, _ = _tick(tmp_path, cursor)
    assert isinstance(result, dg.SkipReason) and "no change" in result.skip_message


def test_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(tmp_path))
    resource = build_definitions().resources["steadyback"]
    assert resource.data_dir == str(tmp_path)


@pytest.mark.pipeline
def test_a_fresh_sensor_does_not_rerun_what_the_cli_already_published(tmp_path):
    from pipelines.runner import run_pipeline

    (tmp_path / "landing" / "roster").mkdir(parents=True)
    (tmp_path / "landing" / "roster" / "roster.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,timezone\nP-1,A,C-1,2026-03-02,America/Chicago\n"
    )
    assert run_pipeline(tmp_path, log_level="WARNING").published
    result, cursor = _tick(tmp_path, None)
    assert isinstance(result, dg.SkipReason) and "already published" in result.skip_message
    (tmp_path / "landing" / "roster" / "roster_2.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,timezone\nP-2,A,C-1,2026-03-02,America/Chicago\n"
    )
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.SkipReason) and "once it is stable" in result.skip_message
    result, cursor = _tick(tmp_path, cursor)
    assert isinstance(result, dg.RunRequest)
