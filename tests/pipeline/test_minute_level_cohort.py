"""A minute-level cohort (`generate --minute-level`) through the whole pipeline, against the wear
and steps the generator planted (truth/wear_days.csv, truth/wear_gaps.csv).

The pipeline derives wear from the minute files alone — heart-rate samples and the step rule of
`parsers.wear` — so a published `wear_minutes` equal to the planted minutes on the body, a
`wear_state` that follows `valid_wear_minutes`, and quarter hours worn exactly where the gaps
say, show the parse, staging and marts agree with what happened minute by minute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from generated_data import truth


@pytest.fixture(scope="module")
def published(minute_cohort: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(minute_cohort / "published" / "current.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def wear_days(minute_cohort: Path, pid: Callable[[str], str]) -> dict[tuple[str, str], dict]:
    """(pid, day) → the planted day, for the people on the roster (not the test device)."""
    return {
        (pid(row["participant_id"]), row["day"]): row
        for row in truth(minute_cohort, "wear_days.csv")
        if row["participant_id"]
    }


def test_published_wear_minutes_and_states_equal_the_planted_wear(published, wear_days):
    rows = published.execute(
        "select pid, day::varchar, wear_minutes, wear_state, steps from marts.participant_day"
    ).fetchall()
    compared = {"worn": 0, "partial": 0, "not_worn": 0}
    for pid, day, wear_minutes, wear_state, steps in rows:
        planted = wear_days.get((pid, day))
        if planted is None:
            assert wear_state == "no_data", (pid, day)
            continue
        worn = int(planted["worn_minutes"])
        expected_state = (
            "worn" if planted["valid_wear"] == "true" else "partial" if worn else "not_worn"
        )
        assert (wear_minutes, wear_state) == (worn, expected_state), (pid, day, planted)
        # steps only on a valid wear day, and then the day's total
        assert steps == (int(planted["steps"]) if expected_state == "worn" else None)
        compared[expected_state] += 1
    assert compared["worn"] > 40 and compared["not_worn"] > 0
    assert compared["partial"] > 0, "a day with steps but under valid_wear_minutes is published"


def test_valid_wear_days_per_person_equal_the_truth(published, wear_days, minute_cohort, pid):
    people = {p["participant_id"]: p for p in truth(minute_cohort, "participants.csv")}
    expected: dict[str, int] = {}
    for (person, day), planted in wear_days.items():
        p = next(p for p in people.values() if pid(p["participant_id"]) == person)
        enrolled = date.fromisoformat(p["enrolled_on"])
        program = timedelta(weeks=int(p["program_weeks"]))
        in_program = enrolled <= date.fromisoformat(day) < enrolled + program
        if in_program:
            expected[person] = expected.get(person, 0) + (planted["valid_wear"] == "true")
    got = dict(
        published.execute(
            "select pid, count(*) filter (where wear_state = 'worn') from marts.participant_day "
            "where pid in (select unnest(?)) group by pid",
            [list(expected)],
        ).fetchall()
    )
    assert got == expected and len(expected) >= 5


def test_parsed_minute_steps_add_up_to_the_daily_totals(minute_cohort):
    (partition,) = (minute_cohort / "raw" / "fitabase_minute_steps").glob(
        "parser=*/file_sha256=*/wearable_intervals.parquet"
    )
    parsed = (
        pl.read_parquet(partition)
        .filter(pl.col("metric") == "steps")
        .group_by("fitbit_id", pl.col("start_local").dt.date().alias("day"))
        .agg(pl.col("value").sum().cast(pl.Int64).alias("parsed"))
    )
    planted = pl.DataFrame(truth(minute_cohort, "wear_days.csv")).select(
        "fitbit_id", pl.col("day").str.to_date(), pl.col("steps").cast(pl.Int64)
    )
    both = planted.join(parsed, on=["fitbit_id", "day"], how="left")
    assert (both["parsed"].fill_null(0) == both["steps"]).all()
    assert both["steps"].sum() > 100_000


def _planted_quarters(minute_cohort: Path, pid: Callable[[str], str]) -> pl.DataFrame:
    """(pid, quarter start, worn minutes) from the truth: every recorded minute less the gaps."""
    days = pl.DataFrame(truth(minute_cohort, "wear_days.csv")).filter(
        pl.col("participant_id") != ""
    )
    minutes = days.select(
        "participant_id",
        pl.datetime_ranges(
            pl.col("day").str.to_datetime("%Y-%m-%d"),
            pl.col("day").str.to_datetime("%Y-%m-%d") + pl.duration(minutes=1439),
            "1m",
        ).alias("minute"),
    ).explode("minute")
    gaps = pl.DataFrame(truth(minute_cohort, "wear_gaps.csv")).select(
        "participant_id",
        "kind",
        pl.datetime_ranges(
            pl.col("start_local").str.to_datetime("%Y-%m-%dT%H:%M"),
            pl.col("end_local").str.to_datetime("%Y-%m-%dT%H:%M") - pl.duration(minutes=1),
            "1m",
        ).alias("minute"),
    )
    worn = minutes.join(gaps.explode("minute"), on=["participant_id", "minute"], how="anti")
    return (
        worn.group_by("participant_id", pl.col("minute").dt.truncate("15m").alias("start"))
        .len()
        .select(
            pl.col("participant_id").map_elements(pid, return_dtype=pl.String).alias("pid"),
            "start",
            pl.col("len").cast(pl.Float64).alias("planted"),
        )
    )


def test_quarter_hours_are_worn_exactly_where_the_planted_gaps_leave_the_tracker_on(
    minute_cohort, pid
):
    """Charging, nights off, days at home, late starts and the swap: a quarter hour inside one
    has no wear in the warehouse, one beside it only its worn minutes."""
    with duckdb.connect(str(minute_cohort / "warehouse.duckdb"), read_only=True) as con:
        found = (
            con.sql(
                "select pid, start_key, max(value) as found from staging.wearable__intervals "
                "where metric = 'worn_min' and duration_s = 900 group by all"
            )
            .pl()
            .with_columns(pl.col("start_key").str.to_datetime("%Y-%m-%d %H:%M:%S").alias("start"))
        )
    planted = _planted_quarters(minute_cohort, pid)
    both = planted.join(found.drop("start_key"), on=["pid", "start"], how="full", coalesce=True)
    wrong = both.filter(pl.col("planted").fill_null(0) != pl.col("found").fill_null(0))
    assert wrong.is_empty(), wrong
    gaps = [g for g in truth(minute_cohort, "wear_gaps.csv") if g["participant_id"]]
    kinds = {g["kind"] for g in gaps}
    assert kinds == {"night_off", "day_off", "charging", "late_start", "device_swap"}
    seen = set(found.select("pid", "start").iter_rows())
    for gap in gaps:
        if gap["kind"] != "charging":
            continue
        start = datetime.fromisoformat(gap["start_local"])
        inside = start + timedelta(minutes=-start.minute % 15)
        if inside + timedelta(minutes=15) <= datetime.fromisoformat(gap["end_local"]):
            assert (pid(gap["participant_id"]), inside) not in seen, gap
