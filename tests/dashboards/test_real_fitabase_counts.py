"""Counts that surprise on the real 2016 Fitabase export are explained where they are shown.

Why: Data health listed more rows landed than rows read for Fitabase with nothing saying
why (a wide minute file lands one row per minute; a daily line lands a day's steps and
its active minutes; zeros, duplicates and second-by-second heart rate land fewer), and
the Person page's "Tracker worn on … days" left out partly worn days, so its days did
not add up. The whole export (33 Fitbit Ids, every file type) is linked to a roster and
run through the real pipeline; expected numbers are read from the snapshot with DuckDB.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from page_harness import open_app, query

from dashboards import row_counts
from pipelines.runner import run_pipeline

pytestmark = pytest.mark.pipeline


@pytest.fixture(scope="module")
def fitabase_dir(fitabase_2016: Path, tmp_path_factory) -> Path:
    """The whole export under landing/fitabase/, every Fitbit Id of it on the roster."""
    data_dir = tmp_path_factory.mktemp("real_fitabase_counts")
    export = data_dir / "landing" / "fitabase" / fitabase_2016.name
    shutil.copytree(fitabase_2016, export)
    with (export / "dailyActivity_merged.csv").open(newline="") as handle:
        ids = sorted({row["Id"] for row in csv.DictReader(handle)})
    (data_dir / "landing" / "roster").mkdir(parents=True)
    (data_dir / "landing" / "roster" / "roster.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,program_weeks,timezone,fitbit_id\n"
        + "".join(
            f"P-{n:02d},fitabase-2016,C-{n % 3 + 1},2016-04-12,4,America/Chicago,{fitbit_id}\n"
            for n, fitbit_id in enumerate(ids, 1)
        )
    )
    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    return data_dir


def main_elements(at) -> list:
    """The main area's elements in page order (containers flattened)."""

    def flat(node):
        children = getattr(node, "children", None)
        if not children:
            return [node]
        return [leaf for key in sorted(children) for leaf in flat(children[key])]

    return flat(at.main)


def test_rows_landed_beyond_rows_read_are_explained_beside_the_table(fitabase_dir, monkeypatch):
    ((read, landed, quarantined),) = query(
        fitabase_dir,
        "select sum(rows_read), sum(rows_landed), sum(rows_quarantined) "
        "from meta.source_files where source = 'fitabase'",
    )
    assert landed > read  # what needs explaining: more rows land than the files hold

    at = open_app(fitabase_dir, monkeypatch, "analyst", "data-health")

    elements = main_elements(at)
    position, table = next(
        (i, e)
        for i, e in enumerate(elements)
        if e.type == "dataframe" and "rows_landed" in e.value.columns
    )
    fitabase = table.value[table.value["source"] == "fitabase"].iloc[0]
    assert (fitabase["rows_read"], fitabase["rows_landed"]) == (read, landed)
    note = elements[position + 1]
    assert note.type == "caption"
    assert f"**fitabase** {read:,} read → {landed:,} landed" in note.value
    assert row_counts.WHY_LANDED_DIFFERS in note.value
    assert "**roster**" not in note.value  # a source that lands what it reads is not listed

    helps = {name: column.get("help") for name, column in json.loads(table.proto.columns).items()}
    assert helps["rows_read"] == row_counts.READ
    assert helps["rows_landed"] == row_counts.LANDED
    assert row_counts.MEASUREMENT in row_counts.LANDED
    assert row_counts.MEASUREMENT in row_counts.WHY_LANDED_DIFFERS


def test_partly_worn_days_are_counted_so_the_tracker_days_add_up(fitabase_dir, monkeypatch):
    cutoff = query(fitabase_dir, "select as_of from meta.snapshot")[0][0]
    pid, partial, days = query(
        fitabase_dir,
        """
        select pid, count(*) filter (where wear_state = 'partial'),
               count(*) filter (where day_state <> 'unknown')
        from marts.participant_day where day <= ?
        group by pid order by 2 desc, pid limit 1
        """,
        [cutoff],
    )[0]
    assert partial > 0  # the real export has partly worn days (worn less than the valid-wear minutes)

    at = open_app(fitabase_dir, monkeypatch, "program_manager", "person", pid=pid)

    (caption,) = [c.value for c in at.caption if c.value.startswith("Tracker worn on")]
    counts = re.match(
        r"Tracker worn on \*\*(\d+) of (\d+) days\*\* so far \((\d+) not worn, (\d+) with no "
        r"tracker data, (\d+) worn less than",
        caption,
    )
    assert counts, caption
    worn, shown_days, not_worn, no_data, partly = map(int, counts.groups())
    assert (shown_days, partly) == (days, partial)
    assert worn + not_worn + no_data + partly == shown_days
