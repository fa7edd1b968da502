"""`generate --minute-level`: Fitabase minute steps and heart rate that agree with the daily files
and with the wear the generator says it planted.

The files are read back with Polars, independently of the generator's code; the wear rule they
are checked against is the parsers' own (`pipelines.lib.parsers.wear`). The cohort (8 people ×
2 weeks, seed 11) plants every kind of gap: nights off, days at home, charging, late starts and
a device swap.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.demo_cohort import generate_cohort
from pipelines.lib.key_policy import landing_is_generated
from pipelines.lib.layout import DataDir
from pipelines.lib.parsers.fitabase import HEARTRATE_SECONDS, MINUTE_STEPS_NARROW
from pipelines.lib.parsers.spec import validate
from pipelines.lib.parsers.wear import NON_WEAR_MINUTES, worn_from_heart_rate, worn_from_steps
from pipelines.lib.rules import ProgramRules

N, WEEKS, SEED = 8, 2, 11
STEPS_FILE = "minuteStepsNarrow_merged.csv"
HEART_RATE_FILE = "heartrate_seconds_merged.csv"
FITABASE_TIME = "%m/%d/%Y %I:%M:%S %p"
US_TIME = r"^([1-9]|1[0-2])/([1-9]|[12]\d|3[01])/\d{4} ([1-9]|1[0-2]):[0-5]\d:[0-5]\d [AP]M$"
GAP_KINDS = {"night_off", "day_off", "charging", "late_start", "device_swap"}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("minute_level")
    generate_cohort(out, participants=N, weeks=WEEKS, seed=SEED, minute_level=True)
    return out


@pytest.fixture(scope="module")
def daily_only(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("daily_only")
    generate_cohort(out, participants=N, weeks=WEEKS, seed=SEED)
    return out


def fitabase(root: Path) -> Path:
    (folder,) = (root / "landing" / "fitabase").iterdir()
    return folder


def read_text(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def minute_steps(root: Path) -> pl.DataFrame:
    return read_text(fitabase(root) / STEPS_FILE).select(
        "Id",
        pl.col("ActivityMinute").str.to_datetime(FITABASE_TIME).alias("minute"),
        pl.col("Steps").cast(pl.Int64).alias("steps"),
    )


def heart_rate(root: Path) -> pl.DataFrame:
    return read_text(fitabase(root) / HEART_RATE_FILE).select(
        "Id",
        pl.col("Time").str.to_datetime(FITABASE_TIME).alias("time"),
        pl.col("Value").cast(pl.Int64).alias("bpm"),
    )


def wear_days(root: Path) -> pl.DataFrame:
    return read_text(root / "truth" / "wear_days.csv").with_columns(
        pl.col("day").str.to_date(),
        pl.col("steps", "worn_minutes").cast(pl.Int64),
    )


def wear_gaps(root: Path) -> pl.DataFrame:
    return read_text(root / "truth" / "wear_gaps.csv").with_columns(
        pl.col("start_local", "end_local").str.to_datetime("%Y-%m-%dT%H:%M"),
        pl.col("minutes").cast(pl.Int64),
    )


def worn_minutes_by_truth(root: Path) -> pl.DataFrame:
    """(Id, minute) of every minute the truth says was worn: its days, less its gaps."""
    days = wear_days(root)
    minutes = days.select(
        pl.col("fitbit_id").alias("Id"),
        pl.datetime_ranges(
            pl.col("day").cast(pl.Datetime("us")),
            pl.col("day").cast(pl.Datetime("us")) + pl.duration(minutes=1439),
            "1m",
        ).alias("minute"),
    ).explode("minute")
    gaps = wear_gaps(root).select(
        pl.col("fitbit_id").alias("Id"),
        pl.datetime_ranges("start_local", pl.col("end_local") - pl.duration(minutes=1), "1m").alias(
            "minute"
        ),
    )
    return minutes.join(gaps.explode("minute"), on=["Id", "minute"], how="anti")


def tree(root: Path) -> dict[str, tuple[str, int]]:
    return {
        p.relative_to(root).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest(),
            p.stat().st_mtime_ns,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_minute_files_are_written_as_fitabase_writes_them(cohort, fitabase_2016):
    real = (fitabase_2016 / HEART_RATE_FILE).read_bytes().split(b"\r\n")[0]
    for name, entity in ((STEPS_FILE, MINUTE_STEPS_NARROW), (HEART_RATE_FILE, HEARTRATE_SECONDS)):
        raw = (fitabase(cohort) / name).read_bytes()
        header = ",".join(entity.column_names).encode()
        assert raw.startswith(header + b"\r\n") and raw.endswith(b"\r\n")
        assert raw.count(b"\n") == raw.count(b"\r\n"), "CRLF line ends, as the 2016 export"
        rows = read_text(fitabase(cohort) / name).with_row_index("row_number", offset=2)
        time = entity.column_names[1]
        assert rows[time].str.contains(US_TIME).all(), rows.filter(
            ~pl.col(time).str.contains(US_TIME)
        )
        _, issues = validate(rows.with_columns(pl.col("row_number").cast(pl.Int64)), entity)
        assert issues == []
    assert real == b"Id,Time,Value", "the real heart-rate export has the header written here"


def test_every_minute_of_a_recorded_day_has_a_row_and_the_rows_are_in_order(cohort):
    steps = minute_steps(cohort)
    assert steps.equals(steps.sort("Id", "minute"))
    per_day = steps.group_by("Id", pl.col("minute").dt.date().alias("day")).agg(
        pl.len().alias("rows"), pl.col("minute").n_unique().alias("distinct")
    )
    assert (per_day["rows"] == 1440).all() and (per_day["distinct"] == 1440).all()
    hr = heart_rate(cohort)
    assert hr.equals(hr.sort("Id", "time"))
    assert hr["bpm"].is_between(38, 200).all()


def test_the_minute_steps_of_a_day_add_up_to_its_daily_activity_total(cohort):
    daily = read_text(fitabase(cohort) / "dailyActivity_merged.csv").select(
        "Id",
        pl.col("ActivityDate").str.to_date("%m/%d/%Y").alias("day"),
        pl.col("TotalSteps").cast(pl.Int64).alias("total"),
    )
    by_minute = (
        minute_steps(cohort)
        .group_by("Id", pl.col("minute").dt.date().alias("day"))
        .agg(pl.col("steps").sum())
    )
    both = daily.join(by_minute, on=["Id", "day"], how="left")
    recorded = both.filter(pl.col("steps").is_not_null())
    assert recorded.height > 0.9 * both.height
    assert (recorded["steps"] == recorded["total"]).all()
    # a day without minute rows is a day without a device (the swap), never a day with steps
    missing = both.filter(pl.col("steps").is_null())
    assert missing.height > 0 and (missing["total"] == 0).all()
    no_device = wear_days(cohort).filter(pl.col("device").is_null())
    assert set(missing.select("Id", "day").iter_rows()) == set(
        no_device.select("fitbit_id", "day").iter_rows()
    )


def test_heart_rate_is_sampled_in_every_worn_minute_and_no_other(cohort):
    sampled = heart_rate(cohort).select("Id", pl.col("time").dt.truncate("1m").alias("minute"))
    sampled = sampled.unique()
    truth = worn_minutes_by_truth(cohort)
    assert truth.height > 100_000
    assert sampled.join(truth, on=["Id", "minute"], how="anti").height == 0, "a sample off-body"
    assert truth.join(sampled, on=["Id", "minute"], how="anti").height == 0, (
        "a worn minute unsampled"
    )
    per_day = truth.group_by("Id", pl.col("minute").dt.date().alias("day")).len()
    days = wear_days(cohort).join(
        per_day, left_on=["fitbit_id", "day"], right_on=["Id", "day"], how="left"
    )
    assert (days["len"].fill_null(0) == days["worn_minutes"]).all(), "the two truth files agree"


def test_heart_rate_samples_come_every_5_to_15_seconds_while_worn(cohort):
    gaps = (
        heart_rate(cohort)
        .with_columns(pl.col("time").diff().over("Id").dt.total_seconds().alias("gap"))
        .filter(pl.col("gap") < 60)["gap"]
    )
    shares = gaps.value_counts(normalize=True).sort("gap")
    regular = shares.filter(pl.col("gap").is_in([5, 10, 15]))["proportion"].sum()
    assert regular > 0.99
    assert gaps.is_between(5, 55).all()


def test_the_wear_rule_finds_exactly_the_minutes_the_truth_says_were_worn(cohort):
    """Per quarter hour the more of heart-rate minutes and step-rule minutes (what staging
    counts) — summed per day, the truth's worn minutes, partial days included."""
    steps, hr = minute_steps(cohort), heart_rate(cohort)
    quarters = []
    for (fitbit_id,), person in steps.group_by("Id", maintain_order=True):
        moving = person.filter(pl.col("steps") > 0)
        edges = (person["minute"].min(), person["minute"].max())
        minutes = pl.concat([moving["minute"], pl.Series("minute", edges)])
        counts = pl.concat([moving["steps"], pl.Series("steps", [0, 0])])
        by_steps = worn_from_steps(minutes, counts)
        by_heart = worn_from_heart_rate(hr.filter(pl.col("Id") == fitbit_id)["time"])
        quarters.append(pl.concat([by_steps, by_heart]).with_columns(pl.lit(fitbit_id).alias("Id")))
    worn = (
        pl.concat(quarters)
        .group_by("Id", "start")
        .agg(pl.col("value").max())
        .group_by("Id", pl.col("start").dt.date().alias("day"))
        .agg(pl.col("value").sum().cast(pl.Int64).alias("found"))
    )
    days = wear_days(cohort).join(
        worn, left_on=["fitbit_id", "day"], right_on=["Id", "day"], how="left"
    )
    wrong = days.filter(pl.col("found").fill_null(0) != pl.col("worn_minutes"))
    assert wrong.is_empty(), wrong
    valid = days["worn_minutes"] >= ProgramRules().valid_wear_minutes
    assert (days["valid_wear"] == pl.Series(valid).cast(pl.String).str.to_lowercase()).all()
    partial = days.filter(
        (pl.col("valid_wear") == "false") & (pl.col("steps") > 0) & (pl.col("worn_minutes") > 0)
    )
    assert not partial.is_empty(), "a day with steps but too little wear is planted"


def test_every_kind_of_gap_is_planted_as_the_truth_describes(cohort):
    gaps = wear_gaps(cohort)
    assert set(gaps["kind"]) == GAP_KINDS
    assert (
        (gaps["end_local"] - gaps["start_local"])
        .dt.total_minutes()
        .equals(gaps["minutes"], check_names=False)
    )
    charging = gaps.filter(pl.col("kind") == "charging")
    assert charging["minutes"].is_between(60, 120).all()
    assert (charging["start_local"].dt.date() == charging["end_local"].dt.date()).all()
    assert gaps.filter(pl.col("kind") == "late_start")["minutes"].min() >= NON_WEAR_MINUTES
    swaps = gaps.filter(pl.col("kind") == "device_swap")
    assert (swaps["minutes"] >= 3 * 1440).all()
    # off the body is always inside a still stretch the step rule reads as not worn
    steps = minute_steps(cohort)
    for fitbit_id, start, end in charging.select("fitbit_id", "start_local", "end_local").rows():
        person = steps.filter(pl.col("Id") == fitbit_id)
        moved = person.filter(pl.col("steps") > 0)["minute"]
        # the recording's ends count as movement: the rule judges still minutes up to them
        one = timedelta(minutes=1)
        before = moved.filter(moved < start).max() or person["minute"].min() - one
        after = moved.filter(moved >= end).min() or person["minute"].max() + one
        still = (after - before).total_seconds() / 60 - 1
        assert still > NON_WEAR_MINUTES, (fitbit_id, start, still)


def test_a_swapped_device_samples_heart_rate_differently(cohort):
    days = wear_days(cohort).filter(pl.col("device").is_not_null())
    swapped = days.filter(pl.col("device") == "2")["fitbit_id"].unique()
    assert swapped.len() >= 1
    hr = heart_rate(cohort).join(
        days.select(pl.col("fitbit_id").alias("Id"), "day", "device"),
        left_on=["Id", pl.col("time").dt.date()],
        right_on=["Id", "day"],
    )
    five = (
        hr.filter(pl.col("Id").is_in(swapped.implode()))
        .with_columns(pl.col("time").diff().over("Id", "device").dt.total_seconds().alias("gap"))
        .group_by("device")
        .agg(
            (pl.col("gap") == 5).mean().alias("five"), (pl.col("gap") == 15).mean().alias("fifteen")
        )
        .sort("device")
    )
    (old_five, new_five), (old_fifteen, new_fifteen) = five["five"], five["fifteen"]
    assert new_five > old_five + 0.2 and new_fifteen < 0.01 < old_fifteen


def test_minute_level_leaves_every_daily_file_as_it_was(cohort, daily_only):
    """Same seed with and without --minute-level: the default files, byte for byte and mtime;
    the minute files and their truth are all that is added."""
    with_minutes, without = tree(cohort), tree(daily_only)
    folder = fitabase(cohort).relative_to(cohort).as_posix()
    added = {
        f"{folder}/{STEPS_FILE}",
        f"{folder}/{HEART_RATE_FILE}",
        "truth/wear_days.csv",
        "truth/wear_gaps.csv",
    }
    assert set(with_minutes) == set(without) | added
    changed = {name for name in without if with_minutes[name] != without[name]}
    assert changed == {"truth/landing.sha256"}
    manifest = (cohort / "truth" / "landing.sha256").read_text().splitlines()
    daily_manifest = (daily_only / "truth" / "landing.sha256").read_text().splitlines()
    assert set(daily_manifest) < set(manifest) and len(manifest) == len(daily_manifest) + 2
    assert landing_is_generated(DataDir.at(cohort)), "still demo data: the demo key is allowed"


def test_the_same_seed_writes_the_same_minutes(cohort, tmp_path):
    again = tmp_path / "again"
    generate_cohort(again, participants=N, weeks=WEEKS, seed=SEED, minute_level=True)
    assert tree(again) == tree(cohort)
    other = tmp_path / "other"
    generate_cohort(other, participants=N, weeks=WEEKS, seed=SEED + 1, minute_level=True)
    assert tree(other)["truth/wear_days.csv"] != tree(cohort)["truth/wear_days.csv"]


def test_the_wear_truth_has_a_row_per_recorded_day(cohort):
    """wear_days has one row per recorded day, from enrolment − 14 days, as dailyActivity."""
    days = wear_days(cohort)
    daily = read_text(fitabase(cohort) / "dailyActivity_merged.csv").select(
        "Id", pl.col("ActivityDate").str.to_date("%m/%d/%Y").alias("day")
    )
    assert set(days.select("fitbit_id", "day").iter_rows()) == set(daily.iter_rows())
    first = days.group_by("participant_id").agg(pl.col("day").min())
    people = read_text(cohort / "truth" / "participants.csv").select(
        "participant_id", pl.col("enrolled_on").str.to_date()
    )
    joined = first.join(people, on="participant_id")
    assert (joined["day"] == joined["enrolled_on"] - timedelta(days=14)).all()
