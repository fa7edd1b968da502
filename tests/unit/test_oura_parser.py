"""Oura trends CSV and JSON: the real 2019–2022 export lands whole, and values match the raw file."""

from __future__ import annotations

import csv
import json
import pickle
from datetime import date, datetime

import polars as pl
import pytest

from pipelines.lib.parsers.oura import SOURCE, parse
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES
from pipelines.lib.raw_store import parse_landing_file


def _missing(value: str) -> bool:
    return value.strip() in ("", "None")


@pytest.fixture(scope="module")
def trends(real_data):
    path = real_data / "oura_trends" / "oura.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        raw = {row["date"]: row for row in csv.DictReader(handle)}
    parsed = parse(LandingFile(path, "oura/P-001/oura.csv", "P-001"))
    return raw, parsed


def _by_day(frame: pl.DataFrame, metric: str | None = None) -> dict[str, dict]:
    if metric:
        frame = frame.filter(pl.col("metric") == metric)
    return {str(row["local_day"]): row for row in frame.iter_rows(named=True)}


def test_real_export_lands_whole_with_canonical_schemas(trends):
    raw, parsed = trends
    assert parsed.issues == []
    assert parsed.rows_read == len(raw) == 1298
    for table, frame in parsed.tables.items():
        # the canonical columns, plus the CSV line each row came from (raw lineage)
        assert dict(frame.schema) == WEARABLE_TABLES[table] | {"row_number": pl.Int64}
        assert set(frame["participant_id"]) == {"P-001"}
        assert set(frame["source"]) == {"oura"}


def test_minutes_asleep_and_in_bed_per_wake_up_date(trends):
    raw, parsed = trends
    sleep = _by_day(parsed.tables["wearable_sleep"])
    expected = {
        day: (round(int(r["Total Sleep Duration"]) / 60), round(int(r["Total Bedtime "]) / 60))
        for day, r in raw.items()
        if not _missing(r["Total Sleep Duration"])
    }
    assert {d: (s["minutes_asleep"], s["minutes_in_bed"]) for d, s in sleep.items()} == expected
    assert sleep["2019-01-25"]["minutes_asleep"] == 472  # 28320 s
    night = sleep["2019-01-25"]
    assert night["is_main"] is True and night["sleep_type"] == "oura_long_sleep"
    assert night["start_utc"] == datetime.fromisoformat("2019-01-25T04:39:08+00:00")
    assert night["utc_offset_min"] == -360
    assert night["row_number"] == 2  # the first data line of the CSV


def test_days_without_sleep_have_no_sleep_or_vitals_rows(trends):
    raw, parsed = trends
    no_sleep = {day for day, r in raw.items() if _missing(r["Total Sleep Duration"])}
    assert len(no_sleep) == 24
    assert not no_sleep & set(_by_day(parsed.tables["wearable_sleep"]))
    vitals = parsed.tables["wearable_vitals"]
    assert not no_sleep & {str(d) for d in vitals["local_day"]}
    # 2020-06-29 has a night but no activity columns: sleep lands, no zero steps are invented
    assert "2020-06-29" in _by_day(parsed.tables["wearable_sleep"])
    intervals = parsed.tables["wearable_intervals"]
    assert intervals.filter(pl.col("local_day") == date(2020, 6, 29)).height == 0
    assert intervals["value"].null_count() == 0


def test_dst_nights_keep_their_stated_offset_and_true_length(trends):
    raw, parsed = trends
    sleep = _by_day(parsed.tables["wearable_sleep"])
    # spring forward on 2019-03-10 and fall back on 2019-11-03 (US Central)
    assert sleep["2019-03-09"]["utc_offset_min"] == -360
    assert sleep["2019-03-10"]["utc_offset_min"] == -300
    assert sleep["2019-11-02"]["utc_offset_min"] == -300
    assert sleep["2019-11-03"]["utc_offset_min"] == -360
    # Oura stamps the whole night with the wake-up offset, yet the instants stay right:
    # end − start equals the ring's own Total Bedtime on every night, DST nights included
    for day, night in sleep.items():
        start = datetime.fromisoformat(raw[day]["Bedtime Start"])
        end = datetime.fromisoformat(raw[day]["Bedtime End"])
        assert night["start_utc"] == start and night["end_utc"] == end
        assert (end - start).total_seconds() == int(raw[day]["Total Bedtime "])


def test_steps_active_and_worn_minutes_per_day(trends):
    raw, parsed = trends
    intervals = parsed.tables["wearable_intervals"]
    assert set(intervals["duration_s"]) == {86400}
    steps = _by_day(intervals, "steps")
    active = _by_day(intervals, "active_min")
    worn = _by_day(intervals, "worn_min")
    with_activity = {d: r for d, r in raw.items() if not _missing(r["Steps"])}
    assert set(steps) == set(active) == set(worn) == set(with_activity)
    for day, r in with_activity.items():
        assert steps[day]["value"] == int(r["Steps"])
        medium_high = int(r["Medium Activity Time"]) + int(r["High Activity Time"])
        assert active[day]["value"] == medium_high / 60
        assert worn[day]["value"] == 1440 - int(r["Non-wear Time"]) / 60
        assert steps[day]["start_local"] == datetime.fromisoformat(day)
    assert steps["2019-01-25"]["value"] == 13341
    assert worn["2019-01-24"]["value"] == 1440 - 43920 / 60  # the day the ring was set up


def test_resting_hr_is_the_nights_lowest_and_hrv_is_rmssd(trends):
    raw, parsed = trends
    vitals = parsed.tables["wearable_vitals"]
    resting = _by_day(vitals, "resting_hr")
    hrv = _by_day(vitals, "hrv_rmssd_ms")
    for day, r in raw.items():
        if _missing(r["Lowest Resting Heart Rate"]):
            assert day not in resting
            continue
        assert resting[day]["value"] == float(r["Lowest Resting Heart Rate"])
        assert hrv[day]["value"] == float(r["Average HRV"])
    assert resting["2019-01-25"]["value"] == 63.0


HEADER = (
    "date,Total Sleep Duration,Total Bedtime ,Bedtime Start,Bedtime End,"
    "Lowest Resting Heart Rate,Average HRV,Steps,Medium Activity Time,High Activity Time,Non-wear Time\n"
)


def _parse_csv(tmp_path, text: str, person: str | None = "P-9"):
    path = tmp_path / "oura.csv"
    path.write_text(text)
    relative = f"oura/{person}/oura.csv" if person else "oura/oura.csv"
    return parse_landing_file(SOURCE, LandingFile(path, relative, person))


def test_broken_value_quarantines_only_the_row_built_from_it(tmp_path):
    parsed = _parse_csv(
        tmp_path,
        HEADER
        + "2021-05-02,25200,27000,2021-05-01T23:00:00-05:00,2021-05-02T06:30:00-05:00,52,40,lots,600,0,0\n"
        + "2021-05-03,None,None,None,None,None,None,8000,None,None,None\n",
    )
    assert [(i.line, i.field, i.value, i.action) for i in parsed.issues] == [
        (2, "Steps", "lots", "row quarantined")
    ]
    assert "Steps must be a number" in parsed.issues[0].reason
    intervals = parsed.tables["wearable_intervals"]
    rows = {(str(r["local_day"]), r["metric"]): r["value"] for r in intervals.iter_rows(named=True)}
    # the bad Steps value loses only that day's steps; the night, vitals and wear still land
    assert rows == {
        ("2021-05-02", "active_min"): 10.0,
        ("2021-05-02", "worn_min"): 1440.0,
        ("2021-05-03", "steps"): 8000.0,
    }
    assert parsed.tables["wearable_sleep"].height == 1
    assert parsed.tables["wearable_vitals"].height == 2
    assert parsed.rows_read == 2


def test_bad_date_or_impossible_night_is_reported_by_line_and_field(tmp_path):
    parsed = _parse_csv(
        tmp_path,
        HEADER
        + "05/02/2021,25200,27000,,,,,100,0,0,0\n"
        + "2021-05-03,25200,27000,2021-05-03T06:00:00-05:00,2021-05-02T23:00:00-05:00,50,30,100,0,0,0\n"
        + "2021-05-04,25200,90000,2021-05-03T23:00:00-05:00,2021-05-04T06:00:00-05:00,50,30,100,0,0,0\n",
    )
    issues = [(i.line, i.field) for i in parsed.issues]
    assert issues == [(2, "date"), (3, "Bedtime End"), (4, "Total Bedtime")]
    assert "whole day" in parsed.issues[0].reason
    assert parsed.tables["wearable_sleep"].height == 0
    assert parsed.tables["wearable_intervals"].filter(pl.col("metric") == "steps").height == 2


def test_missing_sleep_minutes_stay_null_never_zero(tmp_path):
    parsed = _parse_csv(
        tmp_path,
        HEADER
        + "2021-05-02,None,27000,2021-05-01T23:00:00-05:00,2021-05-02T06:30:00-05:00,,,,,,\n",
    )
    night = parsed.tables["wearable_sleep"].row(0, named=True)
    assert night["minutes_asleep"] is None and night["minutes_in_bed"] == 450
    assert parsed.tables["wearable_intervals"].height == 0


def test_file_outside_a_person_folder_is_quarantined(tmp_path):
    parsed = _parse_csv(tmp_path, HEADER, person=None)
    assert [i.action for i in parsed.issues] == ["file quarantined"]
    assert "landing/oura/<participant_id>/" in parsed.issues[0].reason
    assert parsed.tables == {}


def test_a_csv_that_is_not_an_oura_export_is_quarantined(tmp_path):
    parsed = _parse_csv(tmp_path, "Id,ActivityDate,TotalSteps\n1,4/12/2016,100\n")
    assert [i.action for i in parsed.issues] == ["file quarantined"]
    assert "not an Oura trends CSV" in parsed.issues[0].reason


def _parse_json(tmp_path, document: object):
    path = tmp_path / "oura.json"
    path.write_text(json.dumps(document))
    return parse(LandingFile(path, "oura/P-9/oura.json", "P-9"))


def test_api_v2_documents_main_sleep_naps_and_activity(tmp_path):
    long_sleep = {
        "id": "8f9a5221",
        "day": "2022-08-10",
        "type": "long_sleep",
        "bedtime_start": "2022-08-09T23:29:41-04:00",
        "bedtime_end": "2022-08-10T07:20:41-04:00",
        "total_sleep_duration": 25020,
        "time_in_bed": 28260,
        "lowest_heart_rate": 48,
        "average_hrv": 66,
    }
    nap = long_sleep | {
        "id": "nap-1",
        "type": "late_nap",
        "bedtime_start": "2022-08-10T14:00:00-04:00",
        "bedtime_end": "2022-08-10T14:40:00-04:00",
        "total_sleep_duration": 1800,
        "time_in_bed": 2400,
        "lowest_heart_rate": 55,
    }
    activity = {
        "day": "2022-08-10",
        "steps": 9000,
        "medium_activity_time": 2400,
        "high_activity_time": 600,
        "non_wear_time": 3600,
        "timestamp": "2022-08-10T04:00:00-04:00",
    }
    parsed = _parse_json(
        tmp_path,
        {
            "sleep": [long_sleep, nap, long_sleep | {"id": "gone", "type": "deleted"}],
            "daily_activity": [activity],
            "daily_readiness": [{"day": "2022-08-10", "score": 80}],
        },
    )
    assert parsed.issues == []
    sleep = parsed.tables["wearable_sleep"].sort("start_utc")
    assert sleep["episode_id"].to_list() == ["8f9a5221", "nap-1"]
    assert sleep["is_main"].to_list() == [True, False]
    assert sleep["minutes_asleep"].to_list() == [417, 30]
    assert set(sleep["local_day"]) == {date(2022, 8, 10)}
    vitals = {
        r["metric"]: r["value"] for r in parsed.tables["wearable_vitals"].iter_rows(named=True)
    }
    assert vitals == {
        "resting_hr": 48.0,
        "hrv_rmssd_ms": 66.0,
    }  # naps do not set the day's resting HR
    values = {
        r["metric"]: r["value"] for r in parsed.tables["wearable_intervals"].iter_rows(named=True)
    }
    assert values == {"steps": 9000.0, "active_min": 50.0, "worn_min": 1380.0}


def test_api_v1_export_counts_minutes_and_dates_nights_a_day_early(tmp_path):
    parsed = _parse_json(
        tmp_path,
        {
            "sleep": [
                {
                    "summary_date": "2017-11-05",
                    "period_id": 0,
                    "is_longest": 1,
                    "timezone": 120,
                    "bedtime_start": "2017-11-06T02:13:19+02:00",
                    "bedtime_end": "2017-11-06T08:12:19+02:00",
                    "total": 20310,
                    "duration": 21540,
                    "hr_lowest": 49,
                    "rmssd": 54,
                }
            ],
            "activity": [
                {
                    "summary_date": "2017-11-06",
                    "day_start": "2017-11-06T04:00:00+02:00",
                    "steps": 12000,
                    "non_wear": 90,
                    "medium": 40,
                    "high": 5,
                }
            ],
        },
    )
    assert parsed.issues == []
    night = parsed.tables["wearable_sleep"].row(0, named=True)
    assert night["local_day"] == date(2017, 11, 6)  # summary_date is the day before waking
    assert (night["minutes_asleep"], night["minutes_in_bed"]) == (338, 359)
    values = {
        r["metric"]: r["value"] for r in parsed.tables["wearable_intervals"].iter_rows(named=True)
    }
    assert values == {"steps": 12000.0, "active_min": 45.0, "worn_min": 1350.0}
    assert set(parsed.tables["wearable_intervals"]["utc_offset_min"]) == {120}


def test_json_record_with_a_broken_value_names_collection_and_field(tmp_path):
    parsed = _parse_json(
        tmp_path,
        {"data": [{"day": "2022-08-10", "steps": -5, "non_wear_time": 0}]},
    )
    assert [(i.line, i.field) for i in parsed.issues] == [(1, "data[1].steps")]
    worn = parsed.tables["wearable_intervals"].row(0, named=True)
    assert (worn["metric"], worn["value"]) == ("worn_min", 1440.0)


def test_broken_json_is_quarantined(tmp_path):
    path = tmp_path / "oura.json"
    path.write_text('{"sleep": [')
    parsed = parse(LandingFile(path, "oura/P-9/oura.json", "P-9"))
    assert [i.action for i in parsed.issues] == ["file quarantined"]
    assert "not valid JSON" in parsed.issues[0].reason


def test_source_is_per_person_and_its_parser_pickles():
    assert SOURCE.name == SOURCE.folder == "oura"
    assert SOURCE.per_person and SOURCE.identifiers == ("participant_id",)
    assert set(SOURCE.outputs) == {"wearable_intervals", "wearable_sleep", "wearable_vitals"}
    assert pickle.loads(pickle.dumps(SOURCE.parse)) is parse
