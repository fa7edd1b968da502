"""The published snapshot the dashboards read: where it is, which one it is, how it is opened.

Every read opens a short-lived, read-only DuckDB connection to
`<data_dir>/published/current.duckdb` and closes it before returning, so a
dashboard never holds the file open across reruns and never blocks a publish.
Results are cached with `st.cache_data`, keyed by the snapshot's identity
(path, mtime, size): when a run swaps in a new snapshot the next rerun reads it,
no restart needed. Who may read what is `dashboards.access`; the reads themselves are
`dashboards.queries`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import streamlit as st

from pipelines.lib.layout import DataDir, default_data_dir
from pipelines.lib.rules import AppliedRules, read_recorded_rules

NO_SNAPSHOT_MESSAGE = (
    "No published data yet — run `steadyback run` to build and publish a snapshot "
    "(or `steadyback demo` for a generated cohort)."
)


class SnapshotIdentity(NamedTuple):
    """What makes one published snapshot different from the next: the cache key."""

    path: str
    mtime_ns: int
    size: int


PARTICIPANT_COLUMNS = """pid, cohort, site, coach_id, enrolled_on, program_weeks,
       prescribed_sessions_per_week, withdrawn_on, has_wearable,
       program_week_now, status"""
"""The `marts.participants` columns the dashboards read about a person (one row per person)."""


def data_dir() -> Path:
    return default_data_dir()


def snapshot_path() -> Path:
    return DataDir.at(data_dir()).snapshot


def snapshot_identity() -> SnapshotIdentity | None:
    """The current snapshot's identity, or None when nothing was published yet."""
    path = snapshot_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return SnapshotIdentity(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def read_sql(
    snapshot: SnapshotIdentity, sql: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    """One query's rows, over a connection opened and closed for it."""
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        return connection.sql(sql, params=params).pl()
    finally:
        connection.close()


class Reader:
    """One short-lived read-only connection for several queries: `with Reader(s) as read:`.

    Opening the snapshot costs about 15 ms, a query on an open connection about 1 ms, so the
    cohort panels of one selection are read over a single connection.
    """

    def __init__(self, snapshot: SnapshotIdentity) -> None:
        self._snapshot = snapshot

    def __enter__(self) -> Reader:
        self._connection = duckdb.connect(self._snapshot.path, read_only=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def __call__(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        return self._connection.sql(sql, params=params).pl()


def snapshot_info() -> dict[str, Any] | None:
    """The `meta.snapshot` row (run_id, published_at, as_of, …) or None without a snapshot."""
    snapshot = snapshot_identity()
    if snapshot is None:
        return None
    return _snapshot_info(snapshot)


_SNAPSHOT_ROW_SQL = (
    "select run_id, published_at, as_of, landing_files, code_version from meta.snapshot"
)


@st.cache_data(show_spinner=False, max_entries=16)
def _snapshot_info(snapshot: SnapshotIdentity) -> dict[str, Any] | None:
    rows = read_sql(snapshot, _SNAPSHOT_ROW_SQL)
    return rows.row(0, named=True) if rows.height else None


@st.cache_data(show_spinner=False, max_entries=16)
def recorded_rules(snapshot: SnapshotIdentity) -> AppliedRules:
    """The program rules the snapshot was built with (its `meta.rules`; the defaults, not
    `recorded`, for a snapshot published before they were recorded)."""
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        return read_recorded_rules(connection)
    finally:
        connection.close()
