"""The run history recorded through `open_instance`: every event there afterwards, written over
one connection per file, and only WAL files under the instance's home synced less often."""

from __future__ import annotations

import sqlite3
import time

import dagster as dg
import pytest
from dagster._core.events.log import EventLogEntry
from sqlalchemy import create_engine, event
from sqlalchemy.pool import NullPool, Pool

from pipelines.lib.dagster_instance import open_instance

FULL, NORMAL = 2, 1  # PRAGMA synchronous


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def _message(run_id: str, i: int) -> EventLogEntry:
    return EventLogEntry(
        error_info=None, level=20, user_message=f"m{i}", run_id=run_id, timestamp=time.time()
    )


def _synchronous(file) -> int:
    engine = create_engine(f"sqlite:///{file}", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("pragma synchronous").scalar()
    finally:
        engine.dispose()


def test_every_event_is_there_afterwards_written_over_one_connection(home):
    shard = home / "history" / "runs" / "r1.db"
    opened = []

    def count(connection, _record):
        if isinstance(connection, sqlite3.Connection):
            files = [
                f for _, name, f in connection.execute("pragma database_list") if name == "main"
            ]
            opened.extend(f for f in files if f == str(shard))

    event.listen(Pool, "connect", count)
    try:
        with open_instance(home) as instance:
            for i in range(40):
                instance.event_log_storage.store_event(_message("r1", i))
            assert len(opened) <= 2  # Dagster alone opens one per event
            with instance.event_log_storage.run_connection("r1") as conn:  # the one writing
                assert conn.exec_driver_sql("pragma synchronous").scalar() == NORMAL
            assert _synchronous(shard) == NORMAL  # the run's other connections too
    finally:
        event.remove(Pool, "connect", count)
    with dg.DagsterInstance.get() as fresh:
        assert [e.user_message for e in fresh.all_logs("r1")] == [f"m{i}" for i in range(40)]
    assert _synchronous(shard) == FULL  # only while the instance is open


def test_only_wal_databases_under_the_home_are_synced_less(home, tmp_path):
    outside = tmp_path / "elsewhere.db"
    rollback = home / "rollback.db"
    for file, mode in ((outside, "wal"), (rollback, "delete")):
        with sqlite3.connect(file) as conn:
            conn.execute(f"pragma journal_mode={mode}")
            conn.execute("create table t (x)")
    with open_instance(home) as instance:
        instance.event_log_storage.store_event(_message("r2", 0))
        assert _synchronous(home / "history" / "runs" / "r2.db") == NORMAL
        assert _synchronous(outside) == FULL
        assert _synchronous(rollback) == FULL  # NORMAL is crash-safe in WAL mode only
