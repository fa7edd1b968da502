"""The Caseload page for coaches, against the small cohort's published snapshot.

Expected people, order and values are computed here from the snapshot with
DuckDB and plain Python, never through `dashboards.queries`.
"""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from page_harness import first_coach, metrics, open_app, page_text, query, snapshot_file

from dashboards import queries
from pipelines.lib.users import User

SEVERITY_RANK = {"alert": 0, "warning": 1, "info": 2}
TABLE_KEY = "caseload_table"


def as_of(data_dir: Path) -> date:
    return query(data_dir, "select as_of from meta.snapshot")[0][0]


def expected_caseload(data_dir: Path, coach_id: str) -> list[dict]:
    """The coach's people with their open flags, last practice and weeks, in the page's order.

    Order (the page names it): most open alerts, then warnings, then info flags;
    ties: active first, then longest since the last practice (never practised
    first), then pid.
    """
    people = {
        pid: {
            "pid": pid,
            "status": status,
            "week_now": week_now,
            "weeks": weeks,
            "flags": [],
            "last_practice": None,
            "adherence": [],
        }
        for pid, status, week_now, weeks in query(
            data_dir,
            "select pid, status, program_week_now, program_weeks from marts.participants "
            "where coach_id = ?",
            [coach_id],
        )
    }
    for pid, severity, evidence, since in query(
        data_dir, "select pid, severity, evidence, since from marts.flags where is_open"
    ):
        if pid in people:
            people[pid]["flags"].append((severity, since, evidence))
    for pid, day in query(
        data_dir,
        "select pid, max(day) from marts.participant_day where day_state = 'done' group by pid",
    ):
        if pid in people:
            people[pid]["last_practice"] = day
    for pid, adherence in query(
        data_dir,
        "select pid, adherence from marts.participant_week "
        "where week_complete and adherence is not null order by pid, week",
    ):
        if pid in people:
            people[pid]["adherence"].append(adherence)
    for pid, baseline, latest in query(
        data_dir, "select pid, pain_baseline, pain_latest from marts.outcomes"
    ):
        if pid in people:
            people[pid]["pain"] = (baseline, latest)
    cutoff = as_of(data_dir)
    for person in people.values():
        person["days_since"] = (
            None if person["last_practice"] is None else (cutoff - person["last_practice"]).days
        )
        person["flags"].sort(key=lambda f: (SEVERITY_RANK[f[0]], f[1]))

    def order(person: dict) -> tuple:
        severities = [f[0] for f in person["flags"]]
        never = person["days_since"] is None
        return (
            -severities.count("alert"),
            -severities.count("warning"),
            -severities.count("info"),
            person["status"] != "active",
            not never,
            -(person["days_since"] or 0),
            person["pid"],
        )

    return sorted(people.values(), key=order)


def table(at) -> pd.DataFrame:
    (frame,) = at.dataframe
    return frame.value


def as_date(value) -> date | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime | pd.Timestamp):
        return value.date()
    return value


def as_int(value) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def test_coach_sees_exactly_their_people_in_the_named_order(dashboard_dir, monkeypatch):
    coach = first_coach(dashboard_dir)
    expected = expected_caseload(dashboard_dir, coach)
    assert expected, "the snapshot's first coach has nobody: the test would prove nothing"
    at = open_app(dashboard_dir, monkeypatch, "coach", "caseload")

    shown = table(at)
    assert at.title[0].value == "Caseload"
    assert list(shown["Participant"]) == [person["pid"] for person in expected]
    others = {
        pid
        for (pid,) in query(
            dashboard_dir, "select pid from marts.participants where coach_id <> ?", [coach]
        )
    }
    assert not others & set(shown["Participant"]), "another coach's participant is listed"
    assert "most open alerts first" in page_text(at)

    headline = metrics(at)
    assert headline["Participants"] == str(len(expected))
    assert headline["Active"] == str(sum(p["status"] == "active" for p in expected))
    assert headline["Contact now"] == str(
        sum(any(f[0] == "alert" for f in p["flags"]) for p in expected)
    )
    assert headline["Any open flag"] == str(sum(bool(p["flags"]) for p in expected))


def test_each_row_shows_flags_practice_adherence_and_pain(dashboard_dir, monkeypatch):
    coach = first_coach(dashboard_dir)
    expected = {p["pid"]: p for p in expected_caseload(dashboard_dir, coach)}
    assert any(p["flags"] for p in expected.values()), "no open flag to check the evidence of"
    at = open_app(dashboard_dir, monkeypatch, "coach", "caseload")

    for row in table(at).to_dict("records"):
        person = expected[row["Participant"]]
        assert row["Status"] == person["status"].replace("_", " ")
        if person["week_now"] is not None:
            assert row["Week"] == f"{person['week_now']} of {person['weeks']}"
        assert as_int(row["Open flags"]) == len(person["flags"])
        flagged = row["What's flagged"] or ""
        positions = [flagged.index(evidence) for _, _, evidence in person["flags"]]
        assert positions == sorted(positions), "flags are not listed most severe first"
        assert as_date(row["Last practice"]) == person["last_practice"]
        assert as_int(row["Days since"]) == person["days_since"]
        assert list(row["Weekly adherence"]) == pytest.approx(person["adherence"])
        baseline, latest = person["pain"]
        if baseline is not None and latest is not None:
            assert row["Pain"].startswith(f"{baseline:.1f} → {latest:.1f}")
            assert ("better" in row["Pain"]) == (round(latest - baseline, 1) < 0)


def test_order_puts_alerts_before_more_numerous_milder_flags(dashboard_dir, tmp_path, monkeypatch):
    """Plant open flags of known severities in a copy of the snapshot and check the order."""
    snapshot = snapshot_file(tmp_path)
    snapshot.parent.mkdir(parents=True)
    shutil.copy(snapshot_file(dashboard_dir), snapshot)
    coach = first_coach(dashboard_dir)
    planted = {  # position in the expected order -> severities of that person's open flags
        0: ["alert"],
        1: ["warning", "warning", "warning"],
        2: ["info", "warning", "info"],
        3: ["warning"],
        4: ["info", "info", "info"],
    }
    connection = duckdb.connect(str(snapshot))
    try:
        pids = [
            pid
            for (pid,) in connection.execute(
                "select pid from marts.participants where coach_id = ? order by pid desc limit 5",
                [coach],
            ).fetchall()
        ]
        if len(pids) < 5:
            pytest.skip("the first coach has fewer than 5 people to plant flags on")
        connection.execute("delete from marts.flags where is_open")
        flags = ["missed_days", "boom_bust", "too_intense"]
        for position, severities in planted.items():
            for n, severity in enumerate(severities):
                connection.execute(
                    "insert into marts.flags values (?, ?, ?, ?, ?, null, true, ?)",
                    [
                        pids[position],
                        coach,
                        flags[n],
                        severity,
                        date(2026, 1, 1 + n),
                        f"planted {severity} {position}-{n}",
                    ],
                )
    finally:
        connection.close()
    at = open_app(tmp_path, monkeypatch, "coach", "caseload")

    shown = table(at)
    assert list(shown["Participant"][:5]) == pids
    assert list(shown["Most urgent"][:5]) == [
        "🔴 alert",
        "🟠 warning",
        "🟠 warning",
        "🟠 warning",
        "🔵 info",
    ]
    mixed = shown["What's flagged"][2]
    assert mixed.index("planted warning 2-1") < mixed.index("planted info 2-0")
    assert mixed.index("planted info 2-0") < mixed.index("planted info 2-2")
    assert list(shown["Open flags"][5:]) == [0] * (len(shown) - 5)

    at.toggle[0].set_value(True).run()
    assert list(table(at)["Participant"]) == pids


def test_clicking_a_row_opens_that_person_page(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "coach", "caseload")
    pid = table(at)["Participant"][0]

    at.session_state[TABLE_KEY] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()

    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Person"
    assert at.query_params["pid"] == pid
    assert "not in your caseload" not in page_text(at)

    at.switch_page("app_pages/caseload.py").run()  # coming back must not bounce to the person
    assert at.title[0].value == "Caseload"
    assert table(at)["Participant"][0] == pid


def test_coach_with_nobody_gets_an_empty_state(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "other_coach", "caseload")

    assert not at.get("dataframe")
    assert "Nobody is assigned to your coach id" in page_text(at)
    assert "C-NOBODY" in page_text(at)


@pytest.mark.parametrize("role", ["program_manager", "analyst"])
def test_caseload_is_denied_to_other_roles(dashboard_dir, monkeypatch, role):
    at = open_app(dashboard_dir, monkeypatch, role, "caseload")

    assert not at.get("dataframe")
    assert any("Caseload page is not available" in error.value for error in at.error)


def test_data_layer_scopes_rows_to_the_viewer_coach(dashboard_dir, monkeypatch):
    """Whatever a page asks, `queries.caseload` returns only the viewer's own coach id's rows."""
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(dashboard_dir))
    for coach, people in query(
        dashboard_dir,
        "select coach_id, list(pid order by pid) from marts.participants group by coach_id",
    ):
        rows = queries.caseload(User("someone", "coach", coach_id=coach))
        assert sorted(rows["pid"].to_list()) == people
    assert queries.caseload(User("someone", "coach", coach_id=None)).height == 0
    for role in ("program_manager", "analyst"):
        with pytest.raises(queries.AccessDenied):
            queries.caseload(User("someone", role))
    with pytest.raises(queries.AccessDenied):
        queries.caseload(None)
