"""Publish a read-only snapshot of the warehouse for dashboards and analysts.

The snapshot is built beside the current one and swapped in with one
`os.replace`: a reader sees the old file or the new one, never half of one.
A reader holding the old file open keeps reading it (POSIX keeps the
replaced inode alive) and never blocks the swap.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from .layout import DataDir

PUBLISHED_SCHEMAS = ("marts", "models", "meta")
# meta tables that stay in the warehouse (they describe the run's inputs, not results)
PRIVATE_META = ("run_parameters",)
RAW_IDENTIFIER_COLUMNS = {"participant_id", "record_id", "fitbit_id", "id", "email", "name"}


class PublishRefused(Exception):
    """The build is not fit to publish; the current snapshot stays as it was."""


@dataclass(frozen=True)
class PublishedSnapshot:
    path: Path
    run_id: str
    as_of: str | None
    tables: dict[str, int]


def _published_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    rows = con.execute(
        """
        select table_schema, table_name from information_schema.tables
        where table_catalog = current_database() and table_schema in ?
          and table_type = 'BASE TABLE'
        order by table_schema, table_name
        """,
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    return [(s, t) for s, t in rows if not (s == "meta" and t in PRIVATE_META)]


def blocking_failures(con: duckdb.DuckDBPyConnection) -> list[str]:
    exists = con.execute(
        "select count(*) from information_schema.tables "
        "where table_schema = 'meta' and table_name = 'check_results'"
    ).fetchone()[0]
    if not exists:
        return ["no check results: the build did not finish"]
    rows = con.execute(
        "select asset, check_name, failing_rows from meta.check_results "
        "where blocking and not passed order by asset, check_name"
    ).fetchall()
    return [f"{asset}: {name} ({n} rows)" for asset, name, n in rows]


def raw_identifier_leaks(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Published text columns that hold a raw roster identifier, or are named like one."""
    leaks: list[str] = []
    identifiers = con.execute(
        """
        select distinct trim(v) from (
            select participant_id as v from raw.roster
            union all select fitbit_id from raw.roster
            union all select participant_id from raw.files
            union all select participant_id from raw.app_sessions
            union all select participant_id from raw.app_checkins
            union all select record_id from raw.prom
            union all select participant_id from raw.wearable_intervals
            union all select fitbit_id from raw.wearable_intervals
        ) where v is not null and trim(v) <> ''
        """
    ).fetchall()
    con.execute(
        "create or replace temp table raw_identifiers as select * from (values (null::varchar)) t(v) where false"
    )
    con.executemany("insert into raw_identifiers values (?)", identifiers)
    for schema, table in _published_tables(con):
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
        for column, data_type in columns:
            if column.lower() in RAW_IDENTIFIER_COLUMNS:
                leaks.append(f"{schema}.{table}.{column} is named like a raw identifier")
            elif data_type == "VARCHAR":
                # free text (paths, reasons) may embed an id; exact matches suffice elsewhere
                embedded = schema == "meta" or table == "ingest_issues"
                match = 'contains(t."{c}", r.v)' if embedded else 't."{c}" = r.v'
                hits = con.execute(
                    f'select count(*) from "{schema}"."{table}" t '
                    f"semi join raw_identifiers r on {match.format(c=column)}"
                ).fetchone()[0]
                if hits:
                    leaks.append(f"{schema}.{table}.{column} holds {hits} raw identifiers")
    return leaks


def write_snapshot_meta(
    con: duckdb.DuckDBPyConnection, run_id: str, code_version: str, landing_fingerprint: str | None
) -> None:
    con.execute(
        """
        create or replace table meta.snapshot as
        select ?::varchar as run_id, ?::timestamptz as published_at,
               (select as_of from staging.data_horizon) as as_of,
               (select count(*) from raw.files) as landing_files,
               ?::varchar as landing_fingerprint,
               ?::varchar as code_version
        """,
        [run_id, datetime.now(UTC), landing_fingerprint, code_version],
    )
    con.execute(
        """
        create or replace table meta.source_files as
        select source, entity, display_file as file, file_sha256, rows_read, rows_landed,
               rows_quarantined, status, error, modified_at
        from staging.landing_files order by source, entity, display_file
        """
    )
    rows = [
        (f"{s}.{t}", con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0])
        for s, t in _published_tables(con)
        if not (s == "meta" and t == "table_rows")
    ]
    con.execute("create or replace table meta.table_rows (table_name varchar, row_count bigint)")
    con.executemany("insert into meta.table_rows values (?, ?)", rows)


def publish(
    data_dir: DataDir,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    code_version: str,
    landing_fingerprint: str | None = None,
) -> PublishedSnapshot:
    """Copy the published schemas of the open warehouse into a new snapshot and swap it in."""
    failures = blocking_failures(con)
    if failures:
        raise PublishRefused("blocking checks failed: " + "; ".join(failures))
    write_snapshot_meta(con, run_id, code_version, landing_fingerprint)
    leaks = raw_identifier_leaks(con)
    if leaks:
        raise PublishRefused("raw identifiers would be published: " + "; ".join(leaks))

    data_dir.published_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir.published_dir / f".{run_id}.duckdb.tmp"
    tmp.unlink(missing_ok=True)
    tables: dict[str, int] = {}
    con.execute("attach ? as snapshot", [str(tmp)])
    try:
        for schema in PUBLISHED_SCHEMAS:
            con.execute(f"create schema if not exists snapshot.{schema}")
        for schema, table in _published_tables(con):
            con.execute(
                f'create table snapshot."{schema}"."{table}" as select * from "{schema}"."{table}"'
            )
            tables[f"{schema}.{table}"] = con.execute(
                f'select count(*) from snapshot."{schema}"."{table}"'
            ).fetchone()[0]
    finally:
        con.execute("detach snapshot")
    _fsync(tmp)
    os.replace(tmp, data_dir.snapshot)
    _fsync(data_dir.published_dir)
    as_of = con.execute("select as_of::varchar from meta.snapshot").fetchone()[0]
    return PublishedSnapshot(data_dir.snapshot, run_id, as_of, tables)


def published_landing_fingerprint(snapshot: Path) -> str | None:
    """The landing state the current snapshot was built from, if it recorded one."""
    if not snapshot.exists():
        return None
    try:
        with duckdb.connect(str(snapshot), read_only=True) as con:
            return con.execute("select landing_fingerprint from meta.snapshot").fetchone()[0]
    except duckdb.Error:
        return None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
