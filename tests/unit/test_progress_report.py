"""The printable progress report (`dashboards.report`): numbers, one standalone page, privacy.

A three-week person is written out by hand below, so every expected number can be checked
by reading the frames: enrolled Mon 2 Mar 2026, data as of Tue 17 Mar (program day 16).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from report_html import ReportHtml

from dashboards.report import progress_report_html
from pipelines.lib.rules import ProgramRules

ENROLLED = date(2026, 3, 2)
AS_OF = date(2026, 3, 17)
# Day states of the 21 program days (days 17–21 lie after as of, so they are unknown).
STATES = "DDMDDDM" + "DDDDDMM" + "DM" + "UUUUU"
PAIN = [6, 6, 7, None, 6, 6, 5] + [4, 4, None, None, 4, 3, 5] + [3, None] + [None] * 5


def days_frame() -> pl.DataFrame:
    state_names = {"D": "done", "M": "missed", "U": "unknown"}
    return pl.DataFrame(
        {
            "day": [ENROLLED + timedelta(days=i) for i in range(21)],
            "program_day": list(range(1, 22)),
            "program_week": [i // 7 + 1 for i in range(21)],
            "day_state": [state_names[s] for s in STATES],
            "pain": PAIN,
            # the report's headline (person_summary) counts the tracker's days too
            "wear_state": ["no_data"] * 21,
            "sleep_minutes": [None] * 21,
        },
        schema_overrides={
            "program_day": pl.Int32,
            "program_week": pl.Int32,
            "pain": pl.Int32,
            "sleep_minutes": pl.Int32,
        },
    )


def weeks_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "week": [1, 2, 3],
            "days_elapsed": [7, 7, 2],
            "week_complete": [True, True, False],
            "sessions": [6, 3, 1],
            "prescribed": [5, 5, 5],
            "adherence": [1.0, 0.6, 0.2],
        }
    )


def principles_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "week": [1, 2, 3],
            "days_elapsed": [7, 7, 2],
            "week_complete": [True, True, False],
            "consistency": [1.0, 0.6, 0.2],
            "gentle": [0.5, 1.0, None],
            "breathing": [0.0, 0.25, 1.0],
            "stability": [0.4, 0.0, 0.0],
            "activity": [None, None, None],
            "sleep_recovery": [0.75, 0.8, 0.9],
            "confidence": [0.3, 0.35, 0.4],
        }
    )


OUTCOME = {
    "pain_baseline": 6.0,
    "pain_baseline_week": 1,
    "pain_latest": 4.0,
    "pain_latest_week": 2,
    "pain_change": -2.0,
    "pain_change_pct": -2.0 / 6.0,
    "pain_responder": True,
}
PERSON = {
    "pid": "p_0123456789abcdef",
    "cohort": "2026-spring-A",
    "site": "Northside Physio",
    "coach_id": "C-01",
    "enrolled_on": ENROLLED,
    "program_weeks": 3,
    "program_week_now": 3,
    "status": "active",
}
SNAPSHOT = {"as_of": AS_OF, "run_id": "4e517281-c66f-4394", "published_at": None}
GENERATED = datetime(2026, 3, 17, 18, 30, tzinfo=UTC)


def report(**overrides) -> str:
    arguments = {
        "person": PERSON,
        "panels": {
            "days": days_frame(),
            "weeks": weeks_frame(),
            "principles": principles_frame(),
            "outcome": OUTCOME,
            "rules": ProgramRules(),
        },
        "snapshot": SNAPSHOT,
        "generated_at": GENERATED,
    }
    arguments.update(overrides)
    return progress_report_html(**arguments)


def test_headline_numbers():
    parsed = ReportHtml(report())

    assert parsed.text["days_done"] == "11"  # 5 + 5 + 1 done days up to as of
    assert parsed.text["days_missed"] == "5"
    assert parsed.text["days_unknown"] == "0"  # days after as of are "not yet", not unknown
    assert parsed.text["current_streak"] == "1 d"  # today is not done yet; yesterday was
    assert parsed.text["longest_streak"] == "5 d"  # days 8–12
    assert parsed.text["adherent_weeks"] == "1 of 2"  # 100 % and 60 %; week 3 not complete


def test_calendar_has_every_program_day_with_its_state():
    parsed = ReportHtml(report())

    cells = parsed.attrs("td", "data-state")
    assert [c["data-day"] for c in cells] == [str(ENROLLED + timedelta(days=i)) for i in range(21)]
    names = {"D": "done", "M": "missed", "U": "upcoming"}
    assert [c["data-state"] for c in cells] == [names[s] for s in STATES]


def test_sessions_per_week_against_the_prescription():
    parsed = ReportHtml(report())

    bars = parsed.attrs("rect", "data-sessions")
    assert [(b["data-week"], b["data-sessions"], b["data-prescribed"]) for b in bars] == [
        ("1", "6", "5"),
        ("2", "3", "5"),
        ("3", "1", "5"),
    ]
    heights = [float(b["height"]) for b in bars]
    assert heights[0] == pytest.approx(2 * heights[1])  # bars are to scale


def test_pain_weekly_means_baseline_and_responder_threshold():
    parsed = ReportHtml(report())

    assert parsed.text["pain_baseline"] == "6.0"
    assert parsed.text["pain_latest"] == "4.0"
    assert parsed.text["pain_change"] == "-2.0"
    assert parsed.text["pain_responder"] == "yes"
    points = parsed.attrs("circle", "data-pain")
    # Week 3 has one check-in so far: too few (< 3) for a weekly mean.
    assert [(p["data-week"], p["data-pain"]) for p in points] == [("1", "6.0"), ("2", "4.0")]
    lines = {a["data-line"]: a["data-value"] for a in parsed.attrs("line", "data-line")}
    assert lines == {"baseline": "6.0", "threshold": "4.0"}  # 6 − max(2, 30 % of 6)


def test_threshold_uses_thirty_percent_for_a_high_baseline():
    outcome = {
        **OUTCOME,
        "pain_baseline": 8.0,
        "pain_latest": 6.0,
        "pain_change": -2.0,
        "pain_change_pct": -0.25,
        "pain_responder": False,
    }
    panels = {
        "days": days_frame(),
        "weeks": weeks_frame(),
        "principles": principles_frame(),
        "outcome": outcome,
        "rules": ProgramRules(),
    }
    parsed = ReportHtml(report(panels=panels))

    lines = {a["data-line"]: a["data-value"] for a in parsed.attrs("line", "data-line")}
    assert lines["threshold"] == "5.6"  # 8 − 2.4: 30 % is more than 2 points
    assert parsed.text["pain_responder"] == "not yet"


def test_principle_scores_per_week_and_missing_is_not_zero():
    parsed = ReportHtml(report())

    assert parsed.text["consistency:1"] == "100%"
    assert parsed.text["consistency:2"] == "60%"
    assert parsed.text["breathing:1"] == "0%"  # a real zero is shown as zero
    assert parsed.text["gentle:3"] == "–"  # no rated session: no score
    assert all(parsed.text[f"activity:{week}"] == "–" for week in (1, 2, 3))
    coloured = {
        f"{a['data-principle']}:{a['data-week']}"
        for a in parsed.attrs("td", "data-principle")
        if "style" in a
    }
    assert "gentle:3" not in coloured and "breathing:1" in coloured


def test_standalone_printable_html():
    html = report()
    parsed = ReportHtml(html)

    assert html.startswith("<!DOCTYPE html>")
    assert parsed.doctype.lower() == "doctype html"
    assert not parsed.errors and not parsed.stack
    names = [tag for tag, _ in parsed.tags]
    assert names[:2] == ["html", "head"] and names.count("body") == 1
    assert ("meta", {"charset": "utf-8"}) in parsed.tags
    assert not {"script", "iframe", "link", "img", "object"} & set(names)
    assert all("src" not in a and "href" not in a for _, a in parsed.tags)
    assert "http://" not in html and "https://" not in html and "url(" not in html
    assert "@media print" in html and "@page" in html
    assert "<svg" in html
    assert "Data as of" in html and str(AS_OF) in html
    assert "2026-03-17 18:30 UTC" in html


def test_only_the_pseudonymous_id_names_the_person():
    person = {**PERSON, "participant_id": "P-00042", "fitbit_id": "8732301534"}
    html = report(person=person)

    assert PERSON["pid"] in html
    assert "P-00042" not in html and "8732301534" not in html
    assert "Privacy" in html and "pseudonymous" in html


def test_text_is_escaped():
    person = {**PERSON, "site": 'Back & Neck <b>"Clinic"</b>', "cohort": "<script>x</script>"}
    html = report(person=person)

    assert "<script>" not in html and "<b>" not in html
    assert "Back &amp; Neck &lt;b&gt;" in html
    assert not ReportHtml(html).errors


def test_before_the_program_starts_nothing_fails():
    empty = {
        "days": pl.DataFrame(),
        "weeks": pl.DataFrame(),
        "principles": pl.DataFrame(),
        "outcome": None,
        "rules": ProgramRules(),
    }
    person = {**PERSON, "program_week_now": None, "status": "not_started"}
    html = report(person=person, panels=empty)
    parsed = ReportHtml(html)

    assert not parsed.errors
    assert parsed.text["days_done"] == "0"
    assert parsed.text["adherent_weeks"] == "0 of 0"
    assert "No program days yet" in html
    assert "The program has not started yet" in html
    assert "No pain baseline yet" in html
    assert "No started week yet" in html
