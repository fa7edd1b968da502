"""One person's headline, computed once (`person_summary`) and shown alike by the page and report.

Why: the Person page and the printable report used to compute days, streaks, adherent
weeks and the pain verdict each on their own, so one could drift from the other. Here
`person_summary` is checked against the marts recomputed in SQL (an oracle that shares no
code with it), and for several people of the generated cohort the page's figures and the
report's figures are both exactly what the summary says.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from page_harness import metrics, open_app, query, snapshot_file, snapshot_rules
from report_html import ReportHtml

from dashboards.person_summary import PersonSummary, person_summary

pytestmark = pytest.mark.pipeline


def as_of(data_dir: Path) -> date:
    return query(data_dir, "select as_of from meta.snapshot")[0][0]


def frame(data_dir: Path, sql: str, pid: str) -> pl.DataFrame:
    with duckdb.connect(str(snapshot_file(data_dir)), read_only=True) as connection:
        return connection.sql(sql, params=[pid]).pl()


def summary_of(data_dir: Path, pid: str) -> PersonSummary:
    """person_summary over the person's marts rows, as the page and the report pass them."""
    days = frame(data_dir, "select * from marts.participant_day where pid = ? order by day", pid)
    weeks = frame(data_dir, "select * from marts.participant_week where pid = ? order by week", pid)
    outcome = frame(data_dir, "select * from marts.outcomes where pid = ?", pid)
    return person_summary(
        days,
        weeks,
        outcome.row(0, named=True) if outcome.height else None,
        as_of(data_dir),
        snapshot_rules(data_dir),
    )


def people(data_dir: Path) -> list[str]:
    """Several kinds of people: the busiest, a withdrawn one, the most improved, the one with
    the fewest check-ins (perhaps no baseline), and the first and last pid."""
    picks = query(
        data_dir,
        """
        select
            (select d.pid from marts.participant_day as d group by d.pid
             order by count(*) filter (where d.day_state = 'done') desc, d.pid limit 1),
            (select min(pid) from marts.participants where status = 'withdrawn'),
            (select pid from marts.outcomes order by pain_change nulls last, pid limit 1),
            (select d.pid from marts.participant_day as d group by d.pid
             order by count(d.pain), d.pid limit 1),
            (select min(pid) from marts.participants),
            (select max(pid) from marts.participants)
        """,
    )[0]
    chosen = list(dict.fromkeys(pid for pid in picks if pid is not None))
    assert len(chosen) >= 5, picks
    return chosen


def expected(data_dir: Path, pid: str) -> dict:
    """The headline recomputed from the marts in SQL (streaks as runs of consecutive days)."""
    cutoff, rules = as_of(data_dir), snapshot_rules(data_dir)
    days = query(
        data_dir,
        """
        with elapsed as (
            select day, day_state, wear_state, sleep_minutes,
                   day = max(day) over () as is_latest
            from marts.participant_day where pid = $pid and day <= $cutoff
        ),
        runs as (
            select day, day_state, is_latest,
                   day - cast(row_number() over (partition by day_state = 'done' order by day)
                              as integer) as run
            from elapsed
        ),
        done_runs as (
            select run, count(*) as length, max(day) as last_day from runs
            where day_state = 'done' group by run
        ),
        streak_end as (  -- the latest day, or the day before when the latest is not done yet
            select max(day) as day from elapsed
            where not is_latest or day_state = 'done'
        )
        select
            count(*) filter (where day_state = 'done'),
            count(*) filter (where day_state = 'missed'),
            count(*) filter (where day_state = 'unknown'),
            coalesce((select length from done_runs where last_day = (select day from streak_end)), 0),
            coalesce((select max(length) from done_runs), 0),
            count(*) filter (where day_state <> 'unknown'),
            count(*) filter (where day_state <> 'unknown' and wear_state = 'worn'),
            count(*) filter (where day_state <> 'unknown' and wear_state = 'partial'),
            count(*) filter (where day_state <> 'unknown' and wear_state = 'not_worn'),
            count(*) filter (where day_state <> 'unknown' and wear_state = 'no_data'),
            count(*) filter (where day_state <> 'unknown' and sleep_minutes is not null)
        from elapsed
        """,
        {"pid": pid, "cutoff": cutoff},
    )[0]
    weeks = query(
        data_dir,
        "select count(*), count(*) filter (where adherence >= ?) from marts.participant_week "
        "where pid = ? and week_complete",
        [rules.adherent_share, pid],
    )[0]
    outcome = query(
        data_dir,
        "select pain_baseline, pain_latest, pain_change, pain_responder from marts.outcomes "
        "where pid = ?",
        [pid],
    )
    baseline, latest, change, responder = outcome[0] if outcome else (None,) * 4
    names = ("done", "missed", "unknown", "current", "longest", "days", "worn", "partial")
    names += ("not_worn", "no_data", "nights")
    return {
        **dict(zip(names, days, strict=True)),
        "complete": weeks[0],
        "adherent": weeks[1],
        "baseline": baseline,
        "latest": latest,
        "change": change,
        "responder": responder,
        "threshold": None
        if baseline is None
        else baseline - max(rules.responder_pain_points, rules.responder_pain_share * baseline),
    }


def test_the_summary_is_the_marts_headline(dashboard_dir):
    for pid in people(dashboard_dir):
        summary, truth = summary_of(dashboard_dir, pid), expected(dashboard_dir, pid)
        assert (summary.days_done, summary.days_missed, summary.days_unknown) == (
            truth["done"],
            truth["missed"],
            truth["unknown"],
        ), pid
        assert (summary.current_streak, summary.longest_streak) == (
            truth["current"],
            truth["longest"],
        ), pid
        assert (summary.adherent_weeks, summary.complete_weeks) == (
            truth["adherent"],
            truth["complete"],
        ), pid
        wear = summary.wear
        assert (wear.days, wear.worn, wear.partial, wear.not_worn, wear.no_data) == (
            truth["days"],
            truth["worn"],
            truth["partial"],
            truth["not_worn"],
            truth["no_data"],
        ), pid
        assert wear.worn + wear.partial + wear.not_worn + wear.no_data == wear.days
        assert wear.sleep_nights == truth["nights"], pid
        assert (summary.pain_baseline, summary.pain_latest, summary.pain_change) == (
            truth["baseline"],
            truth["latest"],
            truth["change"],
        ), pid
        assert summary.responder == truth["responder"], pid
        assert summary.responder_threshold == pytest.approx(truth["threshold"]), pid


def test_page_and_report_show_the_summary(dashboard_dir, monkeypatch, downloads):
    for pid in people(dashboard_dir):
        summary = summary_of(dashboard_dir, pid)
        at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)
        shown = metrics(at)
        html = next(d.data for d in reversed(downloads) if d.name and pid in d.name)
        printed = ReportHtml(html.decode("utf-8")).text

        headline = {
            ("Days done", "days_done"): str(summary.days_done),
            ("Days missed", "days_missed"): str(summary.days_missed),
            ("Days unknown", "days_unknown"): str(summary.days_unknown),
            ("Current streak", "current_streak"): f"{summary.current_streak} d",
            ("Longest streak", "longest_streak"): f"{summary.longest_streak} d",
            ("Adherent weeks", "adherent_weeks"): (
                f"{summary.adherent_weeks} of {summary.complete_weeks}"
            ),
        }
        for (label, name), value in headline.items():
            assert shown[label] == value == printed[name], (pid, label)
        assert shown["Pain responder"] == summary.responder_text
        if summary.pain_baseline is None:
            assert shown["Baseline pain"] == "—" and "pain_baseline" not in printed
            continue
        assert shown["Baseline pain"] == f"{summary.pain_baseline:.1f}" == printed["pain_baseline"]
        assert printed["pain_responder"] == summary.responder_text
        if summary.pain_latest is not None:
            assert shown["Latest weekly pain"] == f"{summary.pain_latest:.1f}"
            assert shown["Change"] == f"{summary.pain_change:+.1f}" == printed["pain_change"]
            assert printed["pain_latest"] == shown["Latest weekly pain"]
