"""Fitabase merged CSVs → canonical wearable tables.

Real-file expectations are computed here from the 2016 export with `csv`, not
with the parser's helpers. minuteSleep and minuteStepsNarrow are not in the
real sample: small files in Fitabase's exact format are written per test.
"""

from __future__ import annotations

import csv
import pickle
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.parsers import fitabase
from pipelines.lib.parsers.fitabase import reading
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.parsers.tabular import parse_spec_file
from pipelines.lib.parsers.wear import worn_from_steps
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES

SOURCES = {s.name: s for s in fitabase.SOURCES}
US_TIME = "%m/%d/%Y %I:%M:%S %p"


def _parse(source: str, path: Path):
    return SOURCES[source].parse(LandingFile(path, f"fitabase/export/{path.name}"))


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return [r for r in csv.DictReader(handle) if r.get("Id")]


def _us_date(text: str) -> date:
    return datetime.strptime(text.split(" ")[0], "%m/%d/%Y").date()


def _metric(frame: pl.DataFrame, metric: str, fitbit_id: str | None = None) -> pl.DataFrame:
    rows = frame.filter(pl.col("metric") == metric)
    return rows if fitbit_id is None else rows.filter(pl.col("fitbit_id") == fitbit_id)


def _write(path: Path, header: str, lines: list[str]) -> Path:
    path.write_bytes(("\r\n".join([header, *lines]) + "\r\n").encode())
    return path


# --- the sources ------------------------------------------------------------------------------


def test_one_source_per_used_file_type_none_for_calories_or_weight(tmp_path):
    assert set(SOURCES) == {
        "fitabase_daily_activity",
        "fitabase_daily_steps",
        "fitabase_daily_intensities",
        "fitabase_hourly_steps",
        "fitabase_minute_steps",
        "fitabase_heartrate",
        "fitabase_sleep_day",
        "fitabase_minute_sleep",
    }
    export = tmp_path / "fitabase" / "Fitabase Data 4.12.16-5.12.16"
    export.mkdir(parents=True)
    names = (
        "dailyActivity dailySteps dailyIntensities dailyCalories hourlySteps minuteStepsNarrow "
        "minuteStepsWide heartrate_seconds sleepDay minuteSleep weightLogInfo"
    ).split()
    for name in names:
        (export / f"{name}_merged.csv").write_text("Id\n")
    matched = defaultdict(list)
    for source in fitabase.SOURCES:
        assert source.folder == "fitabase" and not source.per_person
        assert source.identifiers == ("Id",)
        assert all(WEARABLE_TABLES[t] == schema for t, schema in source.outputs.items())
        pickle.dumps(source.parse)  # runs in spawned workers
        for pattern in source.patterns:
            for path in tmp_path.glob(pattern):
                matched[path.name.removesuffix("_merged.csv")].append(source.name)
    assert matched["minuteStepsNarrow"] == matched["minuteStepsWide"] == ["fitabase_minute_steps"]
    assert "dailyCalories" not in matched and "weightLogInfo" not in matched
    assert all(len(sources) == 1 for sources in matched.values())


def test_every_real_file_keeps_to_its_spec(fitabase_2016):
    files = {
        "dailyActivity": fitabase.DAILY_ACTIVITY,
        "dailyCalories": fitabase.DAILY_CALORIES,
        "dailyIntensities": fitabase.DAILY_INTENSITIES,
        "dailySteps": fitabase.DAILY_STEPS,
        "heartrate_seconds": fitabase.HEARTRATE_SECONDS,
        "hourlySteps": fitabase.HOURLY_STEPS,
        "minuteStepsWide": fitabase.MINUTE_STEPS_WIDE,
        "sleepDay": fitabase.SLEEP_DAY,
        "weightLogInfo": fitabase.WEIGHT_LOG,
    }
    for name, entity in files.items():
        path = fitabase_2016 / f"{name}_merged.csv"
        rows, issues, read = parse_spec_file(path, entity)
        assert issues == [], name
        assert read == rows.height == len(_rows(path)), name
    weight, _, _ = parse_spec_file(fitabase_2016 / "weightLogInfo_merged.csv", fitabase.WEIGHT_LOG)
    assert weight["Fat"].null_count() > 0 and set(weight["IsManualReport"]) == {"True", "False"}


# --- daily files ------------------------------------------------------------------------------


def test_daily_activity_steps_and_active_minutes_match_the_export(fitabase_2016):
    path = fitabase_2016 / "dailyActivity_merged.csv"
    person = [r for r in _rows(path) if r["Id"] == "1503960366"]
    parsed = _parse("fitabase_daily_activity", path)
    out = parsed.tables["wearable_intervals"]
    assert parsed.issues == [] and parsed.rows_read == 940

    steps = _metric(out, "steps", "1503960366")
    assert steps["value"].sum() == sum(int(r["TotalSteps"]) for r in person)
    active = dict(_metric(out, "active_min", "1503960366").select("local_day", "value").iter_rows())
    for r in person:
        worn = int(r["TotalSteps"]) > 0
        if worn:
            expected = int(r["VeryActiveMinutes"]) + int(r["FairlyActiveMinutes"])
            assert active[_us_date(r["ActivityDate"])] == expected
    assert set(out["duration_s"]) == {86400}
    assert out["start_utc"].null_count() == out.height
    assert (out["start_local"].dt.date() == out["local_day"]).all()
    assert out["start_local"].dt.hour().max() == 0
    assert set(out["source"]) == {"fitabase"} and set(out["device"]) == {"Fitbit"}


def test_a_day_the_tracker_was_off_is_worn_0_never_0_steps(fitabase_2016):
    path = fitabase_2016 / "dailyActivity_merged.csv"
    active = ("VeryActiveMinutes", "FairlyActiveMinutes", "LightlyActiveMinutes")
    off_days = {
        _us_date(r["ActivityDate"])
        for r in _rows(path)
        if r["Id"] == "4020332650"
        and r["TotalSteps"] == "0"
        and sum(int(r[c]) for c in active) == 0
    }
    assert len(off_days) == 14
    out = _parse("fitabase_daily_activity", path).tables["wearable_intervals"]
    person = out.filter(pl.col("fitbit_id") == "4020332650")
    worn = _metric(person, "worn_min")
    assert set(worn["local_day"]) == off_days and set(worn["value"]) == {0.0}
    measured = person.filter(pl.col("metric") != "worn_min")
    assert not off_days & set(measured["local_day"])
    assert _metric(person, "steps").height == 31 - 14


def test_daily_activity_zero_steps_with_light_activity_or_blank_minutes_and_a_bad_row(tmp_path):
    header = ",".join(fitabase.DAILY_ACTIVITY.column_names)
    distances = "0,0,0,0,0,0,0"  # seven distance columns
    path = _write(
        tmp_path / "dailyActivity_merged.csv",
        header,
        [
            f"1503960366,4/12/2016,0,{distances},0,0,35,1405,1500",  # worn, still: 0 steps
            f"1503960366,4/13/2016,0,{distances},,,,1440,1400",  # no minutes: unknown
            f"1503960366,4/14/2016,-5,{distances},0,0,0,1440,1400",
            f"1503960366,4/15/2016,812,{distances},0,0,60,1380,1600",
        ],
    )
    parsed = _parse("fitabase_daily_activity", path)
    assert [(i.line, i.field, i.value) for i in parsed.issues] == [(4, "TotalSteps", "-5")]
    out = parsed.tables["wearable_intervals"]
    got = {(d.day, m): v for d, m, v in out.select("local_day", "metric", "value").iter_rows()}
    assert got == {
        (12, "steps"): 0,
        (12, "active_min"): 0,
        (15, "steps"): 812,
        (15, "active_min"): 0,
    }


def test_daily_steps_and_intensities_agree_with_daily_activity_on_days_with_movement(
    fitabase_2016,
):
    activity = _parse("fitabase_daily_activity", fitabase_2016 / "dailyActivity_merged.csv")
    steps = _parse("fitabase_daily_steps", fitabase_2016 / "dailySteps_merged.csv")
    intensities = _parse(
        "fitabase_daily_intensities", fitabase_2016 / "dailyIntensities_merged.csv"
    )
    by_day = ["fitbit_id", "local_day", "metric", "value"]
    daily = activity.tables["wearable_intervals"].select(by_day)
    for other, metric in ((steps, "steps"), (intensities, "active_min")):
        rows = other.tables["wearable_intervals"]
        assert other.issues == [] and set(rows["metric"]) == {metric}
        # every day it gives is dailyActivity's day, value for value
        assert rows.select(by_day).join(daily, on=by_day, how="anti").height == 0
    total = sum(int(r["StepTotal"]) for r in _rows(fitabase_2016 / "dailySteps_merged.csv"))
    assert steps.tables["wearable_intervals"]["value"].sum() == total
    assert steps.tables["wearable_intervals"]["value"].min() > 0


# --- hourly and minute steps ------------------------------------------------------------------


def test_hourly_steps_of_one_day_sum_to_the_export(fitabase_2016):
    path = fitabase_2016 / "hourlySteps_merged.csv"
    hours = [
        r
        for r in _rows(path)
        if r["Id"] == "1503960366" and r["ActivityHour"].startswith("4/12/2016 ")
    ]
    assert len(hours) == 24
    out = _parse("fitabase_hourly_steps", path).tables["wearable_intervals"]
    day = _metric(out, "steps", "1503960366").filter(
        pl.col("start_local").dt.date() == date(2016, 4, 12)
    )
    assert day["value"].sum() == sum(int(r["StepTotal"]) for r in hours)
    nonzero = {
        datetime.strptime(r["ActivityHour"], US_TIME) for r in hours if r["StepTotal"] != "0"
    }
    assert set(day["start_local"]) == nonzero, "an hour of 0 steps is not a measurement"
    assert set(out["duration_s"]) == {3600} and out["local_day"].null_count() == out.height


def test_minute_steps_wide_one_hour_by_minute_and_its_wear(fitabase_2016):
    path = fitabase_2016 / "minuteStepsWide_merged.csv"
    rows = _rows(path)
    hour = next(
        r for r in rows if r["Id"] == "1503960366" and r["ActivityHour"] == "4/13/2016 12:00:00 AM"
    )
    start = datetime(2016, 4, 13)
    expected = {
        start + timedelta(minutes=m): int(hour[f"Steps{m:02d}"])
        for m in range(60)
        if hour[f"Steps{m:02d}"] != "0"
    }
    parsed = _parse("fitabase_minute_steps", path)
    out = parsed.tables["wearable_intervals"]
    assert parsed.issues == [] and parsed.rows_read == len(rows)
    steps = _metric(out, "steps", "1503960366")
    in_hour = steps.filter(pl.col("start_local").is_between(start, start + timedelta(minutes=59)))
    assert dict(in_hour.select("start_local", "value").iter_rows()) == expected
    assert set(in_hour["duration_s"]) == {60}
    total = sum(int(r[f"Steps{m:02d}"]) for r in rows for m in range(60))
    assert _metric(out, "steps")["value"].sum() == total

    # wear: the project's still-stretch rule over each person's every minute, zeros included
    for fitbit_id in ("1503960366", "4020332650"):
        minutes = sorted(
            (
                datetime.strptime(r["ActivityHour"], US_TIME) + timedelta(minutes=m),
                int(r[f"Steps{m:02d}"]),
            )
            for r in rows
            if r["Id"] == fitbit_id
            for m in range(60)
        )
        expected = worn_from_steps(
            pl.Series([t for t, _ in minutes]), pl.Series([n for _, n in minutes])
        )
        worn = _metric(out, "worn_min", fitbit_id).select(
            pl.col("start_local").alias("start"), "value"
        )
        assert worn.equals(expected), fitbit_id
        moving = sum(n > 0 for _, n in minutes)
        assert worn["value"].sum() > moving, "still minutes between movements are worn too"
    assert set(_metric(out, "worn_min")["duration_s"]) == {900}


def test_minute_steps_narrow_gives_what_wide_gives(tmp_path):
    hours = [("1503960366", datetime(2016, 4, 13, 0)), ("1503960366", datetime(2016, 4, 13, 1))]
    steps = [[(m * 7) % 23 if m % 3 else 0 for m in range(60)], [0] * 60]
    wide = _write(
        tmp_path / "minuteStepsWide_merged.csv",
        "Id,ActivityHour," + ",".join(f"Steps{m:02d}" for m in range(60)),
        [
            f"{i},{_fitabase_time(h)}," + ",".join(map(str, s))
            for (i, h), s in zip(hours, steps, strict=True)
        ],
    )
    narrow = _write(
        tmp_path / "minuteStepsNarrow_merged.csv",
        "Id,ActivityMinute,Steps",
        [
            f"{i},{_fitabase_time(h + timedelta(minutes=m))},{s[m]}"
            for (i, h), s in zip(hours, steps, strict=True)
            for m in range(60)
        ],
    )
    from_wide = _parse("fitabase_minute_steps", wide)
    from_narrow = _parse("fitabase_minute_steps", narrow)
    assert from_wide.issues == from_narrow.issues == []
    assert from_narrow.rows_read == 120
    assert from_narrow.tables["wearable_intervals"].equals(from_wide.tables["wearable_intervals"])
    out = from_narrow.tables["wearable_intervals"]
    assert _metric(out, "steps")["value"].sum() == sum(steps[0])
    # a still hour (< 90 minutes) after moving is sitting, not taking the tracker off
    worn = _metric(out, "worn_min").select("start_local", "value").rows()
    assert worn == [
        (datetime(2016, 4, 13, 0, 0) + timedelta(minutes=15 * q), 15.0) for q in range(8)
    ]


@pytest.mark.parametrize(
    ("still_before", "worn_before"),
    [(100, 0), (20, 20)],  # ≥ 90 still minutes: not worn; fewer: worn (sitting)
)
def test_still_minutes_at_the_start_of_a_recording_are_judged_too(
    tmp_path, still_before, worn_before
):
    start = datetime(2016, 4, 13, 6, 0)
    lines = [
        f"1503960366,{_fitabase_time(start + timedelta(minutes=m))},{0 if m < still_before else 40}"
        for m in range(still_before + 30)
    ]
    path = _write(tmp_path / "minuteStepsNarrow_merged.csv", "Id,ActivityMinute,Steps", lines)
    out = _parse("fitabase_minute_steps", path).tables["wearable_intervals"]
    assert _metric(out, "steps").height == 30
    assert _metric(out, "worn_min")["value"].sum() == worn_before + 30


def test_a_repeated_minute_row_counts_once(tmp_path):
    path = _write(
        tmp_path / "minuteStepsNarrow_merged.csv",
        "Id,ActivityMinute,Steps",
        [
            "1503960366,4/13/2016 12:00:00 AM,12",
            "1503960366,4/13/2016 12:01:00 AM,8",
            "1503960366,4/13/2016 12:00:00 AM,12",
        ],
    )
    parsed = _parse("fitabase_minute_steps", path)
    assert _metric(parsed.tables["wearable_intervals"], "steps")["value"].sum() == 20
    assert [(i.line, i.severity, i.action) for i in parsed.issues] == [
        (4, "warning", "duplicate dropped")
    ]


# --- heart rate -------------------------------------------------------------------------------


@pytest.mark.parametrize("chunk_bytes", [None, 36_000])
def test_heart_rate_wear_is_distinct_minutes_per_quarter(fitabase_2016, monkeypatch, chunk_bytes):
    if chunk_bytes:  # blocks of ~1000 rows: minutes and quarters straddle block boundaries
        monkeypatch.setattr(reading, "CHUNK_BYTES", chunk_bytes)
    path = fitabase_2016 / "heartrate_seconds_merged.csv"
    minutes = defaultdict(set)
    for r in _rows(path):
        t = datetime.strptime(r["Time"], US_TIME)
        quarter = t.replace(minute=t.minute // 15 * 15, second=0)
        minutes[(r["Id"], quarter)].add((t.hour, t.minute))
    parsed = _parse("fitabase_heartrate", path)
    out = parsed.tables["wearable_intervals"]
    assert parsed.issues == [] and parsed.rows_read == 17666  # the trailing blank line is no row
    assert set(out["metric"]) == {"worn_min"} and set(out["duration_s"]) == {900}
    got = {(i, s): v for i, s, v in out.select("fitbit_id", "start_local", "value").iter_rows()}
    assert got == {key: len(m) for key, m in minutes.items()}
    assert got[("8877689391", datetime(2016, 5, 10, 6, 45))] == 5  # samples start at 6:55:26
    assert (out["start_local"].dt.minute() % 15 == 0).all()


# --- sleep ------------------------------------------------------------------------------------


def test_sleep_day_lands_410_unique_days_and_reports_the_3_repeats(fitabase_2016):
    path = fitabase_2016 / "sleepDay_merged.csv"
    with path.open(newline="") as handle:
        lines = [tuple(r) for r in csv.reader(handle)][1:]
    assert len(lines) == 413 and len(set(lines)) == 410
    parsed = _parse("fitabase_sleep_day", path)
    out = parsed.tables["wearable_sleep"]
    assert out.height == 410 and parsed.rows_read == 413
    assert [(i.severity, i.action) for i in parsed.issues] == [("warning", "duplicate dropped")] * 3
    first = lines[0]
    row = out.row(0, named=True)
    assert (row["fitbit_id"], row["local_day"], row["minutes_asleep"], row["minutes_in_bed"]) == (
        first[0],
        _us_date(first[1]),
        int(first[3]),
        int(first[4]),
    )
    assert set(out["sleep_type"]) == {"daily_total"}
    for column in ("start_local", "end_local", "start_utc", "is_main", "episode_id"):
        assert out[column].null_count() == out.height, column
    assert out["minutes_asleep"].sum() == sum(int(r[3]) for r in set(lines))


MINUTE_SLEEP_HEADER = "Id,date,value,logId"


def _fitabase_time(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.strftime('%I').lstrip('0')}:{t:%M:%S} {t:%p}"


def _sleep_log(fitbit_id: str, log_id: str, start: datetime, values: list[int]) -> list[str]:
    return [
        f"{fitbit_id},{_fitabase_time(start + timedelta(minutes=k))},{v},{log_id}"
        for k, v in enumerate(values)
    ]


def test_a_night_across_midnight_with_30_second_minutes_belongs_to_the_wake_day(tmp_path):
    values = [3, 3, 2, 1, 1, 1, 1, 2, 1, 1, 3]  # 11:55:30 PM .. 12:05:30 AM
    nap = [1, 1, 1, 3]
    lines = _sleep_log("1503960366", "11380564589", datetime(2016, 4, 12, 23, 55, 30), values)
    lines += _sleep_log("1503960366", "11388770011", datetime(2016, 4, 13, 14, 2), nap)
    path = _write(tmp_path / "minuteSleep_merged.csv", MINUTE_SLEEP_HEADER, lines)
    assert lines[0] == "1503960366,4/12/2016 11:55:30 PM,3,11380564589"
    parsed = _parse("fitabase_minute_sleep", path)
    assert parsed.issues == [] and parsed.rows_read == len(values) + len(nap)
    night, afternoon = parsed.tables["wearable_sleep"].iter_rows(named=True)
    assert night["episode_id"] == "11380564589"
    assert night["start_local"] == datetime(2016, 4, 12, 23, 55, 30)
    assert night["end_local"] == datetime(2016, 4, 13, 0, 6, 30)
    assert night["local_day"] == date(2016, 4, 13)
    assert (night["minutes_asleep"], night["minutes_in_bed"]) == (values.count(1), len(values))
    assert (night["sleep_type"], night["is_main"], night["start_utc"]) == ("classic", None, None)
    assert afternoon["local_day"] == date(2016, 4, 13) and afternoon["minutes_in_bed"] == 4


def test_a_fall_back_night_counts_rows_not_clock_span(tmp_path):
    # America/Chicago, 2016-11-06: 1:59 AM CDT is followed by 1:00 AM CST
    before = _sleep_log("4020332650", "13000000001", datetime(2016, 11, 5, 23, 30, 30), [1] * 150)
    assert before[-1].startswith("4020332650,11/6/2016 1:59:30 AM")
    repeat = _sleep_log("4020332650", "13000000001", datetime(2016, 11, 6, 1, 0, 30), [1] * 90)
    repeat[10] = repeat[10].replace(",1,", ",2,")
    duplicate = repeat[20]  # a row Fitabase wrote twice
    lines = before + repeat[:21] + [duplicate] + repeat[21:]
    path = _write(tmp_path / "minuteSleep_merged.csv", MINUTE_SLEEP_HEADER, lines)
    parsed = _parse("fitabase_minute_sleep", path)
    (night,) = parsed.tables["wearable_sleep"].iter_rows(named=True)
    assert night["start_local"] == datetime(2016, 11, 5, 23, 30, 30)
    assert night["end_local"] == datetime(2016, 11, 6, 2, 30, 30)  # wall clock: 3 h
    assert night["minutes_in_bed"] == 150 + 90  # 4 h really passed
    assert night["minutes_asleep"] == 150 + 89
    assert night["local_day"] == date(2016, 11, 6)
    assert [(i.line, i.reason, i.action) for i in parsed.issues] == [
        (1 + 150 + 22, "exact duplicate of line 172; counted once", "duplicate dropped")
    ]


def test_bad_minute_sleep_rows_are_quarantined_by_line_and_field_the_rest_lands(tmp_path):
    lines = _sleep_log("1503960366", "11380564589", datetime(2016, 4, 12, 2, 47, 30), [3, 1, 1, 1])
    lines.insert(2, "1503960366,4/12/2016 2:49:30 AM,7,11380564589")
    lines.insert(4, "1503960366,13/45/2016 2:50:30 AM,1,11380564589")
    lines.insert(5, "1503960366,4/12/2016 2:51:30 AM,1")
    path = _write(tmp_path / "minuteSleep_merged.csv", MINUTE_SLEEP_HEADER, lines)
    parsed = _parse("fitabase_minute_sleep", path)
    assert [(i.line, i.field, i.value, i.action) for i in parsed.issues] == [
        (4, "value", "7", "row quarantined"),
        (6, "date", "13/45/2016 2:50:30 AM", "row quarantined"),
        (7, None, None, "row quarantined"),
    ]
    assert "one of 1, 2, 3" in parsed.issues[0].reason
    assert "M/D/YYYY h:mm:ss AM/PM" in parsed.issues[1].reason
    assert parsed.rows_read == 7
    (night,) = parsed.tables["wearable_sleep"].iter_rows(named=True)
    assert (night["minutes_in_bed"], night["minutes_asleep"]) == (4, 3)


# --- whole-file problems and the chunked reader -----------------------------------------------


def test_files_that_cannot_be_used_are_quarantined_whole(tmp_path):
    no_log = _write(
        tmp_path / "minuteSleep_merged.csv", "Id,date,value", ["1,4/12/2016 2:47:30 AM,1"]
    )
    parsed = _parse("fitabase_minute_sleep", no_log)
    assert parsed.tables == {}
    ((issue),) = parsed.issues
    assert (issue.line, issue.field, issue.action) == (1, "logId", "file quarantined")

    latin1 = tmp_path / "heartrate_seconds_merged.csv"
    latin1.write_bytes(b"Id,Time,Value\r\n1,4/12/2016 2:47:30 AM,70\r\n\xe9\r\n")
    parsed = _parse("fitabase_heartrate", latin1)
    assert parsed.tables == {} and parsed.issues[0].action == "file quarantined"
    assert "UTF-8" in parsed.issues[0].reason

    empty = tmp_path / "dailyActivity_merged.csv"
    empty.write_text("")
    parsed = _parse("fitabase_daily_activity", empty)
    assert parsed.tables == {} and parsed.issues[0].action == "file quarantined"


def test_chunked_reading_reports_what_whole_file_reading_reports(tmp_path):
    path = _write(
        tmp_path / "heartrate_seconds_merged.csv",
        "Id,Time,Value,Source",
        [
            "8877689391,5/10/2016 6:55:26 AM,71,x",
            "8877689391,5/10/2016 6:55:31 AM,700,x",
            "",
            "8877689391,5/10/2016 6:55:36 AM,70",
            "8877689391,2016-05-10 06:55:41,abc,x",
            ",5/10/2016 6:55:46 AM,69,x",
            "8877689391,5/10/2016 6:55:51 AM,68,x",
        ],
    )
    entity = fitabase.HEARTRATE_SECONDS
    whole, whole_issues, whole_read = parse_spec_file(path, entity)
    chunks: list[pl.DataFrame] = []
    issues, read, usable = reading.read_in_chunks(path, entity, chunks.append, chunk_bytes=80)
    assert usable and read == whole_read == 6
    assert issues == whole_issues
    assert len(whole_issues) == 6  # unknown column, 700, field count, time, value, empty Id
    assert pl.concat(chunks).equals(whole)
