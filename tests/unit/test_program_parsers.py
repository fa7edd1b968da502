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


def _plain_csv_texts():
    """Plain CSV (one record per line, no quotes) with every shape the row reader cares about."""
    import random

    rng = random.Random(11)
    cells = ["", " ", "\t", "1", "2026-06-22 07:30:00", "stretch", "x y", "-3.5", "\x1f"]
    for case in range(300):
        width = rng.randint(1, 5)
        header = ",".join(f" col{i} " if case % 7 == 0 else f"col{i}" for i in range(width))
        lines = [header]
        for _ in range(rng.randint(0, 30)):
            fields = width if rng.random() < 0.8 else rng.randint(1, width + 2)
            lines.append(",".join(rng.choice(cells) for _ in range(fields)))
        end = rng.choice(["\n", "\r\n"])
        yield end.join(lines) + rng.choice(["", end, end + end])


def test_plain_csv_is_read_as_the_row_reader_reads_it():
    """Plain exports skip the row-by-row reader; same columns, line numbers and issues."""
    from pipelines.lib.parsers.reader import is_plain, read_csv_records, read_plain_csv

    texts = list(_plain_csv_texts())
    real = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
    if real.is_dir():
        for path in sorted(real.rglob("*.csv")):
            text = path.read_bytes().decode("utf-8-sig", errors="replace")
            if is_plain(text):
                texts.append(text)
    assert sum(is_plain(t) for t in texts) > 300, "the real Fitabase exports are plain"
    for text in texts:
        if not is_plain(text):
            continue
        fast, slow = read_plain_csv(text), read_csv_records(text)
        assert fast[1] == slow[1] and fast[2] == slow[2]
        assert fast[0].equals(slow[0]), text[:200]


@pytest.mark.parametrize(
    "text",
    ['a,b\n1,"x,y"\n', "a,b\n1,é\n", "a,b\r1,2\r", "a,b\n1,2\x0c3,4\n", "\na,b\n1,2\n"],
)
def test_csv_that_is_not_plain_goes_through_the_row_reader(text):
    from pipelines.lib.parsers.reader import is_plain

    assert not is_plain(text)


def _jsonl_texts():
    """JSON Lines with what the line reader has rules for: new keys late, nulls, blank lines,
    empty strings, booleans, unicode, and lines Polars must not read its own way."""
    import random

    rng = random.Random(5)
    values = [None, "", "x", "é漢", 'q"uote', "2026-06-22T07:30:00Z", 0, -4, 17, True, False]
    odd = [
        '{"a": 1e-7}',
        '{"b": -0.0}',
        '{"a": 3.0}',
        '{"b": 2.5e3}',
        '{"a": 1.5}',
        '{"a": 1, "a": 2}',
        '{"a": [1]}',
        "[1, 2]",
        '{"a": ',
        "3",
        '{"a": {"b": 1}}',
        '{"a": -0}',
        '{"b": -00, "a": 1}',
        '{"a": 123456789012345678901234567890}',
        "{}",
        '{"a": "x: {y}", "b": "[1]"}',
        '{"a\\u0062": 1, "ab": 2}',
        '{"\\u0061": 1, "a": 2}',
        ' {"a": true} ',
        '"x"',
    ]
    for case in range(200):
        names = rng.sample(["a", "b", "c", "d", "e f", "ü"], rng.randint(1, 4))
        lines = []
        for _ in range(rng.randint(1, 25)):
            if rng.random() < 0.1:
                lines.append(rng.choice(["", "   "]))
                continue
            record = {n: rng.choice(values) for n in rng.sample(names, rng.randint(1, len(names)))}
            lines.append(json.dumps(record, ensure_ascii=case % 2 == 0))
        if case % 4 == 0:
            lines.insert(rng.randint(0, len(lines)), rng.choice(odd))
        end = rng.choice(["\n", "\r\n"])
        yield end.join(lines) + rng.choice(["", end])


def test_plain_json_lines_are_read_as_the_line_reader_reads_them():
    from pipelines.lib.parsers.reader import read_jsonl_records, read_plain_jsonl

    fast_read = 0
    for text in _jsonl_texts():
        slow = read_jsonl_records(text)
        fast = read_plain_jsonl(text)
        if fast is None:
            continue
        fast_read += 1
        assert fast[1] == slow[1] and fast[2] == slow[2], text
        assert fast[0].equals(slow[0]), text
    assert fast_read > 100
