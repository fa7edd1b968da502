"""Copies of a generated cohort's data dir — its landing files, the generator's record of them
and the snapshot the real pipeline published from them — for tests that change what is there.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb


def copy_generated(source: Path, target: Path) -> Path:
    """`landing/`, `truth/` and `published/` of a generated data dir (e.g. `small_cohort`)."""
    for folder in ("landing", "truth", "published"):
        shutil.copytree(source / folder, target / folder)
    mark_generated_until_the_pipeline_does(target)
    return target


def mark_generated_until_the_pipeline_does(data_dir: Path) -> None:
    """Add `meta.snapshot.generated_cohort = true` to this copy's snapshot if it lacks the column.

    Issue 9 has the pipeline write the column (true when the ingested landing files are
    exactly the generator's manifest); until that lands on this branch, a copy of a
    generated cohort's snapshot gets it here. Once the pipeline writes it, this does
    nothing and can be dropped.
    """
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"))
    try:
        columns = {
            name
            for (name,) in connection.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'meta' and table_name = 'snapshot'"
            ).fetchall()
        }
        if "generated_cohort" not in columns:
            connection.execute(
                "alter table meta.snapshot add column generated_cohort boolean default true"
            )
    finally:
        connection.close()
