"""The Person page: a coach's (or program manager's) view of one participant."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from page_harness import (
    metrics,
    open_app,
    plotly_specs,
    query,
)


def as_of(data_dir: Path) -> date:
    return query(data_dir, "select as_of from meta.snapshot")[0][0]


def a_busy_person(data_dir: Path) -> str:
    """The person with the most done days (ties by pid), so their page has content."""
    return query(
        data_dir,
        """
        select pid from marts.participant_day
        group by pid
        order by count(*) filter (where day_state = 'done') desc, pid
        limit 1
        """,
    )[0][0]


def test_person_page_from_query_param_shows_their_days(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    cutoff = as_of(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    done, missed, unknown = query(
        dashboard_dir,
        """
        select count(*) filter (where day_state = 'done'),
               count(*) filter (where day_state = 'missed'),
               count(*) filter (where day_state = 'unknown')
        from marts.participant_day where pid = ? and day <= ?
        """,
        [pid, cutoff],
    )[0]
    states = [
        state
        for (state,) in query(
            dashboard_dir,
            "select day_state from marts.participant_day where pid = ? and day <= ? order by day",
            [pid, cutoff],
        )
    ]
    if states and states[-1] != "done":  # the latest day may still be in progress
        states.pop()
    streak = len(states) - max((i + 1 for i, s in enumerate(states) if s != "done"), default=0)

    shown = metrics(at)
    assert at.title[0].value == "Person"
    assert at.selectbox[0].value == pid
    assert at.query_params["pid"] == pid
    assert shown["Days done"] == str(done)
    assert shown["Days missed"] == str(missed)
    assert shown["Days unknown"] == str(unknown)
    assert shown["Current streak"] == f"{streak} d"

    calendar, sessions = plotly_specs(at)
    heatmap = calendar["data"][0]
    assert heatmap["type"] == "heatmap"
    program_weeks = query(
        dashboard_dir,
        "select count(distinct program_week) from marts.participant_day where pid = ?",
        [pid],
    )[0][0]
    assert len(heatmap["y"]) == program_weeks
    assert heatmap["colorbar"]["ticktext"] == ["not yet", "no data", "missed", "done"]
    bars = next(trace for trace in sessions["data"] if trace["type"] == "bar")
    weekly = query(
        dashboard_dir,
        "select week, sessions from marts.participant_week "
        "where pid = ? and days_elapsed > 0 order by week",
        [pid],
    )
    assert bars["x"] == [week for week, _ in weekly]
    assert bars["y"] == [sessions for _, sessions in weekly]


def test_choosing_a_person_sets_the_query_param(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person")
    assert not at.get("plotly_chart")

    at.selectbox[0].select(pid).run()

    assert not at.exception
    assert at.query_params["pid"] == pid
    assert len(at.get("plotly_chart")) == 2


def test_unknown_pid_is_explained(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid="no-such-person")

    assert "No participant with pid `no-such-person`" in at.error[0].value
    assert not at.get("plotly_chart")
