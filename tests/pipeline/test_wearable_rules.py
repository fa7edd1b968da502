"""The cross-source rules of docs/sources.md, on hand-made canonical rows.

Parsers are tested against real vendor files elsewhere; here the question is
what staging makes of their output: which export wins a day, which granularity
counts, which device is believed, when a day is a valid wear day, which sleep
is the night's main sleep, and when a watch workout and an app session are the
same practice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest

from pipelines.lib.parsers.wearable_tables import WEARABLE_TABLES, conform
from pipelines.lib.pseudonym import pseudonymize
from pipelines.lib.rules import AppliedRules, ProgramRules, record_rules
from pipelines.lib.sql_catalog import load_sql_tables
from pipelines.lib.warehouse import build_table, create_raw_tables, prepare, set_run_parameters

KEY = b"rules-test-key"
ROSTER = [
    # participant_id, timezone, fitbit_id
    ("P-1", "America/Chicago", "111"),
    ("P-2", "Europe/London", None),
]


def pid(participant_id: str) -> str:
    return pseudonymize(participant_id, KEY)


class Warehouse:
    """An in-memory warehouse: raw rows in, every SQL model built."""

    def __init__(self, rules: ProgramRules | None = None) -> None:
        self.rules = AppliedRules(rules or ProgramRules())
        self.con = duckdb.connect()
        prepare(self.con, KEY)
        self.files: list[dict] = []
        self.rows: dict[str, list[pl.DataFrame]] = {t: [] for t in WEARABLE_TABLES}

    def add(
        self, table: str, entity: str, exported: str, rows: list[dict], name: str | None = None
    ) -> None:
        sha = f"{entity}-{exported}-{len(self.files)}"
        frame = conform(
            table,
            pl.DataFrame(
                rows,
                schema_overrides={
                    k: v for k, v in WEARABLE_TABLES[table].items() if any(k in r for r in rows)
                },
            ),
        )
        # undated names, as a cumulative export has (export.zip): the newest covering a day wins
        path = f"{entity}/{name or f'export-{len(self.files)}.dat'}"
        self.rows[table].append(
            frame.with_columns(
                pl.lit(1, pl.Int64).alias("row_number"),
                pl.lit(path).alias("source_file"),
                pl.lit(sha).alias("file_sha256"),
                pl.lit(datetime(2026, 1, 1, tzinfo=UTC)).alias("ingested_at"),
            )
        )
        self.files.append(
            {
                "entity": entity,
                "source": entity,
                "file": path,
                "file_sha256": sha,
                "partition_key": sha,
                "size_bytes": 1,
                "modified_at": datetime.fromisoformat(exported).replace(tzinfo=UTC),
                "rows_read": 1,
                "rows_landed": 1,
                "rows_quarantined": 0,
                "status": "loaded",
            }
        )

    def build(self) -> duckdb.DuckDBPyConnection:
        con = self.con
        create_raw_tables(con)  # every raw table, empty; raw.sources says which are cumulative
        if self.files:
            con.register("files", pl.DataFrame(self.files).to_arrow())
            con.execute("insert into raw.files by name select * from files")
            con.unregister("files")
        for table, frames in self.rows.items():
            for frame in frames:
                con.register("frame", frame.to_arrow())
                con.execute(
                    f"insert into raw.{table} by name select *, "
                    "(select max(modified_at) from raw.files f where f.file_sha256 = frame.file_sha256) as exported_at "
                    "from frame"
                )
                con.unregister("frame")
        con.executemany(
            "insert into raw.roster (participant_id, cohort, coach_id, enrolled_on, program_weeks, timezone, fitbit_id) "
            "values (?, 'A', 'C-1', '2026-03-02', '1', ?, ?)",
            ROSTER,
        )
        con.execute(
            "update raw.roster set source_file = 'roster.csv', row_number = 1, exported_at = now()"
        )
        set_run_parameters(con, date(2026, 3, 8), "test-run")
        record_rules(con, self.rules)
        for model in load_sql_tables():
            build_table(con, model)
        return con


def steps(day, value, duration=86400, **extra):
    return {
        "start_local": datetime.fromisoformat(day),
        "local_day": date.fromisoformat(day[:10]) if duration == 86400 else None,
        "duration_s": duration,
        "metric": "steps",
        "value": float(value),
        **extra,
    }


@pytest.fixture
def warehouse() -> Warehouse:
    return Warehouse()


def day_row(con, participant: str, day: str, columns: str):
    return con.execute(
        f"select {columns} from marts.participant_day where pid = ? and day = ?",
        [pid(participant), day],
    ).fetchone()


def test_newest_export_replaces_older_ones_day_by_day(warehouse):
    person = {"participant_id": "P-2", "source": "apple_health", "device": "Apple Watch"}
    older = [steps("2026-03-02", 5000, **person), steps("2026-03-03", 6000, **person)]
    newer = [steps("2026-03-03", 6500, **person), steps("2026-03-04", 7000, **person)]
    warehouse.add("wearable_intervals", "apple_health", "2026-03-05", older)
    warehouse.add("wearable_intervals", "apple_health", "2026-03-06", newer)
    con = warehouse.build()
    got = [day_row(con, "P-2", d, "steps")[0] for d in ("2026-03-02", "2026-03-03", "2026-03-04")]
    assert got == [5000, 6500, 7000], "a corrected re-export wins its days; older days survive"


def test_vendor_daily_total_beats_summing_finer_files_which_fill_in_when_it_is_missing(warehouse):
    fitabase = {"fitbit_id": "111", "source": "fitabase", "device": "Fitbit"}
    warehouse.add(
        "wearable_intervals",
        "fitabase_daily_activity",
        "2026-03-05",
        [steps("2026-03-02", 8000, **fitabase)],
    )
    hourly = [
        steps(f"2026-03-0{d}T{h:02d}:00:00", 400, 3600, **fitabase)
        for d in (2, 3)
        for h in range(8, 20)
    ]
    warehouse.add("wearable_intervals", "fitabase_hourly_steps", "2026-03-05", hourly)
    con = warehouse.build()
    assert day_row(con, "P-1", "2026-03-02", "steps, steps_source") == (8000, "fitabase")
    assert day_row(con, "P-1", "2026-03-03", "steps")[0] == 12 * 400


def test_device_worn_longest_wins_and_partial_days_have_no_steps(warehouse):
    watch = {"participant_id": "P-2", "source": "apple_health", "device": "Apple Watch"}
    garmin = {"participant_id": "P-2", "source": "garmin", "device": "vivofit"}

    def worn(day, minutes, **who):
        return {**steps(day, 0, **who), "metric": "worn_min", "value": float(minutes)}

    warehouse.add(
        "wearable_intervals",
        "apple_health",
        "2026-03-05",
        [
            steps("2026-03-02", 9000, **watch),
            worn("2026-03-02", 800, **watch),
            steps("2026-03-03", 3000, **watch),
            worn("2026-03-03", 200, **watch),
        ],
    )
    warehouse.add(
        "wearable_intervals",
        "garmin",
        "2026-03-05",
        [steps("2026-03-02", 12000, **garmin), worn("2026-03-02", 900, **garmin)],
    )
    con = warehouse.build()
    assert day_row(con, "P-2", "2026-03-02", "steps, steps_source, wear_minutes, wear_state") == (
        12000,
        "garmin",
        900,
        "worn",
    )
    assert day_row(con, "P-2", "2026-03-03", "steps, wear_minutes, wear_state") == (
        None,
        200,
        "partial",
    )
    assert day_row(con, "P-2", "2026-03-04", "steps, wear_state") == (None, "no_data")


def test_a_valid_wear_day_follows_the_programs_valid_wear_minutes():
    """program.toml's `valid_wear_minutes` decides worn vs partial (defaults: 600, 10 h)."""
    watch = {"participant_id": "P-2", "source": "apple_health", "device": "Apple Watch"}
    rows = [
        steps("2026-03-02", 9000, **watch),
        {**steps("2026-03-02", 0, **watch), "metric": "worn_min", "value": 500.0},
    ]
    shown = {}
    for minutes in (600, 480):
        warehouse = Warehouse(ProgramRules(valid_wear_minutes=minutes))
        warehouse.add("wearable_intervals", "apple_health", "2026-03-05", rows)
        shown[minutes] = day_row(warehouse.build(), "P-2", "2026-03-02", "steps, wear_state")
    assert shown == {600: (None, "partial"), 480: (9000, "worn")}


def test_the_main_sleep_ending_that_morning_is_the_night(warehouse):
    oura = {"participant_id": "P-2", "source": "oura", "device": "Oura"}
    night = {
        **oura,
        "start_utc": datetime(2026, 3, 2, 23, 0, tzinfo=UTC),
        "end_utc": datetime(2026, 3, 3, 7, 0, tzinfo=UTC),
        "minutes_asleep": 420,
        "minutes_in_bed": 480,
        "is_main": True,
        "episode_id": "n1",
    }
    nap = {
        **oura,
        "start_utc": datetime(2026, 3, 3, 14, 0, tzinfo=UTC),
        "end_utc": datetime(2026, 3, 3, 15, 0, tzinfo=UTC),
        "minutes_asleep": 50,
        "minutes_in_bed": 60,
        "is_main": False,
        "episode_id": "n2",
    }
    total = {
        "fitbit_id": "111",
        "source": "fitabase",
        "local_day": date(2026, 3, 3),
        "minutes_asleep": 300,
        "minutes_in_bed": 330,
        "sleep_type": "daily_total",
    }
    warehouse.add("wearable_sleep", "oura", "2026-03-05", [night, nap])
    warehouse.add("wearable_sleep", "fitabase_sleep_day", "2026-03-05", [total])
    con = warehouse.build()
    assert day_row(con, "P-2", "2026-03-03", "sleep_minutes, sleep_efficiency, sleep_source") == (
        420,
        0.875,
        "oura",
    )
    assert day_row(con, "P-1", "2026-03-03", "sleep_minutes, sleep_source") == (300, "fitabase")


def test_vitals_come_from_the_preferred_source_as_a_daily_mean(warehouse):
    apple = {"participant_id": "P-2", "source": "apple_health", "metric": "hrv_sdnn_ms"}
    garmin = {
        "participant_id": "P-2",
        "source": "garmin",
        "metric": "resting_hr",
        "local_day": date(2026, 3, 2),
        "value": 61.0,
    }
    warehouse.add(
        "wearable_vitals",
        "apple_health",
        "2026-03-05",
        [
            {**apple, "start_utc": datetime(2026, 3, 2, 8, tzinfo=UTC), "value": 40.0},
            {**apple, "start_utc": datetime(2026, 3, 2, 20, tzinfo=UTC), "value": 50.0},
            {**apple, "metric": "resting_hr", "local_day": date(2026, 3, 2), "value": 58.0},
        ],
    )
    warehouse.add("wearable_vitals", "garmin", "2026-03-05", [garmin])
    con = warehouse.build()
    assert day_row(con, "P-2", "2026-03-02", "resting_hr, hrv_ms") == (58.0, 45.0)


def test_a_watch_workout_overlapping_an_app_session_is_one_session(warehouse):
    watch = {
        "participant_id": "P-2",
        "source": "garmin",
        "device": "fenix 5",
        "activity": "training/yoga",
        "kind": "stretch",
    }
    warehouse.add(
        "wearable_workouts",
        "garmin",
        "2026-03-05",
        [
            {
                **watch,
                "workout_id": "w1",
                "start_utc": datetime(2026, 3, 3, 7, 5, tzinfo=UTC),
                "duration_s": 900,
            },
            {
                **watch,
                "workout_id": "w2",
                "start_utc": datetime(2026, 3, 4, 18, 0, tzinfo=UTC),
                "duration_s": 1200,
            },
        ],
    )
    apple = {
        "participant_id": "P-2",
        "source": "apple_health",
        "device": "Apple Watch",
        "activity": "HKWorkoutActivityTypeYoga",
        "kind": "stretch",
    }
    warehouse.add(
        "wearable_workouts",
        "apple_health",
        "2026-03-05",
        [
            {
                **apple,
                "workout_id": "a1",
                "start_utc": datetime(2026, 3, 4, 18, 2, tzinfo=UTC),
                "duration_s": 1000,
            },
        ],
    )
    con = warehouse.build()
    con.execute(
        "insert into raw.app_sessions (session_id, participant_id, started_at, duration_s, kind, discomfort, "
        "guided_breathing, completed, source_file, row_number, exported_at) values "
        "('s1', 'P-2', '2026-03-03T07:00:00Z', '600', 'stretch', '2', 'true', 'true', 'app.csv', 2, now())"
    )
    for model in load_sql_tables():
        build_table(con, model)
    sessions = con.execute(
        "select source, day::varchar, discomfort, also_recorded_by from marts.sessions where pid = ? order by started_at",
        [pid("P-2")],
    ).fetchall()
    assert sessions == [
        ("app", "2026-03-03", 2, "garmin"),
        ("garmin", "2026-03-04", None, None),  # the longer of two devices' records of one workout
    ]
    assert day_row(con, "P-2", "2026-03-04", "day_state, stretch_sessions") == ("done", 1)


def test_rows_of_people_not_on_the_roster_are_reported_not_loaded(warehouse):
    warehouse.add(
        "wearable_intervals",
        "garmin",
        "2026-03-05",
        [steps("2026-03-02", 100, participant_id="P-404", source="garmin")],
    )
    warehouse.add(
        "wearable_intervals",
        "fitabase_daily_activity",
        "2026-03-05",
        [steps("2026-03-02", 100, fitbit_id="999", source="fitabase")],
    )
    con = warehouse.build()
    issues = con.execute(
        "select field, value, action from marts.ingest_issues where action = 'row not linked' order by field"
    ).fetchall()
    assert issues == [
        ("Id", pseudonymize("999", KEY), "row not linked"),
        ("participant_id", pseudonymize("P-404", KEY), "row not linked"),
    ]


def test_separate_recordings_all_count_and_a_minute_worn_counts_once(warehouse):
    garmin = {"participant_id": "P-2", "source": "garmin", "device": "fenix5"}

    def quarter(hour, minute, worn):
        return {
            **garmin,
            "start_utc": datetime(2026, 3, 2, hour, minute, tzinfo=UTC),
            "duration_s": 900,
            "metric": "worn_min",
            "value": float(worn),
        }

    morning = [
        {
            **garmin,
            "start_utc": datetime(2026, 3, 2, 8, tzinfo=UTC),
            "duration_s": 3600,
            "metric": "steps",
            "value": 4000.0,
        },
        quarter(8, 0, 15),
        quarter(8, 15, 15),
    ]
    evening = [
        {
            **garmin,
            "start_utc": datetime(2026, 3, 2, 18, tzinfo=UTC),
            "duration_s": 3600,
            "metric": "steps",
            "value": 3000.0,
        },
        quarter(8, 15, 10),
        quarter(18, 0, 15),
    ]
    warehouse.add("wearable_intervals", "garmin", "2026-03-05", morning)
    warehouse.add("wearable_intervals", "garmin", "2026-03-06", evening)
    warehouse.add("wearable_intervals", "garmin", "2026-03-07", morning)  # the same file sent twice
    con = warehouse.build()
    steps_day, wear = con.execute(
        "select steps, wear_minutes from staging.wearable__source_days where pid = ? and day = '2026-03-02'",
        [pid("P-2")],
    ).fetchone()
    assert (steps_day, wear) == (7000, 45)


def test_dated_files_of_one_kind_complement_each_other_across_a_utc_midnight(warehouse):
    """Fitbit's steps-2026-03-02.json and steps-2026-03-03.json both hold part of a Chicago day."""
    fitbit = {"participant_id": "P-1", "source": "fitbit", "device": "Fitbit"}

    def hourly(day):
        return [
            {
                **fitbit,
                "start_utc": datetime(2026, 3, day, h, tzinfo=UTC),
                "duration_s": 3600,
                "metric": "steps",
                "value": 100.0,
            }
            for h in range(24)
        ]

    warehouse.add(
        "wearable_intervals", "fitbit", "2026-03-05", hourly(2), name="steps-2026-03-02.json"
    )
    warehouse.add(
        "wearable_intervals", "fitbit", "2026-03-06", hourly(3), name="steps-2026-03-03.json"
    )
    con = warehouse.build()
    per_day = dict(
        con.execute(
            "select day::varchar, steps from staging.wearable__source_days where pid = ? order by day",
            [pid("P-1")],
        ).fetchall()
    )
    # UTC 2 Mar 06:00 … 4 Mar 06:00 is all of Chicago's 2 and 3 March (UTC−6)
    assert per_day == {"2026-03-01": 600, "2026-03-02": 2400, "2026-03-03": 1800}
