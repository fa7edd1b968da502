"""Open mHealth data points: the official schema examples, wrappers vs bodies, and bad records."""

from __future__ import annotations

import json
import pickle
from datetime import date, datetime

import polars as pl
import pytest

from pipelines.lib.parsers.omh import SOURCE, activity_kind, parse
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES
from pipelines.lib.raw_store import parse_landing_file

HOURS = {"h": 60, "min": 1}


@pytest.fixture(scope="module")
def examples(real_data):
    return real_data / "openmhealth_examples" / "test-data"


def _parse_example(examples, relative: str):
    path = examples / relative
    return json.loads(path.read_text()), parse(LandingFile(path, f"omh/P-7/{relative}", "P-7"))


def _interval(frame: dict) -> tuple[datetime, datetime]:
    interval = frame["time_interval"]
    return (
        datetime.fromisoformat(interval["start_date_time"]),
        datetime.fromisoformat(interval["end_date_time"]),
    )


@pytest.mark.parametrize(
    "relative",
    [
        "omh/step-count/2.0/shouldPass/valid-step-count.json",
        "omh/step-count/3.0/shouldPass/valid-step-count.json",
    ],
)
def test_step_count_becomes_one_interval_of_its_own_length(examples, relative):
    body, parsed = _parse_example(examples, relative)
    count = (
        body["step_count"]["value"] if isinstance(body["step_count"], dict) else body["step_count"]
    )
    start, end = _interval(body["effective_time_frame"])
    assert parsed.issues == []
    row = parsed.tables["wearable_intervals"].row(0, named=True)
    assert (row["metric"], row["value"]) == ("steps", count)
    assert row["duration_s"] == (end - start).total_seconds() == 3600
    assert row["start_utc"] == start
    assert row["utc_offset_min"] is None  # "Z" fixes the instant, not the participant's clock
    for table, frame in parsed.tables.items():
        assert dict(frame.schema) == WEARABLE_TABLES[table] | {"row_number": pl.Int64}


@pytest.mark.parametrize("version", ["2.0", "3.0"])
@pytest.mark.parametrize("example", ["with-average", "with-maximum", "with-session"])
def test_step_count_statistics_are_skipped_with_a_warning(examples, version, example):
    _, parsed = _parse_example(examples, f"omh/step-count/{version}/shouldPass/{example}.json")
    assert parsed.tables["wearable_intervals"].height == 0
    [issue] = parsed.issues
    assert (issue.line, issue.severity) == (1, "warning")
    assert "descriptive_statistic" in issue.reason


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_sleep_episode_minutes_and_main_flag(examples, version):
    body, parsed = _parse_example(
        examples, f"omh/sleep-episode/{version}/shouldPass/valid-sleep-episode.json"
    )
    interval = body["effective_time_frame"]["time_interval"]
    onset = datetime.fromisoformat(interval["start_date_time"])
    length_min = interval["duration"]["value"] * HOURS[interval["duration"]["unit"]]
    asleep = body["total_sleep_time"]["value"] * HOURS[body["total_sleep_time"]["unit"]]
    in_bed = (
        length_min + body["latency_to_sleep_onset"]["value"] + body["latency_to_arising"]["value"]
    )
    assert parsed.issues == []
    night = parsed.tables["wearable_sleep"].row(0, named=True)
    assert night["minutes_asleep"] == round(asleep) == 510
    assert night["minutes_in_bed"] == round(in_bed) == 563
    assert night["is_main"] is body["is_main_sleep"] is True
    assert night["start_utc"] == onset
    assert (night["end_utc"] - night["start_utc"]).total_seconds() == length_min * 60
    assert night["sleep_type"] == "omh_sleep_episode"


def test_total_sleep_time_with_an_offset_is_put_on_the_wake_up_day(examples):
    body, parsed = _parse_example(
        examples, "omh/total-sleep-time/1.0/shouldPass/valid-total-sleep-time.json"
    )
    _, end = _interval(body["effective_time_frame"])
    night = parsed.tables["wearable_sleep"].row(0, named=True)
    assert night["minutes_asleep"] == body["total_sleep_time"]["value"] == 465
    assert night["local_day"] == end.date() == date(2016, 2, 6)
    assert night["utc_offset_min"] == -480
    # a daily total has no start, so staging never takes it for an episode
    assert night["start_utc"] is None and night["end_utc"] == end
    assert night["sleep_type"] == "daily_total"


def test_sleep_duration_in_utc_leaves_the_day_to_staging(examples):
    body, parsed = _parse_example(
        examples, "omh/sleep-duration/2.0/shouldPass/valid-sleep-duration.json"
    )
    _, end = _interval(body["effective_time_frame"])
    night = parsed.tables["wearable_sleep"].row(0, named=True)
    assert night["minutes_asleep"] == body["sleep_duration"]["value"] * 60 == 450
    assert night["end_utc"] == end and night["local_day"] is None


@pytest.mark.parametrize("schema", ["sleep-duration", "total-sleep-time"])
def test_averaged_sleep_is_skipped(examples, schema):
    version = "2.0" if schema == "sleep-duration" else "1.0"
    _, parsed = _parse_example(
        examples, f"omh/{schema}/{version}/shouldPass/with-descriptive-statistic.json"
    )
    assert parsed.tables["wearable_sleep"].height == 0
    assert [i.severity for i in parsed.issues] == ["warning"]


def test_physical_activity_duration_distance_and_kind(examples):
    body, parsed = _parse_example(
        examples, "omh/physical-activity/1.2/shouldPass/with-calories-burned.json"
    )
    start, end = _interval(body["effective_time_frame"])
    workout = parsed.tables["wearable_workouts"].row(0, named=True)
    assert workout["duration_s"] == (end - start).total_seconds() == 3600
    assert workout["start_utc"] == start
    assert workout["distance_m"] == pytest.approx(body["distance"]["value"] * 1609.344)
    assert (workout["activity"], workout["kind"]) == ("walking", "walk")


def test_healthkit_workout_prefers_its_active_duration(examples):
    body, parsed = _parse_example(examples, "granola/hk-workout/1.0/shouldPass/with-duration.json")
    workout = parsed.tables["wearable_workouts"].row(0, named=True)
    assert workout["duration_s"] == body["duration"]["value"] == 1800
    assert workout["activity"] == "HKWorkoutActivityTypeCycling" and workout["kind"] == "other"


def test_activity_without_a_start_and_duration_cannot_become_a_session(examples):
    # a full data point whose time frame is only "the morning of 2013-02-05"
    _, parsed = _parse_example(examples, "omh/data-point/1.0/shouldPass/valid-data-point.json")
    assert parsed.tables["wearable_workouts"].height == 0
    assert [(i.line, i.severity) for i in parsed.issues] == [(1, "warning")]


def test_heart_rate_point_is_one_worn_minute_not_a_resting_rate(examples):
    body, parsed = _parse_example(
        examples, "omh/heart-rate/2.0/shouldPass/with-temporal-relationship-to-sleep.json"
    )
    at = datetime.fromisoformat(body["effective_time_frame"]["date_time"])  # 07:25 at -08:00
    wear = parsed.tables["wearable_intervals"].row(0, named=True)
    assert (wear["metric"], wear["duration_s"], wear["value"]) == ("worn_min", 900, 1.0)
    assert wear["start_utc"] == at.replace(minute=15)
    assert wear["utc_offset_min"] == -480
    assert parsed.tables["wearable_vitals"].height == 0  # "on waking" is not "at rest"


def test_unused_schemas_are_reported_once_per_schema(examples):
    _, parsed = _parse_example(examples, "omh/body-weight/2.0/shouldPass/body-weight-only.json")
    assert all(frame.height == 0 for frame in parsed.tables.values())
    [issue] = parsed.issues
    assert issue.severity == "warning" and "body_weight" in issue.value


def test_empty_body_is_a_quarantined_record(examples):
    _, parsed = _parse_example(examples, "omh/data-point/1.0/shouldPass/empty-body.json")
    assert [(i.line, i.field, i.severity) for i in parsed.issues] == [
        (1, "body.activity_name", "error")
    ]


def _header(name: str, point_id: str, source: str = "Fitbit") -> dict:
    return {
        "id": point_id,
        "creation_date_time": "2024-03-01T12:00:00Z",
        "schema_id": {"namespace": "omh", "name": name, "version": "3.0"},
        "acquisition_provenance": {"source_name": source, "modality": "sensed"},
    }


def _steps(count: object, start: str, end: str) -> dict:
    return {
        "step_count": {"value": count, "unit": "steps"},
        "effective_time_frame": {"time_interval": {"start_date_time": start, "end_date_time": end}},
    }


def _write(tmp_path, document: object, name: str = "points.json", person: str | None = "P-7"):
    folder = tmp_path / (person or "")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    relative = f"omh/{person}/{name}" if person else f"omh/{name}"
    return parse_landing_file(SOURCE, LandingFile(path, relative, person))


def test_wrapper_and_bare_body_give_the_same_row_and_the_wrapper_names_device_and_id(tmp_path):
    body = _steps(812, "2024-03-01T00:00:00-06:00", "2024-03-02T00:00:00-06:00")
    bare = _write(tmp_path, body, "bare.json")
    wrapped = _write(tmp_path, {"header": _header("step-count", "uuid-1"), "body": body}, "dp.json")
    columns = ["start_utc", "utc_offset_min", "local_day", "duration_s", "metric", "value"]
    assert (
        bare.tables["wearable_intervals"]
        .select(columns)
        .equals(wrapped.tables["wearable_intervals"].select(columns))
    )
    row = wrapped.tables["wearable_intervals"].row(0, named=True)
    assert row["device"] == "Fitbit" and bare.tables["wearable_intervals"]["device"][0] == ""
    # a count over exactly one local day is that day's total
    assert (row["local_day"], row["duration_s"], row["value"]) == (date(2024, 3, 1), 86400, 812.0)


def test_bad_records_in_an_array_are_quarantined_by_index_and_field(tmp_path):
    good = _steps(100, "2024-03-01T08:00:00-06:00", "2024-03-01T09:00:00-06:00")
    points = [
        {"header": _header("step-count", "a"), "body": good},
        {
            "header": _header("step-count", "b"),
            "body": _steps("many", "2024-03-01T09:00:00-06:00", "2024-03-01T10:00:00-06:00"),
        },
        {
            "header": _header("step-count", "c"),
            "body": _steps(5, "yesterday", "2024-03-01T10:00:00-06:00"),
        },
        {
            "header": _header("heart-rate", "d"),
            "body": {
                "heart_rate": {"value": 900, "unit": "beats/min"},
                "effective_time_frame": {"date_time": "2024-03-01T08:00:00-06:00"},
            },
        },
        "not a data point",
        good,
    ]
    parsed = _write(tmp_path, points)
    assert [(i.line, i.field, i.severity) for i in parsed.issues] == [
        (2, "body.step_count", "error"),
        (3, "body.effective_time_frame.time_interval.start_date_time", "error"),
        (4, "body.heart_rate", "error"),
        (5, None, "error"),
    ]
    assert all(i.action == "row quarantined" for i in parsed.issues)
    assert parsed.tables["wearable_intervals"]["value"].to_list() == [100.0, 100.0]
    assert parsed.tables["wearable_intervals"]["row_number"].to_list() == [1, 6]
    assert parsed.rows_read == 6


def test_resting_heart_rate_only_when_at_rest_and_wear_counts_distinct_minutes(tmp_path):
    def beat(at: str, bpm: float, **extra) -> dict:
        return {
            "heart_rate": {"value": bpm, "unit": "beats/min"},
            "effective_time_frame": {"date_time": at},
        } | extra

    points = [
        beat("2024-03-01T08:00:05-06:00", 61),
        beat("2024-03-01T08:00:40-06:00", 62),  # same minute
        beat("2024-03-01T08:14:59-06:00", 70),
        beat("2024-03-01T08:15:00-06:00", 58, temporal_relationship_to_physical_activity="at rest"),
    ]
    parsed = _write(tmp_path, points)
    assert parsed.issues == []
    wear = parsed.tables["wearable_intervals"].sort("start_utc")
    assert wear["value"].to_list() == [2.0, 1.0]
    assert wear["start_utc"].to_list() == [
        datetime.fromisoformat("2024-03-01T08:00:00-06:00"),
        datetime.fromisoformat("2024-03-01T08:15:00-06:00"),
    ]
    vitals = parsed.tables["wearable_vitals"].row(0, named=True)
    assert (vitals["metric"], vitals["value"], vitals["utc_offset_min"]) == (
        "resting_hr",
        58.0,
        -360,
    )


def test_a_bare_total_sleep_time_is_an_episode_only_where_the_path_says_so(tmp_path):
    body = {
        "total_sleep_time": {"value": 420, "unit": "min"},
        "effective_time_frame": {
            "time_interval": {
                "start_date_time": "2024-03-01T23:00:00-06:00",
                "end_date_time": "2024-03-02T07:00:00-06:00",
            }
        },
    }
    total = _write(tmp_path, body, "night.json").tables["wearable_sleep"]
    episode = _write(tmp_path, body, "sleep-episode_2024-03-02.json").tables["wearable_sleep"]
    assert total["sleep_type"].to_list() == ["daily_total"]
    assert episode["sleep_type"].to_list() == ["omh_sleep_episode"]
    assert episode["minutes_in_bed"].to_list() == [480] and episode["is_main"].to_list() == [None]


def test_sleep_longer_than_its_frame_is_rejected(tmp_path):
    body = {
        "total_sleep_time": {"value": 10, "unit": "h"},
        "is_main_sleep": True,
        "effective_time_frame": {
            "time_interval": {
                "start_date_time": "2024-03-01T23:00:00Z",
                "duration": {"value": 8, "unit": "h"},
            }
        },
    }
    parsed = _write(tmp_path, [body])
    assert [(i.line, i.field) for i in parsed.issues] == [(1, "total_sleep_time")]
    assert parsed.tables["wearable_sleep"].height == 0


def test_json_lines_naive_times_and_a_broken_line(tmp_path):
    lines = [
        json.dumps(_steps(30, "2024-03-01T08:00:00", "2024-03-01T08:01:00")),
        "{broken",
        json.dumps(
            {
                "activity_name": "Yoga",
                "effective_time_frame": {
                    "time_interval": {
                        "start_date_time": "2024-03-01T18:00:00",
                        "duration": {"value": 20, "unit": "min"},
                    }
                },
            }
        ),
    ]
    parsed = _write(tmp_path, "\n".join(lines), "points.jsonl")
    assert [(i.line, i.severity) for i in parsed.issues] == [(2, "error")]
    steps = (
        parsed.tables["wearable_intervals"].filter(pl.col("metric") == "steps").row(0, named=True)
    )
    assert steps["start_utc"] is None and steps["start_local"] == datetime(2024, 3, 1, 8, 0)
    worn = (
        parsed.tables["wearable_intervals"]
        .filter(pl.col("metric") == "worn_min")
        .row(0, named=True)
    )
    assert (worn["start_local"], worn["value"]) == (datetime(2024, 3, 1, 8, 0), 1.0)
    yoga = parsed.tables["wearable_workouts"].row(0, named=True)
    assert (yoga["kind"], yoga["duration_s"], yoga["start_local"]) == (
        "stretch",
        1200,
        datetime(2024, 3, 1, 18),
    )


def test_file_outside_a_person_folder_and_broken_json_are_quarantined(tmp_path):
    outside = _write(tmp_path, [], person=None)
    assert [i.action for i in outside.issues] == ["file quarantined"]
    assert "landing/omh/<participant_id>/" in outside.issues[0].reason
    broken = _write(tmp_path, '[{"step_count": 5,', "broken.json")
    assert [i.action for i in broken.issues] == ["file quarantined"]
    assert broken.tables == {}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("yoga", "stretch"),
        ("HKWorkoutActivityTypeMindAndBody", "stretch"),
        ("HKWorkoutActivityTypeFlexibility", "stretch"),
        ("HKWorkoutActivityTypeCooldown", "stretch"),
        ("HKWorkoutActivityTypeCoreTraining", "stability"),
        ("HKWorkoutActivityTypeTraditionalStrengthTraining", "stability"),
        ("Pilates", "stability"),
        ("barre", "stability"),
        ("breathwork", "breathing"),
        ("HKWorkoutActivityTypeMindfulness", "breathing"),
        ("walking", "walk"),
        ("Hiking", "walk"),
        ("HKWorkoutActivityTypeCycling", "other"),
        ("running", "other"),
    ],
)
def test_activity_kind_mapping(name, kind):
    assert activity_kind(name) == kind


def test_source_is_per_person_and_its_parser_pickles():
    assert SOURCE.name == SOURCE.folder == "omh"
    assert SOURCE.per_person and SOURCE.identifiers == ("participant_id",)
    assert len(SOURCE.outputs) == 4
    assert pickle.loads(pickle.dumps(SOURCE.parse)) is parse


def test_shimmer_style_response_and_explicit_zero_offset(tmp_path):
    healthkit_steps = {
        "quantity_type": "HKQuantityTypeIdentifierStepCount",
        "unit_value": {"value": 7, "unit": "count"},
        "effective_time_frame": {
            "time_interval": {
                "start_date_time": "2024-03-01T08:01:00Z",
                "end_date_time": "2024-03-01T08:02:00Z",
            }
        },
    }
    response = {
        "shim": None,
        "body": [
            {
                "header": _header("step-count", "s1"),
                "body": _steps(12, "2024-03-01T08:00:00+00:00", "2024-03-01T08:01:00+00:00"),
            },
            healthkit_steps,
        ],
    }
    parsed = _write(tmp_path, response)
    assert parsed.issues == []
    steps = parsed.tables["wearable_intervals"].filter(pl.col("metric") == "steps")
    # "+00:00" states the participant's clock; "Z" only the instant
    assert steps["utc_offset_min"].to_list() == [0, None]
    assert steps["value"].to_list() == [12.0, 7.0]
    # minute-level counts with steps are wear evidence too, kept apart per device
    worn = parsed.tables["wearable_intervals"].filter(pl.col("metric") == "worn_min")
    assert dict(worn.select("device", "value").iter_rows()) == {"Fitbit": 1.0, "": 1.0}
