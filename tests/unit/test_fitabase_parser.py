"""Fitabase daily files from the real 2016 export parse completely and keep every value."""

from __future__ import annotations

import csv

from pipelines.lib.parsers import ENTITIES_BY_NAME
from pipelines.lib.parsers.tabular import parse_spec_file as parse_file


def test_daily_activity_real_export_lands_whole(fitabase_2016):
    path = fitabase_2016 / "dailyActivity_merged.csv"
    rows, issues, read = parse_file(path, ENTITIES_BY_NAME["fitabase_daily_activity"])
    with path.open(newline="") as handle:
        expected = list(csv.DictReader(handle))
    assert issues == []
    assert read == rows.height == len(expected) == 940
    assert sum(int(v) for v in rows["TotalSteps"]) == sum(int(r["TotalSteps"]) for r in expected)
    assert (
        rows["TotalDistance"][0] == expected[0]["TotalDistance"]
    )  # full float precision kept as text


def test_sleep_day_real_export_keeps_its_duplicate_rows_for_staging(fitabase_2016):
    path = fitabase_2016 / "sleepDay_merged.csv"
    rows, issues, _ = parse_file(path, ENTITIES_BY_NAME["fitabase_sleep_day"])
    with path.open(newline="") as handle:
        lines = [tuple(r) for r in csv.reader(handle)][1:]
    assert issues == []
    assert rows.height == len(lines) == 413
    assert len(set(lines)) == 410, "the real export has three exact duplicates"
