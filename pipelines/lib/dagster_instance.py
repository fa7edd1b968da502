"""The Dagster instance of a data dir, recording a run's history without an fsync per event.

Dagster keeps run history in SQLite files under DAGSTER_HOME, and for every event it
records (about 1,300 in one refresh run) it builds an SQLAlchemy engine, opens a
connection, commits and closes it again. Each commit waits for an fsync, and each close,
being the database's last connection, checkpoints the write-ahead log back into the
database (more fsyncs): 5-12 ms and ~3 ms of CPU per event on a shared virtual disk,
10-15 s a run. While `open_instance` is open:

- the event log keeps one engine and connection per database file for the whole run
  (`_reused_connections`), instead of one per event;
- it asks the index database whether a table exists once per table, not with a new engine
  for every asset and check event (~400 a run: Dagster checks that asset checks are
  supported before recording each check event); a table, once there, stays;
- one extra connection holds each other history database open, so that closing
  Dagster's connections does not checkpoint (SQLite checkpoints when the last one
  closes: here at the end, once);
- connections to the history use `synchronous=NORMAL`. Dagster puts its databases in
  WAL mode, where NORMAL keeps them consistent through any crash and syncs at
  checkpoints only: a power cut can lose the run history's last events. The warehouse
  and the published snapshot are DuckDB files and keep their own guarantees.

Other processes (the Dagster UI, its daemon) open the same files as usual meanwhile.

It also leaves the run's stdout and stderr alone, unless dagster.yaml configures
`compute_logs`: Dagster's default capture of a whole in-process run copies both into files
under the home and, to still show them on the terminal, keeps `tail -F` on each file and a
Python process watching each tail for the whole run (four processes, ~22 MB). `steadyback
run` shows Dagster's log lines on the terminal itself and prints its own summary; the run's
structured log in the Dagster UI is the same either way, only the UI's raw stdout/stderr
view of such a run is empty (docs/operations.md, "Run history").
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.pool import Pool, StaticPool

if TYPE_CHECKING:
    import dagster as dg

_FILE = "steadyback_sqlite_file"
NO_CAPTURE = {
    "module": "dagster._core.storage.noop_compute_log_manager",
    "class": "NoOpComputeLogManager",
}
BUSY_TIMEOUT_S = 15  # as Dagster's own SQLite connections wait for a lock


@contextmanager
def open_instance(home: Path) -> Iterator[dg.DagsterInstance]:
    """The Dagster instance whose DAGSTER_HOME is `home` (set by the caller), for one run."""
    import dagster as dg
    from dagster._core.instance.ref import InstanceRef
    from dagster_shared.yaml_utils import load_yaml_from_globs

    configured = load_yaml_from_globs(str(Path(home) / "dagster.yaml")) or {}
    overrides = {} if "compute_logs" in configured else {"compute_logs": NO_CAPTURE}
    ref = InstanceRef.from_dir(str(home), overrides=overrides)
    with _quick_commits(home), dg.DagsterInstance.from_ref(ref) as instance:
        with _reused_connections(instance.event_log_storage):
            yield instance


@contextmanager
def _quick_commits(home: Path) -> Iterator[None]:
    """SQLite files under `home` in WAL mode: synchronous=NORMAL, and held open."""
    home = Path(home).resolve()
    under_home: dict[str, bool] = {}  # database file as SQLAlchemy names it → under `home`
    in_wal: set[str] = set()  # files seen in WAL mode (Dagster never switches back)
    keepers: dict[str, sqlite3.Connection] = {}
    lock = threading.Lock()

    def on_do_connect(dialect, record, cargs, _cparams) -> None:
        if dialect.name == "sqlite" and cargs and isinstance(cargs[0], str):
            record.info[_FILE] = cargs[0]

    def on_connect(connection, record) -> None:
        file = record.info.get(_FILE)
        if file is None or not isinstance(connection, sqlite3.Connection):
            return
        if file not in under_home:
            under_home[file] = file != ":memory:" and Path(file).resolve().is_relative_to(home)
        if not under_home[file]:
            return
        if file in in_wal:
            connection.execute("pragma synchronous=NORMAL")
        elif _normal_sync_in_wal(connection):
            in_wal.add(file)
        else:
            return
        with lock:
            if file not in keepers:
                keeper = sqlite3.connect(file, check_same_thread=False)
                keeper.execute("select count(*) from sqlite_master").fetchall()
                keepers[file] = keeper

    event.listen(Dialect, "do_connect", on_do_connect)
    event.listen(Pool, "connect", on_connect)
    try:
        yield
    finally:
        event.remove(Pool, "connect", on_connect)
        event.remove(Dialect, "do_connect", on_do_connect)
        with lock:
            for keeper in keepers.values():
                keeper.close()
            keepers.clear()


def _normal_sync_in_wal(connection: sqlite3.Connection) -> bool:
    """synchronous=NORMAL if the database is in WAL mode (the only mode where it is crash-safe)."""
    (mode,) = connection.execute("pragma journal_mode").fetchone()
    if mode.lower() != "wal":
        return False
    connection.execute("pragma synchronous=NORMAL")
    return True


def _reusable(storage) -> bool:
    """Dagster's per-run-sharded SQLite event log, as this module knows it (Dagster 1.13)."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    return type(storage) is SqliteEventLogStorage and all(
        hasattr(storage, name)
        for name in (
            "_connect",
            "_db_lock",
            "_initialized_dbs",
            "_initdb",
            "conn_string_for_shard",
            "has_table",
        )
    )


@contextmanager
def _reused_connections(storage) -> Iterator[None]:
    """The event log's `_connect(shard)` with one engine per shard, kept for the run, and its
    `has_table(name)` remembered once true.

    Dagster's own `_connect` builds and disposes an engine per call, under `_db_lock`; this
    one takes the same lock, so the shard's one connection is never used by two at once.
    Any other event log storage (Postgres, a newer Dagster) is left as it is.
    """
    if not _reusable(storage):
        yield
        return
    engines = {}

    @contextmanager
    def connect(shard: str):
        with storage._db_lock:
            engine = engines.get(shard)
            if engine is None:
                engine = engines[shard] = create_engine(
                    storage.conn_string_for_shard(shard),
                    poolclass=StaticPool,
                    connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
                )
            if shard not in storage._initialized_dbs:
                storage._initdb(engine)  # a new file: put in WAL mode after it was opened
                storage._initialized_dbs.add(shard)
                with engine.connect() as conn:
                    _normal_sync_in_wal(conn.connection.dbapi_connection)
            with engine.connect() as conn, conn.begin():
                yield conn

    present: set[str] = set()
    own_has_table = storage.has_table  # its own engine: it is also asked inside a transaction

    def has_table(table_name: str) -> bool:
        if table_name not in present and own_has_table(table_name):
            present.add(table_name)
        return table_name in present

    storage._connect = connect
    storage.has_table = has_table
    try:
        yield
    finally:
        del storage._connect, storage.has_table  # the class's own again
        with storage._db_lock:
            for engine in engines.values():
                engine.dispose()
