"""Fitbit account archive / PMData parser: real PMData files against the raw JSON, and hand-written edge cases."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.layout import DataDir
from pipelines.lib.parsers.fitbit_archive import SOURCE, file_kind, json_array, parse, workout_kind
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES
from pipelines.lib.raw_store import landing_files, parse_landing_file


@pytest.fixture(scope="module")
def pmdata(real_data: Path) -> Path:
    return real_data / "pmdata_simula"


def _parse(path: Path, person: str | None = "P-001") -> tuple[pl.DataFrame | None, list, int]:
    relative = f"fitbit/{person}/{path.name}" if person else f"fitbit/{path.name}"
    parsed = parse(LandingFile(path, relative, person))
    tables = list(parsed.tables.values())
    return (tables[0] if tables else None), parsed.issues, parsed.rows_read


def _write(folder: Path, name: str, records: object) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(records if isinstance(records, str) else json.dumps(records))
    return path


# --- real PMData samples ---------------------------------------------------------------------------


def test_sleep_night_minutes_and_main_flag(pmdata):
    path = pmdata / "p01" / "fitbit" / "sleep.json"
    raw = json.loads(path.read_text())
    night = [r for r in raw if r["dateOfSleep"] == "2019-11-07"]
    assert len(night) == 2 and len({r["logId"] for r in night}) == 1, "PMData repeats this log"

    rows, issues, read = _parse(path)
    assert issues == [] and read == len(raw)
    assert rows.height == len({r["logId"] for r in raw})  # repeated logs collapse to one episode
    got = rows.filter(pl.col("local_day") == date(2019, 11, 7))
    assert got.height == 1
    assert got["minutes_asleep"][0] == night[0]["minutesAsleep"]
    assert got["minutes_in_bed"][0] == night[0]["timeInBed"]
    assert got["is_main"][0] is night[0]["mainSleep"]
    assert got["episode_id"][0] == str(night[0]["logId"])
    assert got["start_local"][0] == datetime.strptime(night[0]["startTime"], "%Y-%m-%d %H:%M:%S")
    assert got["end_local"][0] == datetime.fromisoformat(night[0]["endTime"])
    assert got["start_utc"].is_null().all(), "sleep logs are local wall-clock time"


def test_main_stages_sleep_and_classic_nap_on_one_date(pmdata):
    path = pmdata / "p03" / "fitbit" / "sleep.json"
    raw = [r for r in json.loads(path.read_text()) if r["dateOfSleep"] == "2020-01-08"]
    rows, _, _ = _parse(path)
    got = rows.filter(pl.col("local_day") == date(2020, 1, 8)).sort("start_local")
    assert got.height == len(raw) == 2
    expected = sorted(raw, key=lambda r: r["startTime"])
    assert got["is_main"].to_list() == [r["mainSleep"] for r in expected] == [True, False]
    assert got["sleep_type"].to_list() == [r["type"] for r in expected] == ["stages", "classic"]
    assert got["minutes_asleep"].to_list() == [r["minutesAsleep"] for r in expected]


def test_steps_are_utc_minutes_and_a_day_sums(pmdata):
    path = pmdata / "p03" / "fitbit" / "steps.json"
    raw = json.loads(path.read_text())
    day_total = sum(int(r["value"]) for r in raw if r["dateTime"].startswith("2020-01-15"))
    assert day_total > 0

    rows, issues, read = _parse(path)
    assert issues == [] and read == len(raw)
    steps = rows.filter(pl.col("metric") == "steps")
    assert steps["start_utc"].dtype == pl.Datetime("us", "UTC")
    assert steps["start_local"].is_null().all()
    assert (steps["duration_s"] == 60).all()
    on_day = steps.filter(pl.col("start_utc").dt.date() == date(2020, 1, 15))
    assert on_day["value"].sum() == day_total
    assert steps["value"].sum() == sum(int(r["value"]) for r in raw)


def test_steps_give_wear_per_quarter_hour_by_the_non_wear_rule(pmdata):
    """Worn = every recorded minute outside runs of ≥ 90 minutes without steps (Choi 2011)."""
    path = pmdata / "p03" / "fitbit" / "steps.json"
    raw = json.loads(path.read_text())
    moving = sorted(
        datetime.strptime(r["dateTime"][:16], "%Y-%m-%d %H:%M") for r in raw if int(r["value"]) > 0
    )
    # independent, simpler count: gaps between moving minutes shorter than 90 min are worn.
    # The parser also folds 1–2 minute spikes (rolling over in bed) into long still stretches,
    # so it may only count less, and not much less.
    expected = 1 + sum(
        int((b - a).total_seconds() // 60) if (b - a).total_seconds() // 60 <= 90 else 1
        for a, b in zip(moving, moving[1:], strict=False)
    )

    rows, _, _ = _parse(path)
    worn = rows.filter(pl.col("metric") == "worn_min")
    assert (worn["duration_s"] == 900).all()
    assert (worn["start_utc"].dt.minute() % 15 == 0).all()
    assert (worn["value"] <= 15).all()
    assert 0.85 * expected <= worn["value"].sum() <= expected
    assert worn["value"].sum() > 2 * len(moving), "sitting still while wearing it counts as worn"


def test_archive_steps_with_string_values_and_us_dates(tmp_path):
    path = _write(
        tmp_path / "Physical Activity",
        "steps-2020-01-01.json",
        [
            {"dateTime": "01/01/20 08:00:00", "value": "12"},
            {"dateTime": "01/01/20 08:01:00", "value": "0"},
            {"dateTime": "01/01/20 08:14:00", "value": 30},
            {"dateTime": "01/01/20 08:15:00", "value": "7"},
        ],
    )
    rows, issues, read = _parse(path)
    assert issues == [] and read == 4
    steps = rows.filter(pl.col("metric") == "steps").sort("start_utc")
    assert steps["value"].to_list() == [12, 30, 7], "minutes with 0 steps are not stored"
    assert steps["start_utc"][0] == datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    worn = rows.filter(pl.col("metric") == "worn_min").sort("start_utc")
    assert worn["start_utc"].dt.minute().to_list() == [0, 15]
    assert worn["value"].to_list() == [15, 1], "08:00–08:15 recorded without a long still stretch"


def test_malformed_steps_record_is_quarantined_and_the_rest_lands(tmp_path):
    path = _write(
        tmp_path,
        "steps-2020-01-01.json",
        [
            {"dateTime": "01/01/20 08:00:00", "value": "12"},
            {"dateTime": "01/01/20 08:01:00", "value": "abc"},
            {"dateTime": "not a time", "value": "5"},
            ["not", "an", "object"],
            {"dateTime": "01/01/20 08:04:00", "value": "9"},
        ],
    )
    rows, issues, read = _parse(path)
    assert read == 5
    assert [(i.line, i.field, i.value, i.action) for i in issues] == [
        (2, "value", "abc", "row quarantined"),
        (3, "dateTime", "not a time", "row quarantined"),
        (4, "record", "['not', 'an', 'object']", "row quarantined"),
    ]
    assert "record 2" in issues[0].reason
    assert rows.filter(pl.col("metric") == "steps")["value"].to_list() == [12, 9]


def test_heart_rate_minutes_become_wear(tmp_path):
    samples = [("01/02/20 07:00:05", 61), ("01/02/20 07:00:10", 62), ("01/02/20 07:01:00", 60)]
    samples += [("01/02/20 07:16:30", 70), ("01/02/20 07:20:00", "abc")]
    path = _write(
        tmp_path,
        "heart_rate-2020-01-02.json",
        [{"dateTime": t, "value": {"bpm": b, "confidence": 2}} for t, b in samples],
    )
    rows, issues, _ = _parse(path)
    assert [(i.line, i.field) for i in issues] == [(5, "value.bpm")]
    assert set(rows["metric"]) == {"worn_min"}
    got = {r["start_utc"].strftime("%H:%M"): r["value"] for r in rows.iter_rows(named=True)}
    assert got == {"07:00": 2, "07:15": 1}


def test_archive_sleep_stages_and_classic_with_bad_record(tmp_path):
    stages = {
        "logId": 111,
        "dateOfSleep": "2020-01-02",
        "startTime": "2020-01-01T23:10:30.000",
        "endTime": "2020-01-02T07:00:30.000",
        "duration": 28200000,
        "minutesAsleep": 420,
        "timeInBed": 470,
        "type": "stages",
        "mainSleep": True,
        "levels": {"summary": {"deep": {"count": 3, "minutes": 80}}, "data": []},
    }
    nap = {
        "logId": 112,
        "dateOfSleep": "2020-01-02",
        "startTime": "2020-01-02T14:00:00.000",
        "endTime": "2020-01-02T14:45:00.000",
        "minutesAsleep": "40",
        "timeInBed": "45",
        "type": "classic",
        "mainSleep": False,
    }
    broken = dict(nap, logId=113, minutesAsleep="abc")
    path = _write(tmp_path / "Sleep", "sleep-2020-01-02.json", [stages, nap, broken])
    rows, issues, read = _parse(path)
    assert read == 3
    assert [(i.line, i.field, i.value) for i in issues] == [(3, "minutesAsleep", "abc")]
    rows = rows.sort("start_local")
    assert rows["episode_id"].to_list() == ["111", "112"]
    assert rows["minutes_asleep"].to_list() == [420, 40]
    assert rows["minutes_in_bed"].to_list() == [470, 45]
    assert rows["is_main"].to_list() == [True, False]
    assert rows["sleep_type"].to_list() == ["stages", "classic"]
    assert rows["local_day"].to_list() == [date(2020, 1, 2)] * 2
    assert rows["start_local"][0] == datetime(2020, 1, 1, 23, 10, 30)


def test_archive_exercise_times_and_kinds(tmp_path):
    logs = [
        {
            "logId": 1,
            "activityName": "Yoga",
            "startTime": "03/22/21 18:04:02",
            "duration": 1_800_000,
            "activeDuration": 1_500_000,
        },
        {
            "logId": 2,
            "activityName": "Weights",
            "startTime": "03/23/21 07:00:00",
            "duration": 600_000,
        },
        {
            "logId": 3,
            "activityName": "Walk",
            "startTime": "03/24/21 12:00:00",
            "duration": 900_000,
            "distance": 1.2,
            "steps": "1500",
        },
        {"logId": 4, "activityName": "Run", "startTime": "03/25/21 12:00:00"},
    ]
    path = _write(tmp_path, "exercise-0.json", logs)
    rows, issues, _ = _parse(path)
    by_id = {r["workout_id"]: r for r in rows.iter_rows(named=True)}
    assert by_id["1"]["start_utc"] == datetime(2021, 3, 22, 18, 4, 2, tzinfo=UTC)
    assert by_id["1"]["duration_s"] == 1500, "activeDuration leaves out pauses"
    assert by_id["2"]["duration_s"] == 600
    assert [by_id[k]["kind"] for k in "123"] == ["stretch", "stability", "walk"]
    assert by_id["3"]["distance_m"] is None and by_id["3"]["steps"] == 1500
    assert [(i.line, i.field, i.severity, i.action) for i in issues] == [
        (3, "distanceUnit", "warning", "column ignored"),
        (4, "duration", "error", "row quarantined"),
    ]


def test_active_minutes_without_its_sibling_counts_its_own(tmp_path):
    path = _write(
        tmp_path,
        "very_active_minutes-2020-01-01.json",
        [
            {"dateTime": "01/01/20 00:00:00", "value": "25"},
            {"dateTime": "01/02/20 00:00:00", "value": "0"},
        ],
    )
    rows, issues, _ = _parse(path)
    assert issues == []
    assert rows["value"].to_list() == [25, 0]
    assert rows["local_day"].to_list() == [date(2020, 1, 1), date(2020, 1, 2)]
    _write(
        tmp_path,
        "moderately_active_minutes-2020-01-01.json",
        [{"dateTime": "01/01/20 00:00:00", "value": "10"}],
    )
    rows, _, _ = _parse(path)
    assert rows["value"].to_list() == [35, 0]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"sleep": []}', "found an object"),
        ('[{"dateTime": "01/01/20 08:00:00", "value": "1"}, {"dateTime": ', "ends inside record 2"),
        ('[{"a": 1}, {"a": tru}, {"a": 3}]', "record 2 is not valid JSON"),
        ("", "empty"),
        ('[{"a": 1}] trailing', "after the closing"),
    ],
)
def test_unreadable_file_is_quarantined_whole(tmp_path, text, reason):
    rows, issues, _ = _parse(_write(tmp_path, "steps-2020-01-01.json", text))
    assert rows is None
    assert len(issues) == 1 and issues[0].action == "file quarantined"
    assert reason in issues[0].reason


def test_file_outside_a_person_folder_is_quarantined(tmp_path):
    data_dir = DataDir.at(tmp_path)
    _write(
        data_dir.landing / "fitbit", "steps.json", [{"dateTime": "01/01/20 08:00:00", "value": "1"}]
    )
    _write(data_dir.landing / "fitbit" / "P-002" / "Physical Activity", "steps-2020-01-01.json", [])
    found = {f.relative: f.landing for f in landing_files(data_dir, SOURCE)}
    assert set(found) == {
        "fitbit/steps.json",
        "fitbit/P-002/Physical Activity/steps-2020-01-01.json",
    }
    assert found["fitbit/P-002/Physical Activity/steps-2020-01-01.json"].participant_id == "P-002"
    parsed = parse_landing_file(SOURCE, found["fitbit/steps.json"])
    assert parsed.tables == {}
    assert [i.action for i in parsed.issues] == ["file quarantined"]
    assert "landing/fitbit/<participant_id>/" in parsed.issues[0].reason


def test_source_reads_only_the_files_it_understands(tmp_path):
    data_dir = DataDir.at(tmp_path)
    person = data_dir.landing / "fitbit" / "P-003"
    names = [
        "steps.json",
        "heart_rate-2020-01-01.json",
        "resting_heart_rate-2020-01-01.json",
        "sleep-2020-01-01.json",
        "exercise-100.json",
        "very_active_minutes.json",
        "moderately_active_minutes-2020-01-01.json",
        "lightly_active_minutes.json",
        "sedentary_minutes-2020-01-01.json",
        "distance.json",
        "calories-2020-01-01.json",
        "time_in_heart_rate_zones.json",
        "sleep_score.csv",
    ]
    for name in names:
        _write(person, name, "[]")
    found = sorted(Path(f.relative).name for f in landing_files(data_dir, SOURCE))
    assert found == sorted(names[:7])
    assert [file_kind(n) for n in names[:3]] == ["steps", "heart_rate", "resting_heart_rate"]
    assert (
        SOURCE.per_person
        and SOURCE.folder == "fitbit"
        and SOURCE.identifiers == ("participant_id",)
    )
    assert pickle.loads(pickle.dumps(SOURCE.parse)) is parse


def test_json_array_reader_across_buffer_boundaries(tmp_path):
    records = [{"dateTime": f"01/01/20 08:{m:02d}:00", "value": str(m * 11)} for m in range(40)]
    path = _write(tmp_path, "x.json", " \n" + json.dumps(records, indent=2) + "\n")
    assert [r for _, r in json_array.iter_json_array(path, chunk_chars=7)] == records
    numbers = _write(tmp_path, "n.json", "[1234567890123, 4.5e10, true, null]")
    assert [r for _, r in json_array.iter_json_array(numbers, chunk_chars=7)] == [
        1234567890123,
        4.5e10,
        True,
        None,
    ]


@pytest.mark.parametrize(
    ("activity", "kind"),
    [
        ("Yoga", "stretch"),
        ("Stretching", "stretch"),
        ("Pilates", "stability"),
        ("Weights", "stability"),
        ("Core training", "stability"),
        ("Walk", "walk"),
        ("Hike", "walk"),
        ("Mindfulness", "breathing"),
        ("Run", "other"),
        ("Treadmill", "other"),
        ("Outdoor Bike", "other"),
        ("Aerobic Workout", "other"),
        ("Workout", "other"),
        ("Sport", "other"),
        (None, "other"),
    ],
)
def test_workout_kinds(activity, kind):
    assert workout_kind(activity) == kind


@pytest.mark.parametrize(
    "name",
    ["steps.json", "heart_rate.json", "resting_heart_rate.json", "sleep.json", "exercise.json"]
    + ["very_active_minutes.json"],
)
def test_empty_array_gives_no_rows_in_the_canonical_schema(tmp_path, name):
    parsed = parse(LandingFile(_write(tmp_path, name, "[]"), f"fitbit/P-1/{name}", "P-1"))
    [(table, rows)] = parsed.tables.items()
    assert rows.height == 0 and parsed.issues == [] and parsed.rows_read == 0
    assert dict(rows.schema) == WEARABLE_TABLES[table]
