"""Garmin FIT parser: real sample files (expectations read from the files with the SDK or
the records CSV oracles, not through the parser) and small FIT files written with the SDK's Encoder."""

from __future__ import annotations

import csv
import pickle
import struct
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from garmin_fit_sdk import CrcCalculator, Decoder, Encoder, Profile, Stream

from pipelines.lib.parsers.garmin import SOURCE, parse
from pipelines.lib.parsers.garmin.activity import kind
from pipelines.lib.parsers.source import LandingFile
from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES
from pipelines.lib.raw_store import parse_landing_file

FIT_EPOCH = datetime(1989, 12, 31, tzinfo=UTC)
MESG = Profile["mesg_num"]


def _parse(path: Path, person: str | None = "P-001"):
    relative = f"garmin/{person}/{path.name}" if person else f"garmin/{path.name}"
    return parse_landing_file(SOURCE, LandingFile(path, relative, person))


def _decode(path: Path) -> list[tuple[int, dict]]:
    """All messages in file order, times as FIT seconds."""
    seq: list[tuple[int, dict]] = []
    _, errors = Decoder(Stream.from_byte_array(bytearray(path.read_bytes()))).read(
        convert_datetimes_to_dates=False,
        merge_heart_rates=False,
        mesg_listener=lambda n, m: seq.append((n, m)),
    )
    assert not errors
    return seq


def _fit_time(seconds: int) -> datetime:
    return FIT_EPOCH + timedelta(seconds=seconds)


def _write_fit(path: Path, messages: list[dict]) -> Path:
    encoder = Encoder()
    for message in messages:
        encoder.write_mesg(message)
    path.write_bytes(encoder.close())
    return path


def _fit_s(t: datetime) -> int:
    return int((t - FIT_EPOCH).total_seconds())


# --- activity files -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def garmin_dir(real_data: Path) -> Path:
    return real_data / "garmin_fit"


def test_sdk_example_activity_is_one_workout(garmin_dir):
    path = garmin_dir / "Activity.fit"
    seq = _decode(path)
    session = next(m for n, m in seq if n == MESG["SESSION"])
    activity = next(m for n, m in seq if n == MESG["ACTIVITY"])

    parsed = _parse(path)
    assert not parsed.issues
    workouts = parsed.tables["wearable_workouts"]
    assert workouts.height == 1
    row = workouts.row(0, named=True)
    assert row["start_utc"] == _fit_time(session["start_time"])
    assert row["duration_s"] == round(session["total_timer_time"])  # 13.749 s
    assert row["distance_m"] == pytest.approx(session["total_distance"])
    assert (
        row["utc_offset_min"] == (activity["local_timestamp"] - activity["timestamp"]) // 60 == -240
    )
    assert (row["activity"], row["kind"]) == ("running/generic", "other")
    assert (row["participant_id"], row["source"], row["device"]) == ("P-001", "garmin", "hrm1")
    # its records carry no heart rate: no wear evidence
    assert parsed.tables["wearable_intervals"].height == 0


def _oracle_records(csv_path: Path) -> list[tuple[datetime, int | None, float]]:
    """The python-fitparse records oracle: local times like 'Sun Jun 11 07:34:09 PDT 2017'."""
    zones = {"PDT": -7, "PST": -8}
    records = []
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            weekday, month, day, clock, zone, year = row["timestamp"].split()
            local = datetime.strptime(f"{year} {month} {day} {clock}", "%Y %b %d %H:%M:%S")
            at = (local - timedelta(hours=zones[zone])).replace(tzinfo=UTC)
            hr = int(row["heart_rate"]) if row["heart_rate"] else None
            records.append((at, hr, float(row["distance"])))
    return records


@pytest.mark.parametrize("name", ["garmin-fenix-5-run", "garmin-fenix-5-bike"])
def test_fenix5_workout_matches_records_oracle(garmin_dir, name):
    records = _oracle_records(garmin_dir / f"{name}-records.csv")
    parsed = _parse(garmin_dir / f"{name}.fit")
    assert not parsed.issues
    row = parsed.tables["wearable_workouts"].row(0, named=True)

    first, last = records[0][0], records[-1][0]
    assert row["start_utc"] == first
    # timer time (56.9 s / 60.4 s) against the records' span (57 s / 61 s): within the 1 s sampling
    assert abs(row["duration_s"] - (last - first).total_seconds()) <= 1
    assert row["distance_m"] == pytest.approx(records[-1][2])
    assert row["utc_offset_min"] == -7 * 60  # the oracle's PDT
    assert row["device"] == "fenix5"
    assert row["kind"] == "other"

    minutes: dict[datetime, set[datetime]] = defaultdict(set)
    for at, hr, _ in records:
        if hr:
            minute = at.replace(second=0)
            minutes[minute.replace(minute=minute.minute // 15 * 15)].add(minute)
    worn = parsed.tables["wearable_intervals"]
    assert set(worn["metric"]) == {"worn_min"}
    assert set(worn["duration_s"]) == {900}
    assert dict(zip(worn["start_utc"], worn["value"], strict=True)) == {
        q: len(m) for q, m in minutes.items()
    }


def test_fenix5_run_steps_are_twice_the_strides(garmin_dir):
    seq = _decode(garmin_dir / "garmin-fenix-5-run.fit")
    session = next(m for n, m in seq if n == MESG["SESSION"])
    row = (
        _parse(garmin_dir / "garmin-fenix-5-run.fit").tables["wearable_workouts"].row(0, named=True)
    )
    assert row["steps"] == 2 * session["total_strides"] == 156


def test_fenix2_run_session_and_heart_rate_wear(garmin_dir):
    path = garmin_dir / "activity-small-fenix2-run.fit"
    seq = _decode(path)
    session = next(m for n, m in seq if n == MESG["SESSION"])
    beats = [m["timestamp"] // 60 for n, m in seq if n == MESG["RECORD"] and m.get("heart_rate")]

    parsed = _parse(path)
    row = parsed.tables["wearable_workouts"].row(0, named=True)
    assert row["start_utc"] == datetime(2015, 8, 15, 14, 45, 8, tzinfo=UTC)
    assert row["duration_s"] == round(session["total_timer_time"]) == 2832
    assert row["distance_m"] == pytest.approx(9008.22)
    assert row["utc_offset_min"] == 120
    # no sub_sport in this session: the FIT default "generic"
    assert row["activity"] == "running/generic"
    worn = parsed.tables["wearable_intervals"]
    assert worn["value"].sum() == len(set(beats))
    assert worn["value"].max() <= 15


@pytest.mark.parametrize("name", ["Settings.fit", "WeightScaleMultiUser.fit"])
def test_files_without_program_data_load_empty_and_quietly(garmin_dir, name):
    parsed = _parse(garmin_dir / name)
    assert parsed.issues == []
    assert parsed.rows_read > 0
    assert all(frame.height == 0 for frame in parsed.tables.values())


@pytest.mark.parametrize(
    ("sport", "sub_sport", "expected"),
    [
        ("training", "yoga", "stretch"),
        ("training", "flexibility_training", "stretch"),
        ("training", "breathing", "breathing"),
        ("training", "strength_training", "stability"),
        ("training", "pilates", "stability"),
        ("training", "cardio_training", "other"),
        ("walking", "generic", "walk"),
        ("walking", "casual_walking", "walk"),
        ("hiking", "generic", "walk"),
        ("fitness_equipment", "indoor_walking", "walk"),
        ("meditation", "generic", "breathing"),
        ("mobility", "generic", "stretch"),
        ("running", "treadmill", "other"),
        ("cycling", "generic", "other"),
        (254, 200, "other"),  # values the profile does not know come back as numbers
    ],
)
def test_workout_kinds(sport, sub_sport, expected):
    assert kind(sport, sub_sport) == expected


def test_synthetic_yoga_session_is_stretch(tmp_path):
    start = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
    path = _write_fit(
        tmp_path / "yoga.FIT",
        [
            {"mesg_num": MESG["FILE_ID"], "type": "activity", "manufacturer": "garmin",
             "product": 2697, "serial_number": 42, "time_created": start},
            {"mesg_num": MESG["SESSION"], "timestamp": start + timedelta(minutes=25),
             "start_time": start, "total_timer_time": 1200.0, "total_elapsed_time": 1500.0,
             "sport": "training", "sub_sport": "yoga"},
            {"mesg_num": MESG["ACTIVITY"], "timestamp": start + timedelta(minutes=25),
             "local_timestamp": _fit_s(start + timedelta(minutes=25)) + 2 * 3600},
        ],
    )  # fmt: skip
    parsed = _parse(path)
    row = parsed.tables["wearable_workouts"].row(0, named=True)
    assert (row["activity"], row["kind"]) == ("training/yoga", "stretch")
    assert row["duration_s"] == 1200  # timer time: pauses excluded
    assert row["utc_offset_min"] == 120
    assert row["distance_m"] is None and row["steps"] is None
    # the id is stable for the same file and start
    assert _parse(path).tables["wearable_workouts"]["workout_id"][0] == row["workout_id"]


def test_session_without_start_time_is_quarantined(tmp_path):
    end = datetime(2024, 5, 6, 12, 30, tzinfo=UTC)
    path = _write_fit(
        tmp_path / "broken.fit",
        [
            {"mesg_num": MESG["FILE_ID"], "type": "activity", "manufacturer": "garmin", "time_created": end},
            {"mesg_num": MESG["SESSION"], "timestamp": end, "total_timer_time": 60.0, "sport": "walking"},
        ],
    )  # fmt: skip
    parsed = _parse(path)
    assert parsed.tables["wearable_workouts"].height == 0
    (issue,) = parsed.issues
    assert (issue.line, issue.field, issue.action) == (2, "start_time", "row quarantined")


# --- monitoring files ---------------------------------------------------------------------


def test_vivofit_monitoring_steps_per_day(garmin_dir):
    path = garmin_dir / "MonitoringFile.fit"
    seq = _decode(path)

    # Rebuild times independently: timestamp_16 counts on from the last full monitoring time.
    info = next(m for n, m in seq if n == MESG["MONITORING_INFO"])
    offset = info["local_timestamp"] - info["timestamp"]
    assert offset == -6 * 3600  # CST: the file opens at local midnight, 06:00 UTC
    last_full, rebuilt, checks = None, [], []
    for n, m in seq:
        if n in (MESG["MONITORING"], MESG["MONITORING_INFO"]):
            if "timestamp" in m:
                last_full = m["timestamp"]
                t = last_full
            else:
                t = last_full + ((m["timestamp_16"] - last_full % 65536) % 65536)
                last_full = t
                rebuilt.append(t)
            if n == MESG["MONITORING"]:
                checks.append((t, m))
        elif n == MESG["EVENT"]:  # event markers carry full times between the monitoring messages
            checks.append((m["timestamp"], None))
    assert all(a < b for a, b in zip(rebuilt, rebuilt[1:], strict=False))
    assert all(a[0] <= b[0] for a, b in zip(checks, checks[1:], strict=False))
    assert _fit_time(rebuilt[0]) == datetime(2014, 12, 27, 13, 43, tzinfo=UTC)

    # Steps per device day = the highest cumulative count of each stepping activity that day
    # (a sample at midnight closes the old day); cycles are half-steps.
    best: dict[tuple[date, str], float] = defaultdict(float)
    for t, m in checks:
        if m and m.get("activity_type") in ("walking", "running") and "cycles" in m:
            day = (_fit_time(t + offset - 1)).date()
            best[day, m["activity_type"]] = max(best[day, m["activity_type"]], m["cycles"] * 2)
    expected = defaultdict(float)
    for (day, _), steps in best.items():
        expected[day] += steps
    # the vendor's own daily summaries (duration_min 1440) say the same: 3142 walking + 31 running
    summaries = [m for _, m in checks if m and m.get("duration_min") == 1440]
    assert sum(m["steps"] for m in summaries) == expected[date(2014, 12, 27)] == 3173

    parsed = _parse(path)
    assert parsed.issues == []
    assert parsed.rows_read == len(seq)
    intervals = parsed.tables["wearable_intervals"]
    steps = intervals.filter(pl.col("metric") == "steps")
    per_day = dict(steps.group_by("local_day").agg(pl.col("value").sum()).iter_rows())
    assert per_day == dict(expected)
    day_start = datetime(2014, 12, 27, 6, tzinfo=UTC)
    ends = steps.select(pl.col("start_utc") + pl.duration(seconds=pl.col("duration_s")))
    assert steps["start_utc"].min() == day_start
    assert ends.to_series().max() <= day_start + timedelta(days=1)
    assert set(steps["utc_offset_min"]) == {-360}
    assert set(steps["device"]) == {"vivo_fit"}


def test_vivofit_without_heart_rate_gives_no_wear_evidence(garmin_dir):
    """A rising step counter says someone moved, not for how long the band was on (docs/sources.md)."""
    seq = _decode(garmin_dir / "MonitoringFile.fit")
    assert not any(m.get("heart_rate") for n, m in seq if n == MESG["MONITORING"])
    intervals = _parse(garmin_dir / "MonitoringFile.fit").tables["wearable_intervals"]
    assert intervals.filter(pl.col("metric") == "worn_min").is_empty()
    assert intervals.filter(pl.col("metric") == "steps").height > 0


def _monitoring_file(
    path: Path, samples: list[dict], *, start: datetime | None, offset_h: int
) -> Path:
    """A monitoring_b file: monitoring_info at `start` (if given), then samples with timestamp_16
    unless they bring a full `timestamp`."""
    messages = [
        {"mesg_num": MESG["FILE_ID"], "type": "monitoring_b", "manufacturer": "garmin",
         "product": 2697, "serial_number": 7, "time_created": start or samples[0]["at"]},
    ]  # fmt: skip
    if start is not None:
        messages.append(
            {"mesg_num": MESG["MONITORING_INFO"], "timestamp": start,
             "local_timestamp": _fit_s(start) + offset_h * 3600}
        )  # fmt: skip
    for sample in samples:
        message = {k: v for k, v in sample.items() if k not in ("at", "full")}
        message["mesg_num"] = message.get("mesg_num", MESG["MONITORING"])
        if sample.get("full"):
            message["timestamp"] = sample["at"]
        else:
            message["timestamp_16"] = _fit_s(sample["at"]) & 0xFFFF
        messages.append(message)
    return _write_fit(path, messages)


def test_daily_counter_reset_counts_from_local_midnight(tmp_path):
    # UTC-5; the device's day 1 starts 2024-03-04 05:00 UTC, day 2 at 2024-03-05 05:00 UTC.
    day1 = datetime(2024, 3, 4, 5, 0, tzinfo=UTC)
    walk, run = "walking", "running"
    samples = [
        {"at": day1 + timedelta(hours=8), "activity_type": walk, "cycles": 50.0, "heart_rate": 61},
        {"at": day1 + timedelta(hours=10), "activity_type": walk, "cycles": 150.0},
        {"at": day1 + timedelta(hours=11), "activity_type": run, "cycles": 10.0},
        {"at": day1 + timedelta(hours=17), "activity_type": walk, "cycles": 250.0},
        # the day's summary, stamped at the next midnight, repeats the totals
        {"at": day1 + timedelta(days=1), "full": True, "activity_type": walk, "cycles": 250.0, "duration_min": 1440},
        {"at": day1 + timedelta(days=1), "full": True, "activity_type": run, "cycles": 10.0, "duration_min": 1440},
        # day 2: walking starts above yesterday's total, so only the midnight says it was reset
        {"at": day1 + timedelta(days=1, hours=9), "activity_type": walk, "cycles": 400.0},
        {"at": day1 + timedelta(days=1, hours=11), "activity_type": walk, "cycles": 450.0},
        {"at": day1 + timedelta(days=1, hours=12), "activity_type": run, "cycles": 5.0},
        {"at": day1 + timedelta(days=1, hours=12, minutes=1), "activity_type": "sedentary", "heart_rate": 70},
        {"mesg_num": MESG["MONITORING_HR_DATA"], "at": day1 + timedelta(days=1, hours=13), "full": True,
         "resting_heart_rate": 58, "current_day_resting_heart_rate": 55},
    ]  # fmt: skip
    parsed = _parse(_monitoring_file(tmp_path / "m.fit", samples, start=day1, offset_h=-5))
    assert parsed.issues == []
    intervals = parsed.tables["wearable_intervals"]
    steps = intervals.filter(pl.col("metric") == "steps").sort("start_utc")
    per_day = dict(steps.group_by("local_day").agg(pl.col("value").sum()).iter_rows())
    assert per_day == {date(2024, 3, 4): 500 + 20, date(2024, 3, 5): 900 + 10}
    day2_walk = steps.filter(pl.col("start_utc") == day1 + timedelta(days=1)).sort("value")
    assert day2_walk["value"].to_list() == [10.0, 800.0]  # both counted from the local midnight
    assert set(steps["utc_offset_min"]) == {-300}

    worn = intervals.filter(pl.col("metric") == "worn_min")
    # minutes with a heart rate (08:00 on day 1, 12:01 on day 2); step counters are no wear evidence
    assert worn["value"].sum() == 2

    vitals = parsed.tables["wearable_vitals"]
    assert vitals.select("metric", "value", "start_utc").rows() == [
        ("resting_hr", 55.0, day1 + timedelta(days=1, hours=13))
    ]


def test_file_starting_mid_day_only_sets_a_baseline(tmp_path):
    # No monitoring_info: no offset, no local day; a drop in a counter is a reset.
    t0 = datetime(2024, 3, 4, 19, 0, tzinfo=UTC)
    samples = [
        {"at": t0, "full": True, "activity_type": "walking", "cycles": 1000.0},
        {"at": t0 + timedelta(hours=1), "activity_type": "walking", "cycles": 1100.0},
        {"at": t0 + timedelta(hours=10), "activity_type": "walking", "cycles": 30.0},
    ]
    parsed = _parse(_monitoring_file(tmp_path / "m.fit", samples, start=None, offset_h=0))
    steps = (
        parsed.tables["wearable_intervals"].filter(pl.col("metric") == "steps").sort("start_utc")
    )
    assert steps["value"].to_list() == [200.0, 60.0]
    assert steps["local_day"].null_count() == 2 and steps["utc_offset_min"].null_count() == 2
    (warning,) = parsed.issues
    assert warning.severity == "warning" and "mid-day" in warning.reason


def test_timestamp_16_without_a_full_time_is_quarantined(tmp_path):
    path = _write_fit(
        tmp_path / "m.fit",
        [
            {"mesg_num": MESG["FILE_ID"], "type": "monitoring_b", "manufacturer": "garmin"},
            {"mesg_num": MESG["MONITORING"], "timestamp_16": 1234, "activity_type": "walking", "cycles": 5.0},
        ],
    )  # fmt: skip
    parsed = _parse(path)
    (issue,) = parsed.issues
    assert (issue.line, issue.field, issue.value, issue.action) == (
        2,
        "timestamp_16",
        "1234",
        "row quarantined",
    )
    assert parsed.tables["wearable_intervals"].height == 0


# --- files we cannot use --------------------------------------------------------------------


def _file_issue(parsed) -> str:
    (issue,) = parsed.issues
    assert issue.action == "file quarantined"
    assert parsed.tables == {}
    return issue.reason


def test_corrupt_and_truncated_files_are_quarantined(tmp_path, garmin_dir):
    raw = (garmin_dir / "garmin-fenix-5-run.fit").read_bytes()
    (tmp_path / "cut.fit").write_bytes(raw[:100])
    assert "cut short" in _file_issue(_parse(tmp_path / "cut.fit"))

    flipped = bytearray(raw)
    flipped[-1] ^= 0xFF
    (tmp_path / "crc.fit").write_bytes(bytes(flipped))
    assert "checksum" in _file_issue(_parse(tmp_path / "crc.fit"))

    (tmp_path / "notes.fit").write_text("lap 1: 5:02\n")
    assert "not a FIT file" in _file_issue(_parse(tmp_path / "notes.fit"))

    (tmp_path / "empty.fit").write_bytes(b"")
    assert "empty" in _file_issue(_parse(tmp_path / "empty.fit"))


def test_compressed_timestamp_records_are_quarantined(tmp_path):
    # file_id defined as local message 0 with one enum field (type), then one data record
    # with a compressed-timestamp header (bit 7 set, 5-bit time offset): type = activity.
    records = bytes([0x40, 0, 0, 0, 0, 1, 0, 1, 0x00]) + bytes([0x80 | 5, 4])
    header = struct.pack("<BBHI4s", 12, 0x20, 2100, len(records), b".FIT")
    body = header + records
    (tmp_path / "old.fit").write_bytes(
        body + struct.pack("<H", CrcCalculator.calculate_crc(body, 0, len(body)))
    )
    assert "compressed-timestamp" in _file_issue(_parse(tmp_path / "old.fit"))


def test_trailing_bytes_are_ignored_with_a_warning(tmp_path, garmin_dir):
    raw = (garmin_dir / "garmin-fenix-5-run.fit").read_bytes()
    (tmp_path / "padded.fit").write_bytes(raw + b"\x00" * 16)
    parsed = _parse(tmp_path / "padded.fit")
    assert [i.severity for i in parsed.issues] == ["warning"]
    assert parsed.tables["wearable_workouts"].height == 1


def test_file_outside_a_person_folder_is_quarantined(garmin_dir):
    assert "landing/garmin/<participant_id>/" in _file_issue(
        _parse(garmin_dir / "Activity.fit", None)
    )


def test_source_shape():
    assert SOURCE.per_person and SOURCE.folder == SOURCE.name == "garmin"
    assert set(SOURCE.patterns) == {"garmin/**/*.fit", "garmin/**/*.FIT"}
    assert pickle.loads(pickle.dumps(SOURCE.parse)) is parse
    for table, schema in SOURCE.outputs.items():
        assert schema == WEARABLE_TABLES[table]


def test_every_table_is_written_in_canonical_form(garmin_dir):
    parsed = _parse(garmin_dir / "Settings.fit")
    assert set(parsed.tables) == set(SOURCE.outputs)
    for table, frame in parsed.tables.items():
        assert frame.schema == pl.Schema(WEARABLE_TABLES[table])
