"""Apple Health exports: real samples checked against values computed here from the raw XML, and
hand-written exports for the edge cases (overlapping devices, sleep stages, cumulative re-exports,
hostile or broken files)."""

from __future__ import annotations

import subprocess
import sys
import time
import zipfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest

from pipelines.lib.parsers.apple_health import SOURCE, stream
from pipelines.lib.parsers.source import LandingFile, Parsed
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES
from pipelines.lib.raw_store import parse_landing_file

STEPS = "HKQuantityTypeIdentifierStepCount"
SLEEP = "HKCategoryTypeIdentifierSleepAnalysis"
HEART_RATE = "HKQuantityTypeIdentifierHeartRate"
WATCH = (
    'sourceName="Sam’s Apple Watch" device="&lt;&lt;HKDevice: 0x2815&gt;, name:Apple Watch, '
    'manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4&gt;"'
)
PHONE = (
    'sourceName="Sam’s iPhone" device="&lt;&lt;HKDevice: 0x2816&gt;, name:iPhone, '
    'manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.4&gt;"'
)
APP = 'sourceName="Pedometer++"'
AMSTERDAM = '<MetadataEntry key="HKTimeZone" value="Europe/Amsterdam"/>'


# --- helpers -------------------------------------------------------------------------------------


def run(path: Path, person: str | None = "P-001") -> Parsed:
    relative = f"apple_health/{person}/{path.name}" if person else f"apple_health/{path.name}"
    return parse_landing_file(SOURCE, LandingFile(path, relative, person))


def export(records: str, exported: str = "2024-06-01 08:00:00 +0200") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_NL">\n'
        f' <ExportDate value="{exported}"/>\n'
        f"{records}</HealthData>\n"
    )


def record(
    kind: str, who: str, start: str, end: str, value, unit: str = "", extra: str = ""
) -> str:
    unit_attr = f' unit="{unit}"' if unit else ""
    head = f' <Record type="{kind}" {who}{unit_attr} startDate="{start}" endDate="{end}" value="{value}"'
    return f"{head}>{extra}</Record>\n" if extra else f"{head}/>\n"


def write(tmp_path: Path, text: str, name: str = "export.xml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def zipped(tmp_path: Path, xml_text: str, name: str = "export.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("apple_health_export/export.xml", xml_text)
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    return path


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S +0000")


def utc(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z").astimezone(UTC)


def file_issue(parsed) -> str:
    [issue] = [i for i in parsed.issues if i.action == "file quarantined"]
    assert parsed.tables == {}
    return issue.reason


def steps_between(intervals: pl.DataFrame, start: datetime, end: datetime) -> float:
    return intervals.filter(
        (pl.col("metric") == "steps") & pl.col("start_utc").is_between(start, end, closed="left")
    )["value"].sum()


# --- real samples --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hk2017(real_data: Path) -> tuple[Path, Parsed]:
    path = real_data / "apple_health_export" / "hkimport_2017" / "export.xml"
    return path, run(path)


def _step_records(path: Path) -> list[dict]:
    return [
        dict(el.attrib)
        for _, el in ElementTree.iterparse(path)
        if el.tag == "Record" and el.get("type") == STEPS
    ]


def test_2017_export_with_its_dtd_parses_cleanly_into_all_tables(hk2017):
    path, parsed = hk2017
    # two zero-length sessions typed into the Health app are the only records refused
    assert [(i.field, i.action) for i in parsed.issues] == [
        ("endDate", "row quarantined"),
        ("duration", "row quarantined"),
    ]
    lines = path.read_text(encoding="utf-8").splitlines()
    for issue in parsed.issues:
        assert "0 seconds" in issue.reason
        assert 'startDate="2017-0' in lines[issue.line - 1] and issue.value in lines[issue.line - 1]
    for table, frame in parsed.tables.items():
        assert frame.schema == pl.Schema(WEARABLE_TABLES[table])
        assert frame["participant_id"].unique().to_list() in ([], ["P-001"])
    # 3,980 steps + 2,177 heart rate + 121 sleep + 4 mindful records, 61 workouts
    assert parsed.rows_read == 3980 + 2177 + 121 + 4 + 61
    assert set(parsed.tables["wearable_intervals"]["metric"]) == {
        "steps"
    }  # no Watch: no wear evidence


def test_2017_steps_of_a_single_source_day_equal_the_raw_sum(hk2017):
    path, parsed = hk2017
    # 2017-06-15: only the iPhone counted, no sample crosses midnight; every date in the file says +0200
    raw = [r for r in _step_records(path) if r["startDate"].startswith("2017-06-15")]
    assert {r["sourceName"] for r in raw} == {"Jonathan’s iPhone"}
    assert all(r["endDate"].startswith("2017-06-15") for r in raw)
    expected = sum(float(r["value"]) for r in raw)
    day = utc("2017-06-15 00:00:00 +0200")
    got = steps_between(parsed.tables["wearable_intervals"], day, day + timedelta(days=1))
    assert got == pytest.approx(expected, abs=0.01)
    assert expected == 195


def test_2017_steps_of_an_iphone_plus_garmin_day_follow_the_priority_rule(hk2017):
    """2017-10-23: the iPhone and Garmin Connect both counted; re-implement the rule with the stdlib."""
    path, parsed = hk2017
    day = utc("2017-10-23 00:00:00 +0200")
    lo, hi = day.timestamp(), (day + timedelta(days=1)).timestamp()
    per_minute: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in _step_records(path):
        start, end, value = (
            utc(r["startDate"]).timestamp(),
            utc(r["endDate"]).timestamp(),
            float(r["value"]),
        )
        if end < lo or start >= hi:
            continue
        if end == start:
            per_minute[int(start // 60)][r["sourceName"]] += value
            continue
        minute = int(start // 60)
        while minute * 60 < end:
            overlap = min(end, minute * 60 + 60) - max(start, minute * 60)
            if overlap > 0:
                per_minute[minute][r["sourceName"]] += value * overlap / (end - start)
            minute += 1

    def rank(source: str) -> int:
        return 3 if "Watch" in source else 2 if "iPhone" in source else 1

    expected = sum(
        max(sources.items(), key=lambda kv: (rank(kv[0]), kv[1]))[1]
        for minute, sources in per_minute.items()
        if lo <= minute * 60 < hi
    )
    naive = sum(sum(s.values()) for m, s in per_minute.items() if lo <= m * 60 < hi)
    got = steps_between(parsed.tables["wearable_intervals"], day, day + timedelta(days=1))
    assert got == pytest.approx(expected, abs=0.01)
    assert got < naive - 1000  # the overlap really was there, and was not double counted


def test_2017_sleep_night_with_overlapping_samples_counts_each_minute_once(hk2017):
    path, parsed = hk2017
    # Pillow's night of 20→21 June: segments + a whole-night InBed; lark logged part of it too
    night = [
        el.attrib
        for _, el in ElementTree.iterparse(path)
        if el.tag == "Record"
        and el.get("type") == SLEEP
        and el.get("sourceName") == "Pillow"
        and "2017-06-20 22:00" <= el.get("startDate") < "2017-06-21 07:00"
    ]
    asleep = sorted(
        (utc(r["startDate"]), utc(r["endDate"])) for r in night if r["value"].endswith("Asleep")
    )
    asleep_s = sum((end - start).total_seconds() for start, end in asleep)  # these do not overlap
    assert all(a[1] <= b[0] for a, b in zip(asleep, asleep[1:], strict=False))
    [in_bed] = [r for r in night if r["value"].endswith("InBed")]
    in_bed_s = (utc(in_bed["endDate"]) - utc(in_bed["startDate"])).total_seconds()

    sleep = parsed.tables["wearable_sleep"]
    [row] = sleep.filter(pl.col("local_day") == date(2017, 6, 21)).iter_rows(named=True)
    assert row["device"] == "Pillow"
    assert row["minutes_asleep"] == int(asleep_s / 60 + 0.5) == 375
    assert row["minutes_in_bed"] == int(in_bed_s / 60 + 0.5) == 461
    assert (
        row["utc_offset_min"] == 180
    )  # HKTimeZone Asia/Jerusalem in June, though the file says +0200
    assert row["is_main"] is True


def test_2024_watch_sleep_stages_and_the_records_own_time_zone(real_data):
    path = real_data / "apple_health_export" / "apple_health_parser_fixture_2024" / "export.xml"
    raw = [el.attrib for _, el in ElementTree.iterparse(path) if el.get("type") == SLEEP]
    [core] = [r for r in raw if r["value"] == "HKCategoryValueSleepAnalysisAsleepCore"]
    core_s = (utc(core["endDate"]) - utc(core["startDate"])).total_seconds()

    sleep = run(path).tables["wearable_sleep"].sort("start_utc")
    watch = sleep.filter(pl.col("device") == "Apple Watch").row(0, named=True)
    assert watch["minutes_asleep"] == int(core_s / 60 + 0.5) == 13
    assert watch["sleep_type"] == "asleep_core_deep_rem"
    assert watch["start_utc"] == utc(core["startDate"])
    # the file says +0200 (the June export's offset); HKTimeZone says Amsterdam, i.e. +0100 in January
    assert watch["utc_offset_min"] == 60
    assert watch["local_day"] == date(2024, 1, 1)
    phone = sleep.filter(pl.col("device") == "iPhone").row(0, named=True)
    assert phone["minutes_asleep"] is None  # the iPhone logs time in bed, not sleep
    assert phone["local_day"] == date(2023, 12, 31)  # 23:56 CET, though the file reads 00:56 +0200


def test_2019_workout_start_duration_distance_and_kind(real_data):
    path = real_data / "apple_health_export" / "healthkit_to_sqlite_fixture_2019" / "export.xml"
    [raw] = [el.attrib for _, el in ElementTree.iterparse(path) if el.tag == "Workout"]
    assert raw["durationUnit"] == "min" and raw["totalDistanceUnit"] == "mi"

    [row] = run(path).tables["wearable_workouts"].iter_rows(named=True)
    assert row["start_utc"] == utc(raw["startDate"])
    assert row["duration_s"] == round(float(raw["duration"]) * 60) == 312
    assert row["distance_m"] == pytest.approx(float(raw["totalDistance"]) * 1609.344)
    assert (row["activity"], row["kind"], row["device"]) == (
        "HKWorkoutActivityTypeRunning",
        "other",
        "Apple Watch",
    )
    assert row["utc_offset_min"] == -480  # Los Angeles in November; the file says -0700


def test_2019_activity_summaries_become_daily_exercise_minutes(real_data):
    path = real_data / "apple_health_export" / "healthkit_to_sqlite_fixture_2019" / "export.xml"
    raw = {
        el.get("dateComponents"): float(el.get("appleExerciseTime"))
        for _, el in ElementTree.iterparse(path)
        if el.tag == "ActivitySummary"
    }
    rows = run(path).tables["wearable_intervals"].filter(pl.col("metric") == "active_min")
    assert {r["local_day"].isoformat(): r["value"] for r in rows.iter_rows(named=True)} == raw
    assert set(rows["duration_s"]) == {86400}


def test_zip_and_plain_xml_give_the_same_rows(real_data, tmp_path):
    folder = real_data / "apple_health_export" / "healthkit_to_sqlite_fixture_2019" / "zip_contents"
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for file in sorted(folder.rglob("*")):
            z.write(file, file.relative_to(folder).as_posix())
    plain = run(folder / "apple_health_export" / "export.xml")
    packed = run(archive)
    assert packed.issues == plain.issues == []
    assert packed.rows_read == plain.rows_read > 0
    for table in WEARABLE_TABLES:
        assert packed.tables[table].equals(plain.tables[table]), table


def test_zip_of_the_full_2017_export_matches_its_xml(hk2017, tmp_path):
    path, plain = hk2017
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "apple_health_export/export.xml")
    packed = run(archive)
    for table in WEARABLE_TABLES:
        assert packed.tables[table].equals(plain.tables[table]), table


# --- steps and wear --------------------------------------------------------------------------------


def test_iphone_and_watch_overlap_is_not_double_counted(tmp_path):
    records = (
        record(STEPS, WATCH, "2024-03-04 10:00:00 +0100", "2024-03-04 10:10:00 +0100", 600, "count")
        + record(
            STEPS, PHONE, "2024-03-04 10:00:00 +0100", "2024-03-04 10:10:00 +0100", 550, "count"
        )
        + record(STEPS, APP, "2024-03-04 10:02:00 +0100", "2024-03-04 10:04:00 +0100", 900, "count")
        # Watch off: only the iPhone counted 10:10–10:20
        + record(
            STEPS, PHONE, "2024-03-04 10:10:00 +0100", "2024-03-04 10:20:00 +0100", 300, "count"
        )
        # the same iPhone sample twice (re-synced) counts once
        + record(
            STEPS, PHONE, "2024-03-04 10:10:00 +0100", "2024-03-04 10:20:00 +0100", 300, "count"
        )
    )
    steps = (
        run(write(tmp_path, export(records)))
        .tables["wearable_intervals"]
        .filter(pl.col("metric") == "steps")
    )
    rows = {
        r["start_utc"].strftime("%H:%M"): (r["value"], r["device"])
        for r in steps.iter_rows(named=True)
    }
    # UTC quarter hours: 09:00 holds the Watch's 600 and half the iPhone's later 300
    assert rows == {"09:00": (750.0, "Apple Watch"), "09:15": (150.0, "iPhone")}
    assert set(steps["duration_s"]) == {900}
    assert (
        steps["utc_offset_min"].is_null().all()
    )  # steps carry no HKTimeZone: staging uses the roster's


def test_watch_heart_rate_bridges_short_gaps_as_wear(tmp_path):
    beats = [
        record(
            HEART_RATE,
            WATCH,
            f"2024-03-04 {t} +0000",
            f"2024-03-04 {t} +0000",
            70,
            "count/min",
        )
        for t in ("08:00:10", "08:06:00", "08:12:30", "08:14:00", "09:00:00")
    ]
    intervals = run(write(tmp_path, export("".join(beats)))).tables["wearable_intervals"]
    worn = {r["start_utc"].strftime("%H:%M"): r["value"] for r in intervals.iter_rows(named=True)}
    # 08:00–08:14 continuous (gaps ≤ 15 min); 08:14 → 09:00 is a 46-min gap: only 09:00 itself
    assert worn == {"08:00": 15.0, "09:00": 1.0}
    assert set(intervals["metric"]) == {"worn_min"} and set(intervals["device"]) == {"Apple Watch"}


def test_samples_across_a_processing_window_edge_are_split_not_lost_or_doubled(tmp_path):
    from pipelines.lib.parsers.apple_health.timeline import WINDOW_S

    edge = datetime.fromtimestamp(
        utc("2024-03-04 00:00:00 +0000").timestamp() // WINDOW_S * WINDOW_S + WINDOW_S, UTC
    )
    before, after = edge - timedelta(minutes=10), edge + timedelta(minutes=10)
    records = record(STEPS, WATCH, stamp(before), stamp(after), 200, "count") + "".join(
        record(
            "HeartRate".join(("HKQuantityTypeIdentifier", "")),
            WATCH,
            stamp(t),
            stamp(t),
            60,
            "count/min",
        )
        for t in (before, edge - timedelta(minutes=1), edge + timedelta(minutes=4), after)
    )
    intervals = run(write(tmp_path, export(records))).tables["wearable_intervals"]
    steps = intervals.filter(pl.col("metric") == "steps")
    assert steps.select("start_utc", "value").rows() == [
        (edge - timedelta(minutes=15), 100.0),
        (edge, 100.0),
    ]
    worn = intervals.filter(pl.col("metric") == "worn_min")
    assert worn.select("start_utc", "value").rows() == [
        (edge - timedelta(minutes=15), 10.0),
        (edge, 11.0),
    ]


def test_iphone_only_export_has_no_wear_rows(tmp_path):
    records = record(
        STEPS, PHONE, "2024-03-04 10:00:00 +0000", "2024-03-04 10:05:00 +0000", 400, "count"
    )
    records += record(
        HEART_RATE,
        APP,
        "2024-03-04 10:00:00 +0000",
        "2024-03-04 10:00:00 +0000",
        80,
        "count/min",
    )
    intervals = run(write(tmp_path, export(records))).tables["wearable_intervals"]
    assert set(intervals["metric"]) == {"steps"}


# --- sleep ----------------------------------------------------------------------------------------


def _stage(who: str, start: str, end: str, value: str, zone: str = AMSTERDAM) -> str:
    return record(
        SLEEP,
        who,
        f"2024-03-{start} +0100",
        f"2024-03-{end} +0100",
        f"HKCategoryValueSleepAnalysis{value}",
        extra=zone,
    )


def test_ios16_sleep_stages_one_source_per_night(tmp_path):
    records = (
        _stage(PHONE, "04 22:45:00", "05 07:00:00", "InBed")
        + _stage(WATCH, "04 23:00:00", "05 01:00:00", "AsleepCore")
        + _stage(WATCH, "05 01:00:00", "05 01:30:00", "AsleepDeep")
        + _stage(WATCH, "05 01:20:00", "05 01:40:00", "AsleepDeep")  # overlaps the previous: once
        + _stage(WATCH, "05 01:40:00", "05 02:00:00", "Awake")
        + _stage(WATCH, "05 02:00:00", "05 03:00:00", "AsleepREM")
        + _stage(WATCH, "05 03:40:00", "05 06:30:00", "AsleepCore")  # 40-min gap: same episode
        + record(
            SLEEP,
            APP,
            "2024-03-04 22:30:00 +0100",
            "2024-03-05 06:40:00 +0100",
            "HKCategoryValueSleepAnalysisAsleep",
        )
        + _stage(WATCH, "05 14:00:00", "05 14:30:00", "AsleepUnspecified")  # a nap
    )
    sleep = run(write(tmp_path, export(records))).tables["wearable_sleep"].sort("start_utc")
    night, nap = sleep.iter_rows(named=True)
    assert night["device"] == "Apple Watch"
    assert night["minutes_asleep"] == 120 + 40 + 60 + 170
    assert night["minutes_in_bed"] == 120 + 40 + 20 + 60 + 170
    assert (night["local_day"], night["is_main"], night["sleep_type"]) == (
        date(2024, 3, 5),
        True,
        "asleep_core_deep_rem",
    )
    assert night["start_utc"] == utc("2024-03-04 23:00:00 +0100")
    assert night["end_utc"] == utc("2024-03-05 06:30:00 +0100")
    assert (nap["minutes_asleep"], nap["is_main"], nap["sleep_type"]) == (
        30,
        False,
        "in_bed_asleep",
    )
    assert night["episode_id"] != nap["episode_id"]


def test_sleep_day_comes_from_hk_time_zone_not_from_the_export_offset(tmp_path):
    # exported in summer (+0200) about a winter night: 00:30 +0200 is 23:30 CET the day before
    records = _stage(WATCH, "04 22:00:00", "05 00:30:00", "AsleepCore").replace("+0100", "+0200")
    no_zone = _stage(WATCH, "06 22:00:00", "07 06:00:00", "AsleepCore", zone="").replace(
        "+0100", "+0200"
    )
    sleep = (
        run(write(tmp_path, export(records + no_zone))).tables["wearable_sleep"].sort("start_utc")
    )
    assert sleep["local_day"].to_list() == [date(2024, 3, 4), None]
    assert sleep["utc_offset_min"].to_list() == [60, None]


# --- vitals and workouts --------------------------------------------------------------------------


def test_resting_hr_and_hrv_samples(tmp_path):
    records = (
        record(
            "HKQuantityTypeIdentifierRestingHeartRate",
            WATCH,
            "2024-03-05 07:00:00 +0100",
            "2024-03-05 22:00:00 +0100",
            54,
            "count/min",
        )
        + record(
            "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
            WATCH,
            "2024-03-05 02:00:00 +0100",
            "2024-03-05 02:01:00 +0100",
            48.25,
            "ms",
        )
        + record(
            "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
            WATCH,
            "2024-03-05 02:00:00 +0100",
            "2024-03-05 02:01:00 +0100",
            48.25,
            "ms",
        )
        + record(
            "HKQuantityTypeIdentifierRestingHeartRate",
            WATCH,
            "2024-03-06 07:00:00 +0100",
            "2024-03-06 22:00:00 +0100",
            55,
            "count/s",
        )
    )
    parsed = run(write(tmp_path, export(records)))
    vitals = parsed.tables["wearable_vitals"].sort("start_utc")
    assert vitals.select("metric", "value").rows() == [("hrv_sdnn_ms", 48.25), ("resting_hr", 54.0)]
    assert vitals["start_utc"][1] == utc("2024-03-05 07:00:00 +0100")
    [issue] = parsed.issues
    assert (issue.field, issue.value, issue.action) == ("unit", "count/s", "row quarantined")


def _workout(activity: str, who: str, start: str, minutes: float, inner: str = "", **attrs) -> str:
    begin = datetime.strptime(start, "%Y-%m-%d %H:%M:%S %z")
    end = (begin + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S %z")
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return (
        f' <Workout workoutActivityType="HKWorkoutActivityType{activity}" duration="{minutes}" '
        f'durationUnit="min"{extra} {who} startDate="{start}" endDate="{end}">{inner}</Workout>\n'
    )


def test_workout_kinds_units_statistics_and_duplicates(tmp_path):
    stats = (
        '<WorkoutStatistics type="HKQuantityTypeIdentifierDistanceWalkingRunning" sum="2.5" unit="km"/>'
        '<WorkoutStatistics type="HKQuantityTypeIdentifierStepCount" sum="3100" unit="count"/>'
    )
    records = (
        _workout("Yoga", WATCH, "2024-03-05 07:00:00 +0100", 30)
        + _workout("CoreTraining", WATCH, "2024-03-05 07:31:00 +0100", 10)
        + _workout("Walking", WATCH, "2024-03-05 12:00:00 +0100", 40, inner=stats)
        + _workout("Walking", APP, "2024-03-05 12:01:00 +0100", 42)  # the same walk via another app
        + _workout(
            "Hiking",
            PHONE,
            "2024-03-06 09:00:00 +0100",
            1.5,
            totalDistance="3",
            totalDistanceUnit="mi",
        ).replace('duration="1.5" durationUnit="min"', 'duration="1.5" durationUnit="h"')
        + _workout(
            "Cycling",
            APP,
            "2024-03-07 09:00:00 +0100",
            20,
            totalDistance="8",
            totalDistanceUnit="furlong",
        )
        + record(
            "HKCategoryTypeIdentifierMindfulSession",
            WATCH,
            "2024-03-05 21:00:00 +0100",
            "2024-03-05 21:03:00 +0100",
            "",
            extra="",
        )
    )
    parsed = run(write(tmp_path, export(records)))
    rows = (
        parsed.tables["wearable_workouts"]
        .sort("start_utc")
        .select("activity", "kind", "duration_s", "distance_m", "steps", "device")
        .rows()
    )
    assert rows == [
        ("HKWorkoutActivityTypeYoga", "stretch", 1800, None, None, "Apple Watch"),
        ("HKWorkoutActivityTypeCoreTraining", "stability", 600, None, None, "Apple Watch"),
        ("HKWorkoutActivityTypeWalking", "walk", 2400, 2500.0, 3100.0, "Apple Watch"),
        ("HKCategoryTypeIdentifierMindfulSession", "breathing", 180, None, None, "Apple Watch"),
        ("HKWorkoutActivityTypeHiking", "walk", 5400, pytest.approx(4828.032), None, "iPhone"),
        ("HKWorkoutActivityTypeCycling", "other", 1200, None, None, "Pedometer++"),
    ]
    [issue] = parsed.issues
    assert (issue.field, issue.value, issue.severity) == ("totalDistanceUnit", "furlong", "warning")


# --- cumulative exports ---------------------------------------------------------------------------


def test_older_and_newer_export_of_one_person_never_duplicate_after_the_staging_rule(tmp_path):
    """Staging keeps, per person, source, metric and local day, the newest export having that day."""
    day1 = record(
        STEPS, WATCH, "2024-03-04 09:00:00 +0100", "2024-03-04 09:10:00 +0100", 500, "count"
    )
    day2_morning = record(
        STEPS, WATCH, "2024-03-05 09:00:00 +0100", "2024-03-05 09:10:00 +0100", 700, "count"
    )
    day2_evening = record(
        STEPS, WATCH, "2024-03-05 19:00:00 +0100", "2024-03-05 19:10:00 +0100", 900, "count"
    )
    day3 = record(
        STEPS, WATCH, "2024-03-06 09:00:00 +0100", "2024-03-06 09:10:00 +0100", 300, "count"
    )
    night1 = _stage(WATCH, "04 23:00:00", "05 06:00:00", "AsleepCore")
    night2 = _stage(WATCH, "05 23:00:00", "06 06:30:00", "AsleepCore")
    older_dir, newer_dir = tmp_path / "old", tmp_path / "new"
    older_dir.mkdir()
    newer_dir.mkdir()
    # the older export was made at noon on day 2; the newer one repeats everything and adds more
    older = run(write(older_dir, export(day1 + day2_morning + night1, "2024-03-05 12:00:00 +0100")))
    newer = run(
        write(
            newer_dir,
            export(
                day1 + day2_morning + day2_evening + day3 + night1 + night2,
                "2024-03-07 08:00:00 +0100",
            ),
        )
    )

    def staged(table: str, day: pl.Expr, keys: list[str]) -> pl.DataFrame:
        both = pl.concat(
            [
                older.tables[table].with_columns(exported_at=pl.lit(1), file=pl.lit("old")),
                newer.tables[table].with_columns(exported_at=pl.lit(2), file=pl.lit("new")),
            ]
        ).with_columns(day=day)
        newest = both.group_by(keys).agg(pl.col("exported_at").max())
        return both.join(newest, on=[*keys, "exported_at"])

    local = (
        pl.col("start_utc").dt.convert_time_zone("Europe/Amsterdam").dt.date()
    )  # the roster's zone
    intervals = staged("wearable_intervals", local, ["participant_id", "source", "metric", "day"])
    assert intervals.select("metric", "start_utc").is_unique().all()
    daily = (
        intervals.filter(pl.col("metric") == "steps")
        .group_by("day")
        .agg(pl.col("value").sum())
        .sort("day")
    )
    assert daily.rows() == [
        (date(2024, 3, 4), 500.0),
        (date(2024, 3, 5), 1600.0),
        (date(2024, 3, 6), 300.0),
    ]
    assert set(intervals.filter(pl.col("day") == date(2024, 3, 5))["file"]) == {"new"}

    sleep = staged("wearable_sleep", pl.col("local_day"), ["participant_id", "source", "day"])
    assert sleep["episode_id"].is_unique().all()
    assert sleep.sort("day").select("day", "minutes_asleep").rows() == [
        (date(2024, 3, 5), 420),
        (date(2024, 3, 6), 450),
    ]
    # the same night has the same id in both exports, so staging can also match it directly
    assert set(older.tables["wearable_sleep"]["episode_id"]) < set(
        newer.tables["wearable_sleep"]["episode_id"]
    )


# --- many records: converted a batch at a time ----------------------------------------------------


def test_dates_converted_in_bulk_are_those_converted_one_by_one():
    from pipelines.lib.parsers.apple_health.clock import parse_instant, parse_instants

    texts = [
        "2024-03-04 10:00:00 +0100",
        "2024-02-29 23:59:60 -0700",  # a leap day and a leap second
        "2023-02-29 10:00:00 +0000",  # no such day
        "2100-02-29 10:00:00 +0000",  # not a leap year
        "2000-02-29 10:00:00 +0000",  # a leap year
        "2024-13-01 10:00:00 +0000",
        "2024-04-31 10:00:00 +0000",
        "2024-03-04 24:00:00 +0000",
        "2024-03-04 10:60:00 +0000",
        "0000-01-01 00:00:00 +0000",
        "0001-01-01 00:00:00 +0000",
        "9999-12-31 23:59:59 -1200",
        "1969-12-31 23:59:59 +0000",
        "2024-03-04 10:00:00 +0530",
        "2024-03-04 10:00:00 +0099",  # an odd offset is read as written, as one by one
        "2024-03-04 10:00:00 x0100",
        "2024/03/04 10:00:00 +0100",
        "2024-03-04T10:00:00 +0100",
        "2024-03-04 1:00:00 +0100",
        "2024-03-04  1:00:00 +0100",  # a space where a digit should be: int(" 1") reads it
        "2024-W10-1 10:00:00 +0100",  # an ISO week date: date.fromisoformat reads it
        "2024-03-0é 10:00:00 +0100",
        "20150616071916-0700",  # iOS 8
        "yesterday",
        "",
        None,
    ]

    def one(text):
        try:
            return parse_instant(text)
        except ValueError:
            return None

    instants, parsed = parse_instants(texts)
    assert [int(t) if ok else None for t, ok in zip(instants, parsed, strict=True)] == [
        one(t) for t in texts
    ]
    assert parsed.sum() == 11  # the cases above are not all refused (or all read)


def _mixed_bad_export() -> str:
    """Steps from two devices and Watch heart rate, with bad records of each kind in between."""
    start = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    rows = []
    for i in range(14):
        t = start + timedelta(minutes=7 * i)
        begin, end = stamp(t), stamp(t + timedelta(minutes=5))
        who = WATCH if i % 2 else PHONE
        if i == 3:
            begin = "soon"  # a bad step record
        if i == 9:
            rows.append(record(SLEEP, WATCH, begin, "later", "HKCategoryValueSleepAnalysisAsleep"))
        rows.append(record(STEPS, who, begin, end, "lots" if i == 6 else 100 + i, "count"))
        rows.append(
            record(HEART_RATE, WATCH, "now" if i == 11 else begin, begin, 60 + i, "count/min")
        )
    return export("".join(rows))


def test_batches_give_the_same_rows_and_issues_in_file_order(tmp_path, monkeypatch):
    from pipelines.lib.parsers.apple_health import bulk

    path = write(tmp_path, _mixed_bad_export())
    whole = run(path)
    monkeypatch.setattr(bulk, "BATCH", 3)  # flushed many times, and before each other issue
    batched = run(path)
    for table, frame in whole.tables.items():
        assert batched.tables[table].equals(frame), table
    assert batched.issues == whole.issues
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [(i.field, i.value) for i in whole.issues] == [
        ("startDate", "soon"),  # step 3, then its heart rate
        ("startDate", "soon"),
        ("value", "lots"),
        ("endDate", "later"),  # the sleep record before step 9
        ("startDate", "now"),
    ]
    assert [i.line for i in whole.issues] == sorted(i.line for i in whole.issues)
    for issue in whole.issues:
        assert f'"{issue.value}"' in lines[issue.line - 1]
    assert whole.rows_read == 14 + 14 + 1


def test_a_refused_first_record_never_numbers_its_source(tmp_path):
    # two apps of the same rank tie in a minute: the one numbered first (seen first) wins it
    at, until = "2024-03-04 10:00:00 +0000", "2024-03-04 10:01:00 +0000"
    records = (
        record(STEPS, 'sourceName="Alpha"', at, until, "lots", "count")  # refused
        + record(STEPS, 'sourceName="Beta"', at, until, 30, "count")
        + record(STEPS, 'sourceName="Alpha"', at, until, 30, "count")
    )
    parsed = run(write(tmp_path, export(records)))
    assert parsed.tables["wearable_intervals"]["device"].to_list() == ["Beta"]
    assert [i.value for i in parsed.issues] == ["lots"]


def _halves_export(middle: str = "") -> str:
    """Two weeks of Watch and iPhone records, `middle` halfway; the second week brings a new
    app (its first record refused), and 105 bad step records in each week."""
    rows = []
    start = datetime(2024, 3, 4, tzinfo=UTC)
    for day in range(14):
        if day == 7:
            rows.append(middle)
            rows.append(record(STEPS, 'sourceName="Gamma"', "soon", "later", 5, "count"))
        for i in range(30):
            t = start + timedelta(days=day, minutes=11 * i)
            begin, end = stamp(t), stamp(t + timedelta(minutes=4))
            rows.append(record(HEART_RATE, WATCH, begin, begin, 60 + i, "count/min"))
            rows.append(record(STEPS, WATCH if i % 3 else PHONE, begin, end, 40 + i, "count"))
            if day >= 7 and i % 5 == 0:  # in the afternoon, when Gamma alone counts
                later = stamp(t + timedelta(hours=12))
                rows.append(record(STEPS, 'sourceName="Gamma"', later, later, 40 + i, "count"))
            if i % 2 == 0:
                rows.append(record(STEPS, PHONE, "soon", end, 1, "count"))
        night = start + timedelta(days=day, hours=-2)
        rows.append(
            record(
                SLEEP,
                WATCH,
                stamp(night),
                stamp(night + timedelta(hours=7)),
                "HKCategoryValueSleepAnalysisAsleepCore",
                extra=AMSTERDAM,
            )
        )
        rows.append(
            record(
                "HKQuantityTypeIdentifierRestingHeartRate",
                WATCH,
                stamp(night),
                stamp(night),
                55 + day,
                "count/min",
            )
        )
    return export("".join(rows))


@pytest.fixture
def halves(monkeypatch):
    from pipelines.lib.parsers.apple_health import halves

    monkeypatch.setattr(halves, "core_free", lambda: True)  # whatever else runs on this machine
    return halves


def _one_pass(path: Path, halves, monkeypatch) -> Parsed:
    monkeypatch.setattr(halves, "SPLIT_BYTES", 2**62)
    parsed = run(path)
    monkeypatch.setattr(halves, "SPLIT_BYTES", 0)
    return parsed


def test_an_export_read_in_halves_gives_what_one_pass_gives(tmp_path, halves, monkeypatch):
    path = write(tmp_path, _halves_export())
    one = _one_pass(path, halves, monkeypatch)
    assert halves.read_in_halves(path) is not None  # really read in two
    two = run(path)
    for table, frame in one.tables.items():
        assert two.tables[table].equals(frame), table
    assert two.issues == one.issues and two.rows_read == one.rows_read
    # the bad records of both halves, listed up to 200 then counted, with their own lines
    assert len(one.issues) == 201 and "11 more records" in one.issues[-1].reason
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all('"soon"' in lines[i.line - 1] for i in one.issues[:-1])
    # wear continues across the cut: every quarter hour of the two weeks' days is worn
    assert one.tables["wearable_intervals"].filter(pl.col("metric") == "worn_min").height > 14 * 20
    devices = set(one.tables["wearable_intervals"]["device"])
    assert {"Apple Watch", "Gamma"} <= devices


def test_reading_in_halves_leaves_no_process_behind(tmp_path, halves, monkeypatch):
    """The helper ends with its half, and nothing else is started for it (multiprocessing's
    spawn also started a resource tracker that stayed until the run ended, in its peak)."""
    import psutil

    monkeypatch.setattr(halves, "SPLIT_BYTES", 0)
    path = write(tmp_path, _halves_export())
    this = psutil.Process()
    before = {child.pid for child in this.children(recursive=True)}
    assert halves.read_in_halves(path) is not None
    assert {child.pid for child in this.children(recursive=True)} == before


def test_a_cut_inside_an_open_element_falls_back_to_one_pass(tmp_path, halves, monkeypatch):
    # a Correlation whose records sit on lines like top-level ones, spanning the middle
    nested = "".join(
        record(STEPS, PHONE, "2024-03-11 10:00:00 +0000", "2024-03-11 10:01:00 +0000", 1, "count")
        for _ in range(4000)
    )
    middle = f' <Correlation type="HKCorrelationTypeIdentifierFood">\n{nested} </Correlation>\n'
    path = write(tmp_path, _halves_export(middle))
    size = path.stat().st_size
    cut, _ = halves.find_cut(path, size // 2)
    assert cut < path.read_bytes().index(b"</Correlation>")  # the cut falls inside it
    assert halves.read_in_halves(path) is None
    assert (
        run(path)
        .tables["wearable_intervals"]
        .equals(_one_pass(path, halves, monkeypatch).tables["wearable_intervals"])
    )


def test_a_broken_second_half_is_reported_as_one_pass_reports_it(tmp_path, halves, monkeypatch):
    text = _halves_export()
    text = text[: len(text) * 3 // 4] + "<Record type=" + text[len(text) * 3 // 4 :]
    path = write(tmp_path, text)
    assert halves.read_in_halves(path) is None
    reason = file_issue(run(path))
    assert reason == file_issue(_one_pass(path, halves, monkeypatch))
    assert "not well-formed XML at line" in reason


# --- files that must not be read ------------------------------------------------------------------


def test_billion_laughs_is_refused_fast(tmp_path):
    entities = '<!ENTITY lol "lol">\n' + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    text = (
        f'<?xml version="1.0"?>\n<!DOCTYPE HealthData [\n{entities}]>\n<HealthData locale="en">\n'
        + record(
            STEPS,
            'sourceName="&lol9;"',
            "2024-03-04 10:00:00 +0000",
            "2024-03-04 10:05:00 +0000",
            5,
            "count",
        )
        + "</HealthData>\n"
    )
    started = time.perf_counter()
    reason = file_issue(run(write(tmp_path, text)))
    assert time.perf_counter() - started < 1
    assert "declares XML entities" in reason


def test_entity_expansion_is_impossible_even_past_the_prolog_check(tmp_path):
    # an undeclared entity in the body is a syntax error, never a lookup (the DTD is dropped)
    text = export(
        record(
            STEPS,
            'sourceName="&lol9;"',
            "2024-03-04 10:00:00 +0000",
            "2024-03-04 10:05:00 +0000",
            5,
            "count",
        )
    )
    reason = file_issue(run(write(tmp_path, text)))
    assert "Entity 'lol9' not defined" in reason and "line 4" in reason


def test_malformed_ios16_dtd_is_ignored_and_line_numbers_still_match(tmp_path):
    dtd = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE HealthData [\n'
        "<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>\n"
        "<!ATTLIST VisionPrescription\n  type             CDATA #REQUIRED\n"  # missing '>': iOS 16's bug
        "<!ELEMENT ExportDate EMPTY>\n]>\n"
    )
    body = (
        '<HealthData locale="en_US">\n'
        + record(
            STEPS, PHONE, "2024-03-04 10:00:00 +0000", "2024-03-04 10:05:00 +0000", 400, "count"
        )
        + record(STEPS, PHONE, "yesterday", "2024-03-04 10:05:00 +0000", 400, "count")
        + record(
            STEPS, PHONE, "2024-03-04 11:00:00 +0000", "2024-03-04 11:05:00 +0000", "lots", "count"
        )
        + "</HealthData>\n"
    )
    parsed = run(write(tmp_path, dtd + body))
    assert parsed.tables["wearable_intervals"]["value"].to_list() == [400.0]
    lines = (dtd + body).splitlines()
    assert [(i.line, i.field, i.value, i.action) for i in parsed.issues] == [
        (10, "startDate", "yesterday", "row quarantined"),
        (11, "value", "lots", "row quarantined"),
    ]
    assert "yesterday" in lines[9] and "lots" in lines[10]
    assert parsed.rows_read == 3


def test_forbidden_control_characters_are_blanked_with_a_warning(tmp_path):
    records = record(
        STEPS,
        'sourceName="Pedo\x0bmeter"',
        "2024-03-04 10:00:00 +0000",
        "2024-03-04 10:05:00 +0000",
        40,
        "count",
    )
    parsed = run(write(tmp_path, export(records)))
    assert parsed.tables["wearable_intervals"]["device"].to_list() == ["Pedo meter"]
    [issue] = parsed.issues
    assert issue.severity == "warning" and "control character" in issue.reason


def test_zip_slip_archive_is_refused(tmp_path):
    path = tmp_path / "export.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("apple_health_export/export.xml", export(""))
        archive.writestr("apple_health_export/../../etc/cron.d/evil", "* * * * * root true")
    assert "points outside its folder" in file_issue(run(path))
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("/apple_health_export/export.xml", export(""))
    assert "points outside its folder" in file_issue(run(path))


def test_corrupt_zip_and_non_xml_files_are_quarantined(tmp_path):
    assert "not a readable zip" in file_issue(
        run(write(tmp_path, "PK\x03\x04 not really", "export.zip"))
    )
    good = zipped(
        tmp_path,
        export(
            record(
                STEPS, PHONE, "2024-03-04 10:00:00 +0000", "2024-03-04 10:05:00 +0000", 4, "count"
            )
        ),
    )
    truncated = tmp_path / "truncated" / "export.zip"
    truncated.parent.mkdir()
    truncated.write_bytes(good.read_bytes()[:-60])  # the central directory is cut off
    assert "not a readable zip" in file_issue(run(truncated))
    assert "no <HealthData> root" in file_issue(run(write(tmp_path, "%PDF-1.7 …")))
    cut = export(
        record(STEPS, PHONE, "2024-03-04 10:00:00 +0000", "2024-03-04 10:05:00 +0000", 4, "count")
    )[:-40]
    assert "not well-formed XML" in file_issue(run(write(tmp_path, cut)))
    empty_zip = tmp_path / "empty" / "export.zip"
    empty_zip.parent.mkdir()
    with zipfile.ZipFile(empty_zip, "w") as archive:
        archive.writestr("apple_health_export/export_cda.xml", "<ClinicalDocument/>")
    assert "no export.xml" in file_issue(run(empty_zip))


def test_size_and_compression_ratio_caps(tmp_path, monkeypatch):
    text = export(
        record(STEPS, PHONE, "2024-03-04 10:00:00 +0000", "2024-03-04 10:05:00 +0000", 4, "count")
        * 2000
    )
    archive = zipped(tmp_path, text)
    monkeypatch.setattr(stream, "MAX_COMPRESSION_RATIO", 5)
    assert "zip bomb" in file_issue(run(archive))
    monkeypatch.setattr(stream, "MAX_COMPRESSION_RATIO", 200)
    monkeypatch.setattr(stream, "MAX_EXPORT_BYTES", 100_000)
    assert "MAX_EXPORT_BYTES" in file_issue(run(archive))
    assert "MAX_EXPORT_BYTES" in file_issue(run(write(tmp_path, text)))


def test_export_outside_a_person_folder_is_quarantined(tmp_path):
    path = write(tmp_path, export(""))
    assert "landing/apple_health/<participant_id>/" in file_issue(run(path, person=None))


def test_source_patterns_find_exports_in_and_beside_person_folders(tmp_path):
    landing = tmp_path / "landing"
    for relative in (
        "apple_health/P-001/export.zip",
        "apple_health/P-002/apple_health_export/export.xml",
        "apple_health/P-002/apple_health_export/export_cda.xml",
        "apple_health/P-003/2024-06/export.xml",
        "apple_health/export.zip",
    ):
        (landing / relative).parent.mkdir(parents=True, exist_ok=True)
        (landing / relative).write_text("")
    found = sorted(
        {
            p.relative_to(landing).as_posix()
            for pattern in SOURCE.patterns
            for p in landing.glob(pattern)
        }
    )
    assert found == [
        "apple_health/P-001/export.zip",
        "apple_health/P-002/apple_health_export/export.xml",
        "apple_health/P-003/2024-06/export.xml",
        "apple_health/export.zip",
    ]
    assert SOURCE.per_person and SOURCE.name == SOURCE.folder == "apple_health"


def test_a_flood_of_bad_records_is_summarised_not_listed(tmp_path):
    bad = record(STEPS, PHONE, "soon", "2024-03-04 10:05:00 +0000", 4, "count") * 250
    parsed = run(write(tmp_path, export(bad)))
    assert len(parsed.issues) == 201
    assert parsed.issues[-1].line is None and "50 more records" in parsed.issues[-1].reason
    assert parsed.rows_read == 250


def test_the_helper_process_loads_only_the_reader():
    """The helper that reads half of a large export runs beside the run's process at the parse's
    peak, so what it imports counts there: a fresh interpreter importing its module (as spawn
    does) loads the XML reader and not Polars, DuckDB, Dagster or the other parsers."""
    shown = subprocess.run(
        [sys.executable, "-c", "import sys, pipelines.lib.apple_health_half; print(*sys.modules)"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = {name.split(".")[0] for name in shown.stdout.split()} | set(shown.stdout.split())
    assert "lxml" in loaded and "pipelines.lib.parsers.apple_health.records" in loaded
    heavy = {"polars", "pyarrow", "duckdb", "dagster", "dask", "pipelines.lib.parsers.registry"}
    assert not heavy & loaded, sorted(heavy & loaded)
