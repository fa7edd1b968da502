"""The app as a whole: login, roles, snapshot swaps and empty states."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest
from page_harness import (
    PAGES,
    USERS,
    log_in,
    open_app,
    query,
    snapshot_file,
)

from pipelines.lib import audit
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


def test_logging_out_forgets_the_person_and_what_was_audited(dashboard_dir, monkeypatch):
    """The next person to log in on the same tab starts clean: no stale pid, every view audited."""
    coach_id = query(dashboard_dir, "select min(coach_id) from marts.participants")[0][0]
    pid = query(
        dashboard_dir, "select min(pid) from marts.participants where coach_id <> ?", [coach_id]
    )[0][0]

    def events(user: str, outcome: str) -> int:
        return sum(
            1
            for e in audit.read(dashboard_dir)
            if e.user == user and e.pid == pid and e.outcome == outcome
        )

    manager, coach = USERS["program_manager"][0], USERS["coach"][0]
    viewed, denied = events(manager, "viewed"), events(coach, "denied")
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)
    assert events(manager, "viewed") == viewed + 1

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    assert "pid" not in at.query_params
    log_in(at, coach)  # another user, same tab
    at.switch_page(PAGES["person"]).run()
    assert not at.exception
    assert events(coach, "denied") == denied, "the coach never asked for the manager's person"

    next(b for b in at.sidebar.button if b.label == "Log out").click().run()
    log_in(at, manager)
    at.query_params["pid"] = pid
    at.switch_page(PAGES["person"]).run()
    assert not at.exception
    assert events(manager, "viewed") == viewed + 2, "a view after logging in again is a new view"


def test_a_password_reset_ends_open_sessions(dashboard_dir, tmp_path, monkeypatch):
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")
    assert at.metric

    UserStore.at(tmp_path).add("pm", "program_manager", "a brand new password", replace=True)
    at.run()

    assert not at.metric
    assert [button.label for button in at.button] == ["Log in"]
