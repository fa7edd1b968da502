"""The SQL catalog: lineage from the files themselves, a valid build order, checks from headers."""

from __future__ import annotations

import duckdb
import pytest

from pipelines.lib.sql_catalog import load_checks, load_sql_tables


def test_every_model_comes_after_the_tables_it_reads():
    models = load_sql_tables()
    position = {m.table: i for i, m in enumerate(models)}
    assert {"marts.participant_day", "marts.sessions", "staging.app__sessions"} <= set(position)
    for model in models:
        for upstream in model.upstream:
            if upstream in position:
                assert position[upstream] < position[model.table], (model.table, upstream)


def test_participant_day_lineage_is_read_from_its_sql():
    (day,) = [m for m in load_sql_tables() if m.table == "marts.participant_day"]
    assert set(day.upstream) >= {
        "marts.participants",
        "marts.sessions",
        "staging.app__checkins",
        "staging.wearable__days",
        "staging.wearable__nights",
        "staging.wearable__vitals",
    }
    assert day.description.startswith("One row per participant per program day")


def test_header_annotations_become_checks_that_find_bad_rows(tmp_path):
    sql = tmp_path / "sql"
    (sql / "marts").mkdir(parents=True)
    (sql / "checks").mkdir()
    (sql / "marts" / "visits.sql").write_text(
        "-- Visits.\n-- @unique: pid, day\n-- @not_null: pid\n"
        "-- @accepted_values: state = done, missed\n-- @range: share = 0..1\n"
        "select * from (values ('a', 1, 'done', 0.5), ('a', 1, 'skipped', 1.5), (null, 2, 'done', 0.1)) "
        "t(pid, day, state, share)\n"
    )
    (sql / "checks" / "visits__has_rows.sql").write_text(
        "-- At least one visit.\n-- @table: marts.visits\n-- @severity: warn\n"
        "select 1 where (select count(*) from marts.visits) = 0\n"
    )
    checks = {c.name: c for c in load_checks(sql)}
    assert set(checks) == {
        "unique_pid_day",
        "not_null_pid",
        "accepted_values_state",
        "range_share",
        "has_rows",
    }
    assert not checks["has_rows"].blocking and checks["unique_pid_day"].blocking
    con = duckdb.connect()
    con.execute("create schema marts")
    (model,) = load_sql_tables(sql)
    con.execute(f"create table marts.visits as {model.sql}")
    failing = {
        name: con.execute(f"select count(*) from ({c.sql})").fetchone()[0]
        for name, c in checks.items()
    }
    assert failing == {
        "unique_pid_day": 1,
        "not_null_pid": 1,
        "accepted_values_state": 1,
        "range_share": 1,
        "has_rows": 0,
    }


def test_a_check_on_a_table_nobody_builds_is_an_error(tmp_path):
    sql = tmp_path / "sql"
    (sql / "checks").mkdir(parents=True)
    (sql / "checks" / "ghost__x.sql").write_text("-- @table: marts.ghost\nselect 1\n")
    with pytest.raises(ValueError, match="marts.ghost"):
        load_checks(sql)
