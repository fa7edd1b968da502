"""The real 2016 Fitabase export, linked to a roster, flows to participant_day unchanged.

Expected values come straight from the CSV files: steps and minutes asleep for
each linked day, non-wear days (no steps, no activity) as unknown — never 0 —
and the export's exact duplicate sleep rows counted once.
"""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from datetime import date, datetime

import duckdb
import pytest

from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.runner import run_pipeline

pytestmark = pytest.mark.pipeline

NON_WEAR_PERSON = "4020332650"  # 14 days with 0 steps and 1440 sedentary minutes
DUPLICATE_SLEEP_PERSON = "4388161847"  # 5/5/2016 appears twice in sleepDay


def _us_date(text: str) -> date:
    return datetime.strptime(text.split(" ")[0], "%m/%d/%Y").date()


@pytest.fixture(scope="module")
def fitabase_run(fitabase_2016, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("real_fitabase")
    landing = data_dir / "landing"
    (landing / "roster").mkdir(parents=True)
    export = landing / "fitabase" / fitabase_2016.name
    export.mkdir(parents=True)
    for name in ("dailyActivity_merged.csv", "sleepDay_merged.csv"):
        shutil.copy(fitabase_2016 / name, export / name)
    (landing / "roster" / "roster.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,program_weeks,timezone,fitbit_id\n"
        f"P-1,fitabase-2016,C-1,2016-04-12,4,America/Chicago,{NON_WEAR_PERSON}\n"
        f"P-2,fitabase-2016,C-1,2016-04-12,4,America/Chicago,{DUPLICATE_SLEEP_PERSON}\n"
    )
    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    return data_dir, export


def _days(data_dir, participant_id):
    pid = pseudonymize(participant_id, pseudonym_key())
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select day, steps, wear_state, sleep_minutes, sleep_efficiency from marts.participant_day "
            "where pid = ? order by day",
            [pid],
        ).fetchall()
    return {r[0]: r[1:] for r in rows}


def test_steps_match_the_export_and_non_wear_days_are_unknown(fitabase_run):
    data_dir, export = fitabase_run
    days = _days(data_dir, "P-1")
    assert len(days) == 28
    with (export / "dailyActivity_merged.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["Id"] == NON_WEAR_PERSON]
    non_wear = 0
    for row in rows:
        day = _us_date(row["ActivityDate"])
        if day not in days:
            continue
        steps, wear_state, *_ = days[day]
        active = sum(
            int(row[c])
            for c in ("VeryActiveMinutes", "FairlyActiveMinutes", "LightlyActiveMinutes")
        )
        if int(row["TotalSteps"]) == 0 and active == 0:
            non_wear += 1
            assert (steps, wear_state) == (None, "not_worn"), day
        else:
            assert (steps, wear_state) == (int(row["TotalSteps"]), "worn"), day
    assert non_wear >= 10


def test_minutes_asleep_match_the_export_and_duplicates_count_once(fitabase_run):
    data_dir, export = fitabase_run
    days = _days(data_dir, "P-2")
    nights = defaultdict(set)
    with (export / "sleepDay_merged.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Id"] == DUPLICATE_SLEEP_PERSON:
                nights[_us_date(row["SleepDay"])].add(
                    (int(row["TotalMinutesAsleep"]), int(row["TotalTimeInBed"]))
                )
    assert len(nights[date(2016, 5, 5)]) == 1
    checked = 0
    for day, values in nights.items():
        if day in days:
            ((asleep, in_bed),) = values
            assert days[day][2] == asleep
            assert days[day][3] == pytest.approx(asleep / in_bed, abs=1e-3)
            checked += 1
    assert checked >= 20


def test_unlinked_fitabase_ids_are_reported_not_loaded(fitabase_run):
    data_dir, export = fitabase_run
    expected = 0
    for name in ("dailyActivity_merged.csv", "sleepDay_merged.csv"):
        with (export / name).open(newline="") as handle:
            ids = {row["Id"] for row in csv.DictReader(handle)}
        expected += len(ids - {NON_WEAR_PERSON, DUPLICATE_SLEEP_PERSON})
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        unlinked = con.execute(
            "select count(*) from marts.ingest_issues where action = 'row not linked' and field = 'Id'"
        ).fetchone()[0]
        values = [
            v
            for (v,) in con.execute(
                "select value from marts.ingest_issues where field = 'Id'"
            ).fetchall()
        ]
    assert unlinked == expected, "one issue per file and unlinked Id"
    assert all(v.startswith("p_") for v in values), (
        "Fitabase Ids are identifiers: shown as pseudonyms"
    )
