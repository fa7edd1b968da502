"""The app as a whole: login, roles, snapshot swaps and empty states."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest
from page_harness import (
    open_app,
    query,
    snapshot_file,
)

from pipelines.lib.users import UserStore


def test_newly_published_snapshot_shows_without_restart(dashboard_dir, tmp_path, monkeypatch):
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")
    (run_id,) = query(tmp_path, "select run_id from meta.snapshot")[0]
    assert f"run `{run_id[:8]}`" in " ".join(c.value for c in at.main.caption)

    republished = tmp_path / "next.duckdb"
    shutil.copy(snapshot, republished)
    connection = duckdb.connect(str(republished))
    connection.execute("update meta.snapshot set run_id = 'feedface0000'")
    connection.close()
    os.replace(republished, snapshot)  # how a run swaps the snapshot in
    at.run()

    assert not at.exception
    assert "run `feedface`" in " ".join(c.value for c in at.main.caption)


@pytest.mark.parametrize(
    ("role", "page"),
    [
        ("program_manager", "cohort"),
        ("program_manager", "person"),
        ("coach", "caseload"),
        ("analyst", "cohort"),
    ],
)
def test_missing_snapshot_gives_an_empty_state(tmp_path, monkeypatch, role, page):
    at = open_app(tmp_path, monkeypatch, role, page)

    assert not at.exception
    assert "No published data yet" in at.info[0].value
    assert "steadyback run" in at.info[0].value
    assert not at.get("plotly_chart")


def test_a_removed_user_loses_access_at_the_next_click(dashboard_dir, tmp_path, monkeypatch):
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")
    assert at.metric, "the program manager should see the cohort headline"

    UserStore.at(tmp_path).remove("pm")
    at.run()

    assert not at.exception
    assert not at.metric
    assert [button.label for button in at.button] == ["Log in"]
