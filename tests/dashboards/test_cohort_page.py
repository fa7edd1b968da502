"""The Cohort page for program managers, against the small cohort's published snapshot."""

from __future__ import annotations

import shutil

import duckdb
import pytest
from page_harness import (
    ADHERENT_WEEK_THRESHOLD,
    MIN_CELL_SIZE,
    metrics,
    open_app,
    plotly_specs,
    query,
    snapshot_file,
)


def people_count_text(count: int) -> str:
    """How the cohort page shows a head count: 1–4 people are suppressed."""
    return f"< {MIN_CELL_SIZE}" if 0 < count < MIN_CELL_SIZE else f"{count:,}"


def test_cohort_page_shows_headline_from_snapshot(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    participants, active = query(
        dashboard_dir,
        "select count(*), count(*) filter (where status = 'active') from marts.participants",
    )[0]
    shown = metrics(at)
    assert at.title[0].value == "Cohort"
    assert shown["Participants"] == people_count_text(participants)
    assert shown["Active"] == people_count_text(active)

    [(people_with_weeks, adherent_share)] = query(
        dashboard_dir,
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


def test_cohort_chart_shows_median_of_weeks_with_enough_people(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")

    weeks = query(
        dashboard_dir,
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


def test_cohort_filter_narrows_the_headline(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "cohort")
    cohorts = query(
        dashboard_dir,
        "select cohort, count(*) from marts.participants group by cohort order by count(*) desc",
    )
    cohort, participants = cohorts[0]

    at.multiselect[0].select(cohort).run()

    assert not at.exception
    assert metrics(at)["Participants"] == people_count_text(participants)


def test_small_cohort_is_suppressed(dashboard_dir, tmp_path, monkeypatch):
    """Shrink the smallest cohort to 3 people in a copy of the snapshot, then select it."""
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
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
    at = open_app(tmp_path, monkeypatch, "program_manager", "cohort")

    at.multiselect[0].select(cohort).run()

    assert not at.exception
    assert metrics(at)["Participants"] == f"< {MIN_CELL_SIZE}"
    assert metrics(at)["Adherent weeks"] == "suppressed"
    assert not at.get("plotly_chart"), "a chart of fewer than 5 people must not be drawn"
    assert any(f"fewer than {MIN_CELL_SIZE}" in info.value for info in at.info)
