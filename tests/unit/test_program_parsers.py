"""The program's export formats: what lands, what is quarantined, and why.

Every broken field must come back with its line and a reason a coordinator can
act on, and the rest of the file must still land.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.lib.parsers import ENTITIES_BY_NAME
from pipelines.lib.parsers.tabular import parse_spec_file as parse_file

SESSIONS = ENTITIES_BY_NAME["app_sessions"]
ROSTER = ENTITIES_BY_NAME["roster"]
CHECKINS = ENTITIES_BY_NAME["app_checkins"]
PROM = ENTITIES_BY_NAME["prom"]

SESSION_HEADER = "session_id,participant_id,started_at,duration_s,kind,target,discomfort,guided_breathing,completed,app_version"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_valid_sessions_land_with_line_numbers(tmp_path):
    path = write(
        tmp_path,
        "sessions.csv",
        SESSION_HEADER + "\n"
        "s1,P-1,2026-03-02T22:30:00-06:00,600,stretch,hamstrings,3,true,true,1.0\n"
        "s2,P-1,2026-03-03T04:30:00Z,300,stability,core,,false,,1.0\n",
    )
    rows, issues, read = parse_file(path, SESSIONS)
    assert issues == []
    assert rows["session_id"].to_list() == ["s1", "s2"]
    assert rows["row_number"].to_list() == [2, 3]
    assert rows["discomfort"].to_list() == ["3", None]


@pytest.mark.parametrize(
    ("row", "field", "reason_part"),
    [
        ("s1,P-1,2026-03-02T07:00:00,600,stretch,,3,true,true,", "started_at", "UTC offset"),
        ("s1,P-1,2026-03-02T07:00:00Z,600,yoga,,3,true,true,", "kind", "one of stretch"),
        ("s1,P-1,2026-03-02T07:00:00Z,600,stretch,,12,true,true,", "discomfort", "0–10"),
        ("s1,P-1,2026-03-02T07:00:00Z,-5,stretch,,3,true,true,", "duration_s", "≥ 0"),
        ("s1,,2026-03-02T07:00:00Z,60,stretch,,3,true,true,", "participant_id", "required"),
        ("s1,P-1,2026-02-30T07:00:00Z,60,stretch,,3,true,true,", "started_at", "got '2026-02-30"),
        (
            "s1,P-1,2026-03-02T07:00:00Z,60,stretch,,3,yes,true,",
            "guided_breathing",
            "true or false",
        ),
    ],
)
def test_a_broken_field_quarantines_its_row_and_names_line_and_field(
    tmp_path, row, field, reason_part
):
    path = write(
        tmp_path,
        "sessions.csv",
        SESSION_HEADER + "\nok,P-1,2026-03-02T07:00:00Z,60,stretch,,1,true,true,\n" + row + "\n",
    )
    rows, issues, _ = parse_file(path, SESSIONS)
    assert rows["session_id"].to_list() == ["ok"], "the good row still lands"
    assert [(i.line, i.field) for i in issues] == [(3, field)]
    assert reason_part in issues[0].reason
    assert issues[0].action == "row quarantined"


def test_ragged_line_is_quarantined_and_reading_goes_on(tmp_path):
    path = write(
        tmp_path,
        "sessions.csv",
        SESSION_HEADER + "\n"
        "s1,P-1,2026-03-02T07:00:00Z,60,stretch\n"
        "s2,P-1,2026-03-02T08:00:00Z,60,stretch,,1,true,true,\n",
    )
    rows, issues, read = parse_file(path, SESSIONS)
    assert rows["session_id"].to_list() == ["s2"]
    assert issues[0].line == 2 and "expected 10 fields, found 5" in issues[0].reason
    assert read == 2


def test_unknown_columns_are_ignored_and_reported_once(tmp_path):
    path = write(
        tmp_path,
        "sessions.csv",
        SESSION_HEADER + ",device_model\n"
        "s1,P-1,2026-03-02T07:00:00Z,60,stretch,,1,true,true,,pixel\n"
        "s2,P-1,2026-03-02T08:00:00Z,60,stretch,,1,true,true,,pixel\n",
    )
    rows, issues, _ = parse_file(path, SESSIONS)
    assert "device_model" not in rows.columns
    assert [(i.field, i.severity, i.action) for i in issues] == [
        ("device_model", "warning", "column ignored")
    ]


def test_missing_required_column_quarantines_the_file(tmp_path):
    path = write(
        tmp_path, "sessions.csv", "session_id,participant_id,duration_s,kind\ns1,P-1,60,stretch\n"
    )
    rows, issues, _ = parse_file(path, SESSIONS)
    assert rows is None
    assert issues[0].action == "file quarantined"
    assert "started_at" in issues[0].reason


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00bad", b"   \n"])
def test_unreadable_files_are_quarantined_with_a_reason(tmp_path, content):
    path = tmp_path / "sessions.csv"
    path.write_bytes(content)
    rows, issues, _ = parse_file(path, SESSIONS)
    assert rows is None and issues[0].action == "file quarantined"
    assert issues[0].reason


def test_jsonl_sessions_types_become_text_and_bad_lines_are_quarantined(tmp_path):
    lines = [
        json.dumps(
            {
                "session_id": "s1",
                "participant_id": "P-1",
                "started_at": "2026-03-02T13:00:00Z",
                "duration_s": 600.0,
                "kind": "stretch",
                "discomfort": 2,
                "guided_breathing": True,
            }
        ),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps(
            {
                "session_id": "s2",
                "participant_id": "P-1",
                "started_at": "2026-03-02T13:00:00Z",
                "duration_s": 60,
                "kind": "walk",
                "completed": False,
                "extra": 1,
            }
        ),
    ]
    path = write(tmp_path, "sessions.jsonl", "\n".join(lines) + "\n")
    rows, issues, read = parse_file(path, SESSIONS)
    assert rows.select("session_id", "duration_s", "guided_breathing", "completed").rows() == [
        ("s1", "600", "true", None),
        ("s2", "60", None, "false"),
    ]
    assert [(i.line, i.action) for i in issues] == [
        (None, "column ignored"),
        (2, "row quarantined"),
        (3, "row quarantined"),
    ]
    assert read == 4


def test_roster_rejects_unknown_time_zone(tmp_path):
    path = write(
        tmp_path,
        "roster.csv",
        "participant_id,cohort,coach_id,enrolled_on,timezone\n"
        "P-1,A,C-1,2026-03-02,America/Chicago\n"
        "P-2,A,C-1,2026-03-02,Central Time\n"
        "P-3,A,C-1,03/02/2026,Europe/London\n",
    )
    rows, issues, _ = parse_file(path, ROSTER)
    assert rows["participant_id"].to_list() == ["P-1"]
    assert [(i.line, i.field) for i in issues] == [(3, "timezone"), (4, "enrolled_on")]


def test_checkin_pain_must_be_an_integer_score(tmp_path):
    path = write(
        tmp_path,
        "checkins.csv",
        "participant_id,date,pain,stress\nP-1,2026-03-02,4,\nP-1,2026-03-03,eleven,2\nP-1,2026-03-04,,2\n",
    )
    rows, issues, _ = parse_file(path, CHECKINS)
    assert rows["date"].to_list() == ["2026-03-02"]
    assert [(i.line, i.field, i.value) for i in issues] == [
        (3, "pain", "eleven"),
        (4, "pain", None),
    ]


def test_redcap_standard_columns_are_known_and_events_checked(tmp_path):
    header = "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,prom_date,odi_1,tsk_1,psqi_total"
    path = write(
        tmp_path,
        "redcap.csv",
        header + "\n"
        "P-1,baseline_arm_1,,,2026-03-01,3,2,7\n"
        "P-1,week_6_arm_1,,,2026-04-12,3,2,7\n"
        "P-2,week_4_arm_1,,,2026-04-01,6,2,7\n",
    )
    rows, issues, _ = parse_file(path, PROM)
    assert rows["record_id"].to_list() == ["P-1"]
    assert [(i.line, i.field) for i in issues] == [(3, "redcap_event_name"), (4, "odi_1")]


def test_roster_keeps_the_optional_display_name_and_lands_without_it(tmp_path):
    header = "participant_id,cohort,coach_id,enrolled_on,timezone"
    named = write(
        tmp_path,
        "named.csv",
        f"{header},display_name\nP-1,A,C-1,2026-03-02,America/Chicago,Ana R.\n"
        "P-2,A,C-1,2026-03-02,America/Chicago,\n",
    )
    rows, issues, _ = parse_file(named, ROSTER)
    assert issues == []  # a known column: no "unknown column ignored" warning
    assert rows["display_name"].to_list() == ["Ana R.", None]

    plain = write(tmp_path, "plain.csv", f"{header}\nP-3,A,C-1,2026-03-02,Europe/London\n")
    rows, issues, _ = parse_file(plain, ROSTER)
    assert issues == [] and rows["display_name"].to_list() == [None]
