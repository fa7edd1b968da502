"""Build the DuckDB warehouse: load raw Parquet, run the SQL models, evaluate checks.

Only the run opens `warehouse.duckdb`, and only inside the one step that
builds it; readers use the published snapshot instead (see publish.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

import duckdb

from .layout import DataDir
from .parsers import ENTITIES
from .parsers.spec import LINEAGE_COLUMNS, Entity
from .pseudonym import pseudonymize
from .raw_store import MANIFEST, current_partitions
from .sql_catalog import Check, SqlModel


@contextmanager
def open_warehouse(data_dir: DataDir, key: bytes) -> Iterator[duckdb.DuckDBPyConnection]:
    data_dir.root.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(data_dir.warehouse))
    try:
        con.create_function(
            "pseudonymize",
            lambda identifier: pseudonymize(identifier, key),
            [duckdb.sqltype("VARCHAR")],
            duckdb.sqltype("VARCHAR"),
            side_effects=False,
        )
        for schema in ("raw", "meta", "staging", "marts", "models"):
            con.execute(f"create schema if not exists {schema}")
        yield con
    finally:
        con.close()


def _empty_raw_table(con: duckdb.DuckDBPyConnection, entity: Entity) -> None:
    columns = ", ".join(f'"{name}" varchar' for name in entity.column_names)
    con.execute(
        f"create or replace table raw.{entity.name} ({columns}, source_file varchar, "
        "file_sha256 varchar, row_number bigint, ingested_at timestamptz, exported_at timestamptz)"
    )


def load_raw(con: duckdb.DuckDBPyConnection, data_dir: DataDir) -> dict[str, int]:
    """(Re)create raw.<entity>, raw.files and raw.ingest_issues from the raw layer."""
    manifests = [
        str(path) for e in ENTITIES if (path := data_dir.raw_entity(e.name) / MANIFEST).exists()
    ]
    if manifests:
        con.execute(
            "create or replace table raw.files as select * from read_parquet(?)", [manifests]
        )
    else:
        con.execute(
            "create or replace table raw.files (entity varchar, source varchar, file varchar, "
            "file_sha256 varchar, size_bytes bigint, modified_at timestamptz, rows_read bigint, "
            "rows_landed bigint, rows_quarantined bigint, status varchar, error varchar)"
        )
    counts: dict[str, int] = {}
    issue_files: list[str] = []
    identifier_fields: list[tuple[str, str]] = []
    for entity in ENTITIES:
        identifier_fields += [(entity.name, f) for f in entity.identifiers]
        partitions = list(current_partitions(data_dir, entity))
        issue_files += [str(p / "issues.parquet") for _, p in partitions]
        parts = [str(p / "part.parquet") for _, p in partitions if (p / "part.parquet").exists()]
        if not parts:
            _empty_raw_table(con, entity)
        else:
            columns = ", ".join(f'r."{c}"' for c in (*entity.column_names, *LINEAGE_COLUMNS))
            # One content may sit at several paths: its latest export time orders it.
            con.execute(
                f"""
                create or replace table raw.{entity.name} as
                with exports as (
                    select file_sha256, max(modified_at) as exported_at
                    from raw.files where entity = ? group by file_sha256
                )
                select {columns}, e.exported_at
                from read_parquet(?, union_by_name = true) r
                join exports e using (file_sha256)
                """,
                [entity.name, parts],
            )
        counts[f"raw.{entity.name}"] = con.execute(
            f"select count(*) from raw.{entity.name}"
        ).fetchone()[0]

    con.execute("create or replace table raw.identifier_fields (entity varchar, field varchar)")
    if identifier_fields:
        con.executemany("insert into raw.identifier_fields values (?, ?)", identifier_fields)
    if issue_files:
        con.execute(
            """
            create or replace table raw.ingest_issues as
            with issues as (
                select *, regexp_extract(filename, 'file_sha256=([0-9a-f]+)', 1) as file_sha256
                from read_parquet(?, filename = true)
            )
            select f.entity, f.source, f.file, i.file_sha256, i.line, i.field, i.value,
                   i.reason, i.severity, i.action
            from issues i
            join raw.files f using (file_sha256)
            where f.entity = regexp_extract(i.filename, '/raw/([^/]+)/file_sha256=', 1)
            """,
            [issue_files],
        )
    else:
        con.execute(
            "create or replace table raw.ingest_issues (entity varchar, source varchar, "
            "file varchar, file_sha256 varchar, line bigint, field varchar, value varchar, "
            "reason varchar, severity varchar, action varchar)"
        )
    return counts


def set_run_parameters(con: duckdb.DuckDBPyConnection, as_of: date | None, run_id: str) -> None:
    con.execute(
        "create or replace table meta.run_parameters as select ?::date as as_of_override, "
        "?::varchar as run_id",
        [as_of, run_id],
    )


def build_model(con: duckdb.DuckDBPyConnection, model: SqlModel) -> int:
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


def record_check_outcomes(con: duckdb.DuckDBPyConnection, outcomes: list[CheckOutcome]) -> None:
    con.execute(
        "create or replace table meta.check_results (asset varchar, check_name varchar, "
        "passed boolean, blocking boolean, failing_rows bigint, description varchar)"
    )
    con.executemany(
        "insert into meta.check_results values (?, ?, ?, ?, ?, ?)",
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
    )
