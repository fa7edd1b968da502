"""The run history recorded through `open_instance`: every event there afterwards, written over
one connection per file, and only WAL files under the instance's home synced less often."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


@contextmanager
def connections_opened_to(database: Path) -> Iterator[list[str]]:
    """The SQLite connections SQLAlchemy opens to `database` meanwhile (one entry each)."""
    opened: list[str] = []

    def count(connection, _record):
        if isinstance(connection, sqlite3.Connection):
            files = [
                f for _, name, f in connection.execute("pragma database_list") if name == "main"
            ]
            opened.extend(f for f in files if f == str(database))

    event.listen(Pool, "connect", count)
    try:
        yield opened
    finally:
        event.remove(Pool, "connect", count)


def test_every_event_is_there_afterwards_written_over_one_connection(home):
    shard = home / "history" / "runs" / "r1.db"
    with connections_opened_to(shard) as opened, open_instance(home) as instance:
        for i in range(40):
            instance.event_log_storage.store_event(_message("r1", i))
        assert len(opened) <= 2  # Dagster alone opens one per event
        with instance.event_log_storage.run_connection("r1") as conn:  # the one writing
            assert conn.exec_driver_sql("pragma synchronous").scalar() == NORMAL
        assert _synchronous(shard) == NORMAL  # the run's other connections too
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


def test_whether_a_table_exists_is_asked_once_it_does(home):
    """Dagster asks before recording each asset check event (~400 a run), with a new engine
    each time; while the instance is open a table found once is not looked up again."""
    index = home / "history" / "runs" / "index.db"
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        storage.store_event(_message("r3", 0))
        assert storage.supports_asset_checks
        with connections_opened_to(index) as opened:
            assert all(storage.supports_asset_checks for _ in range(50))
            assert not opened
            assert not storage.has_table("steadyback_later")  # an absent one is asked again
            with sqlite3.connect(index) as conn:
                conn.execute("create table steadyback_later (x)")
            assert storage.has_table("steadyback_later")


def _capture_processes_during_a_run(instance: dg.DagsterInstance) -> list[str]:
    """The run's child processes that mirror captured output: `tail -F`, Dagster's watcher."""
    seen = []

    @dg.op
    def look():
        pid = os.getpid()
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            command = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if command[0] == b"tail" or any(b"watch_orphans" in part for part in command):
                seen.append(command[0].decode())

    @dg.job
    def one_op():
        look()

    assert one_op.execute_in_process(instance=instance).success
    return seen


@pytest.mark.pipeline
def test_a_run_keeps_its_terminal_and_starts_no_tail_processes(home):
    """Dagster's default capture of an in-process run mirrors stdout and stderr through
    `tail -F` and a watcher process each; `steadyback run` shows its own output."""
    with open_instance(home) as instance:
        assert _capture_processes_during_a_run(instance) == []


@pytest.mark.pipeline
def test_a_configured_capture_is_kept(home, tmp_path):
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\n"
        "compute_logs:\n  module: dagster._core.storage.local_compute_log_manager\n"
        "  class: LocalComputeLogManager\n"
        f"  config:\n    base_dir: {tmp_path / 'compute_logs'}\n"
    )
    with open_instance(home) as instance:
        assert "tail" in _capture_processes_during_a_run(instance)
