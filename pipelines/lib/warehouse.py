"""Build the DuckDB warehouse: load raw Parquet, run the SQL models, evaluate checks.

Only the run opens `warehouse.duckdb`, and only inside the one step that
builds it; readers use the published snapshot instead (see publish.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from .layout import PRIVATE_FILE_MODE, DataDir, private_dir
from .parsers import SOURCES
from .parsers.wearable_tables import WEARABLE_TABLES
from .pseudonym import PSEUDONYM_HEX_CHARS, pseudonymize, pseudonymize_mentions
from .raw_store import MANIFEST, MANIFEST_SCHEMA, current_partitions
from .sql_catalog import Check, SqlTable


def _pseudonymizer(key: bytes) -> Callable[[str | None], str | None]:
    """`pseudonymize` for the identifiers SQL's HMAC does not take (see `prepare`): a scalar
    Python function, each distinct identifier hashed once. Not an Arrow function: DuckDB also
    calls it on a constant vector (a one-row roster's id, a column of nulls) whose value SQL
    handles, and building the first pyarrow array from Python values grows the process for
    the rest of the run, in the warehouse step's peak (benchmarks/README.md, "Apple Health")."""

    @lru_cache(maxsize=1 << 17)
    def one(identifier: str | None) -> str | None:
        return pseudonymize(identifier, key)

    return one


def hmac_pads(key: bytes) -> tuple[str, str]:
    """HMAC-SHA-256's inner and outer padded keys (RFC 2104) as DuckDB blob literals."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    return tuple(
        "'" + "".join(f"\\x{byte ^ pad:02x}" for byte in block) + "'::blob" for pad in (0x36, 0x5C)
    )


def prepare(con: duckdb.DuckDBPyConnection, key: bytes) -> None:
    """Register `pseudonymize()`, `pseudonymize_mentions()` and `newest_copy()`; create schemas."""
    con.create_function(
        "pseudonymize_exactly",
        _pseudonymizer(key),
        [duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",  # an identifier of only whitespace has no pid
        side_effects=False,
    )
    # `pseudonymize` is HMAC-SHA-256 written in SQL (DuckDB's own sha256, in parallel) for
    # identifiers of printable ASCII without spaces — nearly all of them, and the same digest as
    # pseudonym.pseudonymize (tests/unit/test_pseudonym.py) — and the Python function for
    # anything else, whose Unicode whitespace rules SQL's trim does not share. A temporary macro:
    # the padded key lives in this connection only, never in the warehouse file.
    inner, outer = hmac_pads(key)
    con.execute(
        f"""
        create or replace temp macro pseudonymize(identifier) as
        case
            when identifier is null then null
            when regexp_full_match(identifier, '[!-~]+')
                then 'p_' || left(
                    sha256({outer} || unhex(sha256({inner} || encode(identifier)))),
                    {PSEUDONYM_HEX_CHARS}
                )
            else pseudonymize_exactly(identifier)
        end
        """
    )
    # (text, participant_id): a landing path or a parser's message with the person's id as pid
    con.create_function(
        "pseudonymize_mentions",
        lambda text, identifier: pseudonymize_mentions(text, identifier, key),
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        null_handling="special",
        side_effects=False,
    )
    # Which copy of a program-export record counts: the one in the newest export; within an
    # export, the later file, then the later line. `key` is a list of the record's key columns.
    con.execute(
        """
        create or replace macro newest_copy(raw_table, key) as table
        select * from query_table(raw_table)
        qualify row_number() over (
            partition by key order by exported_at desc, source_file desc, row_number desc
        ) = 1
        """
    )
    for schema in ("raw", "meta", "staging", "marts", "models"):
        con.execute(f"create schema if not exists {schema}")


MEMORY_ENV = "STEADYBACK_WAREHOUSE_MEMORY"
DEFAULT_MEMORY = "2GB"
"""DuckDB's memory limit while the warehouse is built (its own default, most of the machine's
memory, let the 50,000-person build peak at 7 GB in `staging.wearable__records`). Past it
DuckDB writes intermediate results to `warehouse.duckdb.tmp/` in the private data dir and
carries on; a 10,000-person build stays under it (benchmarks/README.md)."""


def warehouse_memory() -> str:
    """The memory limit from STEADYBACK_WAREHOUSE_MEMORY (a DuckDB size: `4GB`, `1500MB`)."""
    return os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY


@contextmanager
def open_warehouse(data_dir: DataDir, key: bytes) -> Iterator[duckdb.DuckDBPyConnection]:
    private_dir(data_dir.root)
    memory = warehouse_memory()
    try:
        con = duckdb.connect(str(data_dir.warehouse), config={"memory_limit": memory})
    except (duckdb.ParserException, duckdb.InvalidInputException) as err:
        raise ValueError(
            f"{MEMORY_ENV}={memory!r} is not a size DuckDB reads (e.g. 4GB, 1500MB): {err}"
        ) from err
    os.chmod(data_dir.warehouse, PRIVATE_FILE_MODE)  # it holds raw identifiers
    try:
        prepare(con, key)
        yield con
    finally:
        con.close()


_DUCKDB_TYPES = {
    pl.String: "varchar",
    pl.Int64: "bigint",
    pl.Int32: "integer",
    pl.Int16: "smallint",
    pl.Float64: "double",
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Datetime("us", "UTC"): "timestamptz",
    pl.Datetime("us"): "timestamp",
}
_LINEAGE = {"source_file": "varchar", "file_sha256": "varchar", "ingested_at": "timestamptz"}


def _raw_table_schemas() -> dict[str, dict[str, pl.DataType]]:
    # the canonical wearable tables exist even before any wearable export arrives
    schemas: dict[str, dict[str, pl.DataType]] = {t: dict(s) for t, s in WEARABLE_TABLES.items()}
    for source in SOURCES:
        for table, schema in source.outputs.items():
            if schemas.setdefault(table, dict(schema)) != dict(schema):
                raise ValueError(f"sources disagree on the schema of raw.{table}")
    return schemas


def _create_raw_table(
    con: duckdb.DuckDBPyConnection, table: str, schema: dict[str, pl.DataType], parts: list[str]
) -> None:
    columns = {name: _DUCKDB_TYPES[dtype] for name, dtype in schema.items()}
    columns.setdefault("row_number", "bigint")
    columns |= _LINEAGE
    if not parts:
        ddl = ", ".join(f'"{name}" {sql_type}' for name, sql_type in columns.items())
        con.execute(f"create or replace table raw.{table} ({ddl}, exported_at timestamptz)")
        return
    select = ", ".join(
        f'cast(r."{name}" as {sql_type}) as "{name}"' for name, sql_type in columns.items()
    )
    # One content may sit at several paths: its latest export time orders it.
    con.execute(
        f"""
        create or replace table raw.{table} as
        with exports as (
            select file_sha256, max(modified_at) as exported_at from raw.files group by file_sha256
        )
        select {select}, e.exported_at
        from read_parquet(?, union_by_name = true, hive_partitioning = false) as r
        join exports as e using (file_sha256)
        """,
        [parts],
    )


@dataclass(frozen=True)
class RawFiles:
    """The raw layer's files a run loads: each source's manifest, each raw table's Parquet
    partitions, and each partition's issues file as (entity, path)."""

    manifests: tuple[str, ...] = ()
    tables: Mapping[str, list[str]] = field(default_factory=dict)
    issues: tuple[tuple[str, str], ...] = ()
    table_bytes: int = 0  # the raw tables' Parquet, all partitions


# A raw layer this small (one person's large Apple Health export: about a megabyte of
# Parquet) is built on one DuckDB thread: a second one adds its own buffers at the peak
# (measured: about as much as the largest table's build needs) and saves little time on so
# little data. A daily-grain cohort of a thousand people has a few MB and keeps every
# thread until one thread is measured not to slow it (benchmarks/README.md, "Apple Health").
ONE_THREAD_RAW_BYTES = 2 * 2**20
# ... and within a smaller memory limit, unless STEADYBACK_WAREHOUSE_MEMORY sets one: DuckDB
# then keeps fewer of the finished tables' blocks in memory beside the one being built, which
# lowered such a build's peak at no measured cost in time (benchmarks/README.md).
SMALL_RAW_MEMORY = "256MB"


def find_raw_files(data_dir: DataDir) -> RawFiles:
    """The files of the exports now in landing/ (one partition per distinct content)."""
    raw = data_dir.raw_store
    manifests: list[str] = []
    tables: dict[str, list[str]] = {}
    issues: list[tuple[str, str]] = []
    table_bytes = 0
    for source in SOURCES:
        partitions = current_partitions(data_dir, source)
        if not partitions:
            continue
        manifests.append(raw.uri(f"{source.name}/{MANIFEST}"))
        # one listing per source, not one look-up per table and partition (object storage)
        present = {
            f.relative: f.size_bytes for f in raw.files(f"{source.name}/parser={source.version}")
        }
        for partition in partitions:
            issues.append((source.name, raw.uri(f"{partition}/issues.parquet")))
            for table in source.outputs:
                relative = f"{partition}/{table}.parquet"
                if relative in present:
                    tables.setdefault(table, []).append(raw.uri(relative))
                    table_bytes += present[relative]
    return RawFiles(tuple(manifests), tables, tuple(issues), table_bytes)


def load_raw(con: duckdb.DuckDBPyConnection, data_dir: DataDir) -> dict[str, int]:
    """(Re)create raw.<table>, raw.files and raw.ingest_issues from the raw layer; a small
    one sets the connection to one thread and SMALL_RAW_MEMORY for the rest of the build
    (ONE_THREAD_RAW_BYTES)."""
    data_dir.raw_store.register(con)
    files = find_raw_files(data_dir)
    if files.table_bytes < ONE_THREAD_RAW_BYTES:
        con.execute("set threads = 1")
        if not os.environ.get(MEMORY_ENV, "").strip():
            con.execute("set memory_limit = ?", [SMALL_RAW_MEMORY])
    return create_raw_tables(con, files)


def create_raw_tables(
    con: duckdb.DuckDBPyConnection, files: RawFiles | None = None
) -> dict[str, int]:
    """(Re)create every raw table from `files`: raw.<table> for each parser output (the
    canonical wearable tables included), raw.files, raw.ingest_issues, raw.sources and
    raw.identifier_fields; returns the rows of each raw.<table>.

    Without files every table is there and empty, as before any export arrived (the
    hand-made warehouses of the tests start from that).
    """
    files = files or RawFiles()
    if files.manifests:
        con.execute(
            # union_by_name: a manifest of an older steadyback lacks the columns added since
            "create or replace table raw.files as "
            "select * from read_parquet(?, hive_partitioning = false, union_by_name = true)",
            [list(files.manifests)],
        )
    else:
        columns = ", ".join(f'"{n}" {_DUCKDB_TYPES[t]}' for n, t in MANIFEST_SCHEMA.items())
        con.execute(f"create or replace table raw.files ({columns})")

    counts: dict[str, int] = {}
    for table, schema in _raw_table_schemas().items():
        _create_raw_table(con, table, schema, files.tables.get(table, []))
        counts[f"raw.{table}"] = con.execute(f"select count(*) from raw.{table}").fetchone()[0]

    con.execute("create or replace table raw.sources (entity varchar, cumulative boolean)")
    con.executemany(
        "insert into raw.sources values (?, ?)", [(s.name, s.cumulative) for s in SOURCES]
    )
    identifier_fields = {(s.name, f) for s in SOURCES for f in s.identifiers}
    con.execute("create or replace table raw.identifier_fields (entity varchar, field varchar)")
    if identifier_fields:
        con.executemany(
            "insert into raw.identifier_fields values (?, ?)", sorted(identifier_fields)
        )
    con.execute(
        "create or replace table raw.ingest_issues (entity varchar, source varchar, "
        "file varchar, file_sha256 varchar, line bigint, field varchar, value varchar, "
        "reason varchar, severity varchar, action varchar)"
    )
    for entity, path in files.issues:
        key = Path(path).parent.name.removeprefix("file_sha256=")
        con.execute(
            """
            insert into raw.ingest_issues
            select f.entity, f.source, f.file, f.file_sha256, i.line, i.field, i.value,
                   i.reason, i.severity, i.action
            from read_parquet(?, hive_partitioning = false) as i
            cross join (
                select * from raw.files where entity = ? and partition_key = ?
                order by modified_at desc limit 1
            ) as f
            """,
            [path, entity, key],
        )
    return counts


def set_run_parameters(
    con: duckdb.DuckDBPyConnection,
    as_of: date | None,
    run_id: str,
    key_fingerprint: str | None = None,
) -> None:
    """The build's settings; `key_fingerprint` says which key made its pids (publish checks it).

    The program's thresholds are recorded beside them by `rules.record_rules`.
    """
    con.execute(
        "create or replace table meta.run_parameters as select ?::date as as_of_override, "
        "?::varchar as run_id, ?::varchar as key_fingerprint",
        [as_of, run_id, key_fingerprint],
    )


def built_with_key(con: duckdb.DuckDBPyConnection) -> str | None:
    """The key fingerprint the warehouse's pids were made with; None if it does not say."""
    recorded = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'meta' "
        "and table_name = 'run_parameters' and column_name = 'key_fingerprint'"
    ).fetchone()[0]
    if not recorded:
        return None
    row = con.execute("select key_fingerprint from meta.run_parameters").fetchone()
    return row[0] if row else None


def build_table(con: duckdb.DuckDBPyConnection, model: SqlTable) -> int:
    """Create or replace the model's table; returns its row count."""
    body = model.sql.strip().rstrip(";")
    con.execute(f"create or replace table {model.schema}.{model.name} as\n{body}")
    return con.execute(f"select count(*) from {model.table}").fetchone()[0]


@dataclass(frozen=True)
class CheckOutcome:
    check: Check
    failing_rows: int
    sample: list[dict]

    @property
    def passed(self) -> bool:
        return self.failing_rows == 0


def evaluate_check(
    con: duckdb.DuckDBPyConnection, check: Check, sample_size: int = 5
) -> CheckOutcome:
    body = check.sql.strip().rstrip(";")
    failing = con.execute(f"select count(*) from ({body})").fetchone()[0]
    sample: list[dict] = []
    if failing:
        cursor = con.execute(f"select * from ({body}) limit {int(sample_size)}")
        names = [d[0] for d in cursor.description]
        sample = [dict(zip(names, map(str, row), strict=True)) for row in cursor.fetchall()]
    return CheckOutcome(check, failing, sample)


def insert_rows(
    con: duckdb.DuckDBPyConnection, table: str, rows: list[tuple], schema: dict[str, pl.DataType]
) -> None:
    """Append `rows` to an existing table in one statement (DuckDB's executemany runs one
    statement per row: seconds for a few hundred)."""
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    con.register("rows_to_insert", frame.to_arrow())
    try:
        con.execute(f"insert into {table} select * from rows_to_insert")
    finally:
        con.unregister("rows_to_insert")


def record_check_outcomes(con: duckdb.DuckDBPyConnection, outcomes: list[CheckOutcome]) -> None:
    con.execute(
        "create or replace table meta.check_results (asset varchar, check_name varchar, "
        "passed boolean, blocking boolean, failing_rows bigint, description varchar)"
    )
    insert_rows(
        con,
        "meta.check_results",
        [
            (
                o.check.table,
                o.check.name,
                o.passed,
                o.check.blocking,
                o.failing_rows,
                o.check.description,
            )
            for o in outcomes
        ],
        {
            "asset": pl.String,
            "check_name": pl.String,
            "passed": pl.Boolean,
            "blocking": pl.Boolean,
            "failing_rows": pl.Int64,
            "description": pl.String,
        },
    )
