"""Dashboard pages rendered headless with Streamlit's AppTest against a published snapshot.

Why: the pages are what program managers and coaches see. These tests check that
each page shows the numbers the snapshot holds — every expected value is computed
here straight from the snapshot with DuckDB, so they hold for any valid snapshot —
that small groups stay suppressed, that a newly published snapshot shows without a
restart, and that a data dir without a snapshot gives an empty state, not a traceback.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
MIN_CELL_SIZE = 5  # program managers never see a number describing fewer people
ADHERENT_WEEK_THRESHOLD = 0.8  # an adherent week: >= 80 % of prescribed sessions


def snapshot_file(data_dir: Path) -> Path:
    return data_dir / "published" / "current.duckdb"


def query(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(snapshot_file(data_dir)), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def people_count_text(count: int) -> str:
    """How the cohort page shows a head count: 1–4 people are suppressed."""
    return f"< {MIN_CELL_SIZE}" if 0 < count < MIN_CELL_SIZE else f"{count:,}"


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def run_app(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_person(at: AppTest, pid: str | None) -> AppTest:
    if pid is not None:
        at.query_params["pid"] = pid
    at.switch_page("app_pages/person.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


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


def test_cohort_page_shows_headline_from_snapshot(published_data_dir, monkeypatch):
    at = run_app(published_data_dir, monkeypatch)

    participants, active = query(
        published_data_dir,
        "select count(*), count(*) filter (where status = 'active') from marts.participants",
    )[0]
    shown = metrics(at)
    assert at.title[0].value == "Cohort"
    assert shown["Participants"] == people_count_text(participants)
    assert shown["Active"] == people_count_text(active)

    [(people_with_weeks, adherent_share)] = query(
        published_data_dir,
        """
        select count(distinct pid), avg(case when adherence >= ? then 1.0 else 0.0 end)
        from marts.participant_week
        where week_complete and adherence is not null
        """,
        [ADHERENT_WEEK_THRESHOLD],
    )
    if people_with_weeks >= MIN_CELL_SIZE:
        assert shown["Adherent weeks"] == f"{adherent_share:.0%}"
    else:
        assert shown["Adherent weeks"] == "suppressed"


def test_cohort_chart_shows_median_of_weeks_with_enough_people(published_data_dir, monkeypatch):
    at = run_app(published_data_dir, monkeypatch)

    weeks = query(
        published_data_dir,
        """
        select week, count(*), median(adherence)
        from marts.participant_week
        where week_complete and adherence is not null
        group by week order by week
        """,
    )
    shown_weeks = [(week, median) for week, n, median in weeks if n >= MIN_CELL_SIZE]
    hidden_weeks = [week for week, n, _ in weeks if n < MIN_CELL_SIZE]
    if not shown_weeks:
        pytest.skip("this snapshot has no program week completed by enough people to chart")

    (spec,) = plotly_specs(at)
    median_trace = next(trace for trace in spec["data"] if trace.get("name") == "median person")
    assert median_trace["x"] == [week for week, _ in shown_weeks]
    assert median_trace["y"] == pytest.approx([median for _, median in shown_weeks])
    assert any(trace.get("fill") == "tonexty" for trace in spec["data"]), "no IQR band"
    threshold_lines = [shape for shape in spec["layout"]["shapes"] if shape["type"] == "line"]
    assert [line["y0"] for line in threshold_lines] == [ADHERENT_WEEK_THRESHOLD]
    page_text = " ".join(caption.value for caption in at.caption)
    assert f"fewer than {MIN_CELL_SIZE} people" in page_text
    for week in hidden_weeks:
        assert str(week) in page_text.split("Suppressed:")[1]


def test_cohort_filter_narrows_the_headline(published_data_dir, monkeypatch):
    at = run_app(published_data_dir, monkeypatch)
    cohorts = query(
        published_data_dir,
        "select cohort, count(*) from marts.participants group by cohort order by count(*) desc",
    )
    cohort, participants = cohorts[0]

    at.multiselect[0].select(cohort).run()

    assert not at.exception
    assert metrics(at)["Participants"] == people_count_text(participants)


def test_small_cohort_is_suppressed(published_data_dir, tmp_path, monkeypatch):
    """Shrink the smallest cohort to 3 people in a copy of the snapshot, then select it."""
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(published_data_dir), snapshot)
    connection = duckdb.connect(str(snapshot))
    try:
        (cohort,) = connection.execute(
            "select cohort from marts.participants group by cohort order by count(*), cohort"
        ).fetchone()
        connection.execute(
            "create temp table leaving as select pid from marts.participants "
            "where cohort = ? order by pid offset 3",
            [cohort],
        )
        connection.execute(
            """
            delete from marts.participant_day where pid in (select pid from leaving);
            delete from marts.participant_week where pid in (select pid from leaving);
            delete from marts.participants where pid in (select pid from leaving);
            """
        )
    finally:
        connection.close()
    at = run_app(tmp_path, monkeypatch)

    at.multiselect[0].select(cohort).run()

    assert not at.exception
    assert metrics(at)["Participants"] == f"< {MIN_CELL_SIZE}"
    assert metrics(at)["Adherent weeks"] == "suppressed"
    assert not at.get("plotly_chart"), "a chart of fewer than 5 people must not be drawn"
    assert any(f"fewer than {MIN_CELL_SIZE}" in info.value for info in at.info)


def test_person_page_from_query_param_shows_their_days(published_data_dir, monkeypatch):
    pid = a_busy_person(published_data_dir)
    cutoff = as_of(published_data_dir)
    at = open_person(run_app(published_data_dir, monkeypatch), pid)

    done, missed, unknown = query(
        published_data_dir,
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
            published_data_dir,
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
        published_data_dir,
        "select count(distinct program_week) from marts.participant_day where pid = ?",
        [pid],
    )[0][0]
    assert len(heatmap["y"]) == program_weeks
    assert heatmap["colorbar"]["ticktext"] == ["not yet", "no data", "missed", "done"]
    bars = next(trace for trace in sessions["data"] if trace["type"] == "bar")
    weekly = query(
        published_data_dir,
        "select week, sessions from marts.participant_week "
        "where pid = ? and days_elapsed > 0 order by week",
        [pid],
    )
    assert bars["x"] == [week for week, _ in weekly]
    assert bars["y"] == [sessions for _, sessions in weekly]


def test_choosing_a_person_sets_the_query_param(published_data_dir, monkeypatch):
    pid = a_busy_person(published_data_dir)
    at = open_person(run_app(published_data_dir, monkeypatch), None)
    assert not at.get("plotly_chart")

    at.selectbox[0].select(pid).run()

    assert not at.exception
    assert at.query_params["pid"] == pid
    assert len(at.get("plotly_chart")) == 2


def test_unknown_pid_is_explained(published_data_dir, monkeypatch):
    at = open_person(run_app(published_data_dir, monkeypatch), "no-such-person")

    assert "No participant with pid `no-such-person`" in at.error[0].value
    assert not at.get("plotly_chart")


def test_newly_published_snapshot_shows_without_restart(published_data_dir, tmp_path, monkeypatch):
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(published_data_dir), snapshot)
    at = run_app(tmp_path, monkeypatch)
    (run_id,) = query(tmp_path, "select run_id from meta.snapshot")[0]
    assert f"run `{run_id[:8]}`" in " ".join(c.value for c in at.sidebar.caption)

    republished = tmp_path / "next.duckdb"
    shutil.copy(snapshot, republished)
    connection = duckdb.connect(str(republished))
    connection.execute("update meta.snapshot set run_id = 'feedface0000'")
    connection.close()
    os.replace(republished, snapshot)  # how a run swaps the snapshot in
    at.run()

    assert not at.exception
    assert "run `feedface`" in " ".join(c.value for c in at.sidebar.caption)


@pytest.mark.parametrize("page", ["app_pages/cohort.py", "app_pages/person.py"])
def test_missing_snapshot_gives_an_empty_state(tmp_path, monkeypatch, page):
    at = run_app(tmp_path, monkeypatch)
    at.switch_page(page).run()

    assert not at.exception
    assert "No published data yet" in at.info[0].value
    assert "steadyback run" in at.info[0].value
    assert not at.get("plotly_chart")
