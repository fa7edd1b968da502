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
import polars as pl

from .files import fsync
from .key_policy import build_is_generated, run_key
from .layout import PRIVATE_FILE_MODE, DataDir, private_dir
from .pseudonym import (
    ANYWHERE,
    MIN_IDENTIFIER_CHARS,
    WHOLE_VALUE,
    KeyRefused,
    key_fingerprint,
    pseudonymize,
)
from .raw_identifiers import DISPLAY_NAME, identifier_needles
from .warehouse import built_with_key, insert_rows

PUBLISHED_SCHEMAS = ("marts", "models", "meta")
# meta tables that stay in the warehouse (they describe the run's inputs, not results;
# program_rules is meta.rules as the one row the SQL reads, and meta.rules is published)
PRIVATE_META = ("run_parameters", "program_rules")
RAW_IDENTIFIER_COLUMNS = {
    "participant_id", "record_id", "fitbit_id", "id", "email", "name", "display_name"
}  # fmt: skip


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


# Machine-made values that cannot carry an identifier, blanked before searching so that
# a numeric id is not "found" in their hex digits: pids and key fingerprints, SHA-256s, run ids.
_MACHINE_MADE = (
    r"[pk]_[0-9a-f]{16}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)


# {texts}: (place, v), every distinct published text value in lower case with its machine-made
# parts blanked ($4); $1 = WHOLE_VALUE, $2 = ANYWHERE (pseudonym.match_rule), $3 = the
# length of the windows the texts are cut into, each joined to the needles starting with it
_FIND_IDENTIFIERS = r"""
with texts as ({texts}),
needles as (
    select *, length(needle) as n, left(needle, $3) as gram from leak_needles where rule <> $1
),
short_lengths as (select distinct n from needles where n < $3),
-- every run of $3 characters of every text (and of each shorter needle's length):
-- one pass over the text whatever the needles' lengths
windows as (
    select t.place, t.v, w.pos, substr(t.v, w.pos::bigint, $3) as gram
    from texts as t, range(1, length(t.v) - $3 + 2) as w(pos)
    union all
    select t.place, t.v, w.pos, substr(t.v, w.pos::bigint, l.n) as gram
    from texts as t cross join short_lengths as l, range(1, length(t.v) - l.n + 2) as w(pos)
),
found as (
    select w.place, n.identifier, n.what
    from windows as w
    join needles as n on w.gram = n.gram and substr(w.v, w.pos::bigint, n.n) = n.needle
    where n.rule = $2
        -- ALONE: no letter or digit right before or after
        or ((w.pos = 1 or not regexp_matches(substr(w.v, (w.pos - 1)::bigint, 1), '[\pL\pN]'))
            and not regexp_matches(substr(w.v, (w.pos + n.n)::bigint, 1), '[\pL\pN]'))
    union all
    select t.place, n.identifier, n.what
    from texts as t join leak_needles as n on n.rule = $1 and trim(t.v) = n.needle
)
select place, count(distinct identifier), arg_min(what, identifier), min(identifier)
from found group by place order by place
"""


def _text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    published = set(_published_tables(con))
    rows = con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema in ? "
        "and (data_type like '%VARCHAR%' or data_type like 'ENUM%' or data_type = 'JSON') "
        "order by all",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall()
    return [(s, t, c) for s, t, c in rows if (s, t) in published]


def raw_identifier_leaks(con: duckdb.DuckDBPyConnection, key: bytes) -> list[str]:
    """Published columns named like a raw identifier, or whose text holds one (any case).

    One query over every distinct value of every published text column: each value is
    cut into windows as long as the identifiers, and the windows are joined to them.
    """
    columns_of: dict[tuple[str, str], list[str]] = {}
    for schema, table, column in con.execute(
        "select table_schema, table_name, column_name from information_schema.columns "
        "where table_catalog = current_database() and table_schema in ? "
        "order by table_schema, table_name, ordinal_position",
        [list(PUBLISHED_SCHEMAS)],
    ).fetchall():  # one query: each information_schema query costs tens of ms
        columns_of.setdefault((schema, table), []).append(column)
    leaks = [
        f"{schema}.{table}.{column} is named like a raw identifier"
        for schema, table in _published_tables(con)
        for column in columns_of.get((schema, table), [])
        if column.lower() in RAW_IDENTIFIER_COLUMNS
    ]
    needles = identifier_needles(con)
    columns = _text_columns(con)
    if needles.is_empty() or not columns:
        return leaks
    texts = " union all ".join(
        f"select '{s}.{t}.{c}' as place, regexp_replace(lower(v::varchar), $4, ' ', 'g') as v "
        f'from (select distinct "{c}" as v from "{s}"."{t}") where v is not null'
        for s, t, c in columns
    )
    con.register("leak_needles", needles.to_arrow())
    try:
        hits = con.execute(
            _FIND_IDENTIFIERS.replace("{texts}", texts),
            [WHOLE_VALUE, ANYWHERE, MIN_IDENTIFIER_CHARS, _MACHINE_MADE],
        ).fetchall()
    finally:
        con.unregister("leak_needles")
    for place, count, what, identifier in hits:
        # never the value itself (this message is logged): whose it is, by pid
        whose = what if what == DISPLAY_NAME[0] else f"{what} of {pseudonymize(identifier, key)}"
        leaks.append(f"{place} holds {count} raw identifier(s), e.g. {whose}")
    return leaks


def write_snapshot_meta(
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    code_version: str,
    landing_fingerprint: str | None,
    generated_cohort: bool = False,
    key_fingerprint: str | None = None,
) -> None:
    con.execute(
        """
        create or replace table meta.snapshot as
        select ?::varchar as run_id, ?::timestamptz as published_at,
               (select as_of from staging.data_horizon) as as_of,
               (select count(*) from raw.files) as landing_files,
               ?::varchar as landing_fingerprint,
               ?::varchar as code_version,
               ?::boolean as generated_cohort,
               ?::varchar as key_fingerprint
        """,
        [
            run_id,
            datetime.now(UTC),
            landing_fingerprint,
            code_version,
            generated_cohort,
            key_fingerprint,
        ],
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
    insert_rows(con, "meta.table_rows", rows, {"table_name": pl.String, "row_count": pl.Int64})


def publish(
    data_dir: DataDir,
    con: duckdb.DuckDBPyConnection,
    run_id: str,
    code_version: str,
    landing_fingerprint: str | None = None,
    rotate_key: bool = False,
) -> PublishedSnapshot:
    """Copy the published schemas of the open warehouse into a new snapshot and swap it in.

    Refused (PublishRefused, the current snapshot untouched) when a blocking check
    failed, when the key may not publish this build (key_policy), or when a raw
    identifier would be published.
    """
    failures = blocking_failures(con)
    if failures:
        raise PublishRefused("blocking checks failed: " + "; ".join(failures))
    generated = build_is_generated(con, data_dir)
    try:
        key = run_key(data_dir, lambda: generated, rotate_key)
    except KeyRefused as refused:
        raise PublishRefused(str(refused)) from None
    fingerprint = key_fingerprint(key)
    if built_with_key(con) != fingerprint:
        raise PublishRefused(
            "the warehouse was built with another pseudonym key than this run's (or by an "
            "older steadyback): run the whole `refresh` job (`steadyback run`) to rebuild it"
        )
    write_snapshot_meta(con, run_id, code_version, landing_fingerprint, generated, fingerprint)
    leaks = raw_identifier_leaks(con, key)
    if leaks:
        raise PublishRefused("raw identifiers would be published: " + "; ".join(leaks))

    private_dir(data_dir.published_dir)
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
    os.chmod(tmp, PRIVATE_FILE_MODE)
    fsync(tmp)
    os.replace(tmp, data_dir.snapshot)
    fsync(data_dir.published_dir)
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
