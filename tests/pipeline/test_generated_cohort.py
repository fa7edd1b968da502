"""The whole pipeline on a generated cohort, checked against what the generator planted.

The generator writes its own truth (truth/*.csv) beside the exports: the
sessions that must survive dedupe and corrections with their local day, the
days a tracker was not worn, the rows it broke on purpose. The published
snapshot must agree with it exactly.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from generated_data import truth

from pipelines.runner import run_pipeline


def test_one_participant_day_row_per_program_day(small_cohort, snapshot, pid):
    people = truth(small_cohort, "participants.csv")
    counts = dict(
        snapshot.execute("select pid, count(*) from marts.participant_day group by pid").fetchall()
    )
    assert counts == {pid(p["participant_id"]): int(p["program_weeks"]) * 7 for p in people}


def test_sessions_after_dedupe_and_corrections_equal_the_truth(small_cohort, snapshot, pid):
    expected = {
        (
            pid(s["participant_id"]),
            s["started_at_utc"],
            s["local_day"],
            s["kind"],
            int(s["duration_s"]),
            int(s["discomfort"]) if s["discomfort"] else None,
            s["completed"] == "true",
        )
        for s in truth(small_cohort, "sessions.csv")
    }
    rows = snapshot.execute(
        "select pid, strftime(started_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ'), day::varchar, kind, "
        "duration_s, discomfort, completed from marts.sessions"
    ).fetchall()
    assert len(rows) == len(expected)
    assert set(rows) == expected
    corrected = truth(small_cohort, "corrections.csv")
    assert corrected, "the generator planted corrections in the overlapping export"


def test_late_evening_sessions_count_on_their_local_day(small_cohort, snapshot, pid):
    late = [s for s in truth(small_cohort, "sessions.csv") if s["local_time"] == "22:30"]
    crossing = [s for s in late if s["started_at_utc"][:10] != s["local_day"]]
    assert crossing, "some 22:30 sessions fall on the next UTC day"
    for s in crossing:
        (day,) = snapshot.execute(
            "select day::varchar from marts.sessions where pid = ? and started_at = ?::timestamptz",
            [pid(s["participant_id"]), s["started_at_utc"]],
        ).fetchone()
        assert day == s["local_day"]


def test_day_states_and_wearable_days_match_the_truth(small_cohort, snapshot, pid):
    rows = snapshot.execute(
        "select pid, day::varchar, day_state, stretch_sessions, steps, wear_state, sleep_minutes, pain "
        "from marts.participant_day"
    ).fetchall()
    got = {(r[0], r[1]): r[2:] for r in rows}
    non_wear = 0
    for t in truth(small_cohort, "days.csv"):
        state, sessions, steps, wear_state, sleep, pain = got[(pid(t["participant_id"]), t["day"])]
        if t["elapsed"] == "true":
            done = int(t["completed_stretch_sessions"]) > 0
            assert state == ("done" if done else "missed")
            assert sessions == int(t["completed_stretch_sessions"])
        else:
            assert state == "unknown" and sessions is None
        if t["worn"] == "false":
            non_wear += 1
            assert steps is None and wear_state == "not_worn", (
                "an unworn day is unknown, never 0 steps"
            )
        elif t["worn"] == "true":
            assert steps == int(t["steps_recorded"]) and wear_state == "worn"
        else:
            assert steps is None
        assert sleep == (int(t["sleep_minutes_recorded"]) if t["sleep_minutes_recorded"] else None)
        assert pain == (int(t["pain"]) if t["pain"] else None)
    assert non_wear > 0


def test_weekly_adherence_matches_the_truth(small_cohort, snapshot, pid):
    got = {
        (r[0], r[1]): r[2:]
        for r in snapshot.execute(
            "select pid, week, days_elapsed, sessions, adherence from marts.participant_week"
        ).fetchall()
    }
    for t in truth(small_cohort, "weeks.csv"):
        days_elapsed, sessions, adherence = got[(pid(t["participant_id"]), int(t["program_week"]))]
        assert days_elapsed == int(t["days_elapsed"])
        if days_elapsed:
            assert sessions == int(t["completed_stretch_sessions"])
            assert adherence == pytest.approx(float(t["adherence"]), abs=1e-4)
        else:
            assert adherence is None, "a week that has not started is unknown, not 0 %"


def test_every_planted_bad_row_is_reported_by_file_line_and_field(small_cohort, snapshot):
    issues = set(
        snapshot.execute(
            "select file, line, field from marts.ingest_issues where severity = 'error'"
        ).fetchall()
    )
    planted = {
        (q["file"], int(q["line"]), q["field"]) for q in truth(small_cohort, "quarantine.csv")
    }
    assert planted and planted <= issues
    ignored = snapshot.execute(
        "select field from marts.ingest_issues where action = 'column ignored'"
    ).fetchall()
    assert ignored, "the generator's extra CSV column is reported"


def test_no_raw_identifier_anywhere_in_the_snapshot(small_cohort, snapshot):
    raw_ids = {p["participant_id"] for p in truth(small_cohort, "participants.csv")}
    raw_ids |= {p["fitbit_id"] for p in truth(small_cohort, "participants.csv") if p["fitbit_id"]}
    raw_ids |= {"P-99999"}
    tables = snapshot.execute(
        "select table_schema, table_name from information_schema.tables where table_catalog = current_database()"
    ).fetchall()
    seen_text = 0
    for schema, table in tables:
        for row in snapshot.execute(f'select * from "{schema}"."{table}"').fetchall():
            for value in row:
                if isinstance(value, str):
                    seen_text += 1
                    assert value not in raw_ids, f"{schema}.{table} holds {value}"
                    assert "P-0" not in value, (
                        f"{schema}.{table} holds a participant id inside {value!r}"
                    )
    assert seen_text > 10_000


def test_as_of_and_statuses(small_cohort, snapshot):
    effects_as_of = date.fromisoformat(
        __import__("json").loads((small_cohort / "truth" / "effects.json").read_text())["as_of"]
    )
    assert snapshot.execute("select as_of from meta.snapshot").fetchone()[0] == effects_as_of
    statuses = dict(
        snapshot.execute("select status, count(*) from marts.participants group by 1").fetchall()
    )
    withdrawn = sum(1 for p in truth(small_cohort, "participants.csv") if p["withdrawn_on"])
    assert statuses.get("withdrawn", 0) == withdrawn
    assert statuses.get("completed", 0) > 0 and statuses.get("active", 0) > 0


def test_rerunning_on_the_same_exports_changes_nothing(small_cohort, tmp_path):
    published = small_cohort / "published" / "current.duckdb"

    def tables(path):
        with duckdb.connect(str(path), read_only=True) as con:
            names = con.execute(
                "select table_schema || '.' || table_name from information_schema.tables "
                "where table_schema in ('marts', 'models') order by 1"
            ).fetchall()
            return {n: con.execute(f"select * from {n}").fetchall() for (n,) in names}

    raw_before = sorted(
        p.relative_to(small_cohort) for p in (small_cohort / "raw").rglob("*.parquet")
    )
    mtimes_before = {p: (small_cohort / p).stat().st_mtime_ns for p in raw_before}
    before = tables(published)
    report = run_pipeline(small_cohort, log_level="WARNING")
    assert report.published
    assert tables(published) == before
    raw_after = sorted(
        p.relative_to(small_cohort) for p in (small_cohort / "raw").rglob("*.parquet")
    )
    assert raw_after == raw_before
    assert all(
        (small_cohort / p).stat().st_mtime_ns == m
        for p, m in mtimes_before.items()
        if p.name != "_files.parquet"
    ), "raw partitions are not rewritten"


def test_demo_cohort_has_every_program_day_and_every_stretch_session(demo_cohort, pid):
    with duckdb.connect(str(demo_cohort / "published" / "current.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.participant_day").fetchone()[0] == 300 * 84
        stretch = con.execute(
            "select count(*) from marts.sessions where kind = 'stretch' and completed"
        ).fetchone()[0]
        unworn_with_steps = con.execute(
            "select count(*) from marts.participant_day where wear_state = 'not_worn' and steps is not null"
        ).fetchone()[0]
        unworn = con.execute(
            "select count(*) from marts.participant_day where wear_state = 'not_worn'"
        ).fetchone()[0]
    sessions = truth(demo_cohort, "sessions.csv")
    assert stretch == sum(
        1 for s in sessions if s["kind"] == "stretch" and s["completed"] == "true"
    )
    assert unworn > 0 and unworn_with_steps == 0
