"""Reading a Fitabase file into checked text rows: whole, or in chunks for minute and second data.

Daily and hourly files are small and go through `tabular.parse_spec_file` like
every program export. Minute- and second-level files grow with people × days ×
1440 (a study's heart-rate file easily holds tens of millions of samples), so
they are read in chunks of rows, each checked with the same `spec.validate`
and handed to a consumer that keeps only what it needs. Both paths report the
same issues for the same file: header problems quarantine the file, a line
with the wrong number of fields or a broken field quarantines that row.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from ..spec import Entity, Issue, validate
from ..tabular import parse_spec_file

CHUNK_ROWS = 250_000
DUPLICATE = "duplicate dropped"  # Issue action: the row's content landed once already


class FileProblem(Exception):
    """The whole file cannot be used; `issue` says why, for a person to act on."""

    def __init__(self, reason: str, line: int | None = None, field: str | None = None):
        super().__init__(reason)
        self.issue = Issue(line, field, None, reason, action="file quarantined")


def read_whole(path: Path, entity: Entity) -> tuple[pl.DataFrame | None, list[Issue], int]:
    """Checked text rows of a small file, exact duplicate rows counted once: (rows, issues, rows read)."""
    rows, issues, rows_read = parse_spec_file(path, entity)
    if rows is None:
        return None, issues, rows_read
    rows, duplicates = drop_exact_duplicates(rows, entity.column_names)
    return rows, by_line(issues + duplicates), rows_read


def drop_exact_duplicates(
    rows: pl.DataFrame, columns: Iterable[str]
) -> tuple[pl.DataFrame, list[Issue]]:
    """Keep the first of rows that repeat another row field for field; a warning for each repeat.

    Fitabase repeats some rows verbatim (sleepDay of the 2016 export has three);
    the same night or day counted twice would double it.
    """
    columns = list(columns)
    marked = rows.with_columns(pl.col("row_number").min().over(columns).alias("_first"))
    repeats = marked.filter(pl.col("row_number") != pl.col("_first"))
    issues = [
        Issue(
            line, None, None, f"exact duplicate of line {first}; counted once", "warning", DUPLICATE
        )
        for line, first in repeats.select("row_number", "_first").iter_rows()
    ]
    return rows.filter(pl.col("row_number") == marked["_first"]), issues


def read_in_chunks(
    path: Path,
    entity: Entity,
    consume: Callable[[pl.DataFrame], None],
    chunk_rows: int | None = None,
) -> tuple[list[Issue], int, bool]:
    """Feed checked text rows (entity columns + `row_number`) to `consume`, chunk by chunk.

    Returns (issues, rows read, whether the file was usable). When it was not,
    the one issue says why and whatever was consumed must be discarded.
    """
    chunk_rows = chunk_rows or CHUNK_ROWS
    issues: list[Issue] = []
    rows_read = 0
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = _header(reader, entity, issues)
            index = {name: header.index(name) for name in entity.column_names if name in header}
            columns: dict[str, list[str | None]] = {name: [] for name in index}
            lines: list[int] = []

            def flush() -> None:
                if not lines:
                    return
                chunk = _chunk(entity, columns, lines)
                good, field_issues = validate(chunk, entity)
                issues.extend(field_issues)
                consume(good)
                for values in columns.values():
                    values.clear()
                lines.clear()

            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank line (the real heart-rate file ends with one)
                rows_read += 1
                if len(row) != len(header):
                    issues.append(
                        Issue(
                            reader.line_num,
                            None,
                            None,
                            f"expected {len(header)} fields, found {len(row)}",
                        )
                    )
                    continue
                for name, position in index.items():
                    cell = row[position]
                    columns[name].append(cell if cell != "" else None)
                lines.append(reader.line_num)
                if len(lines) >= chunk_rows:
                    flush()
            flush()
    except UnicodeDecodeError:
        reason = f"not UTF-8 text (after {rows_read} rows); re-export it as UTF-8"
        return [FileProblem(reason).issue], rows_read, False
    except FileProblem as err:
        return [err.issue], rows_read, False
    return by_line(issues), rows_read, True


def _header(reader, entity: Entity, issues: list[Issue]) -> list[str]:
    """The header row, checked as `tabular.parse_spec_file` checks it."""
    first = next(reader, None)
    if first is None:
        raise FileProblem("the file is empty")
    header = [name.strip() for name in first]
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        reason = f"the header repeats column(s) {', '.join(repeated)}"
        raise FileProblem(reason)
    missing = [name for name in entity.required if name not in header]
    if missing:
        reason = (
            f"required column(s) {', '.join(missing)} missing from the header; "
            f"found: {', '.join(header)}"
        )
        raise FileProblem(reason, line=1, field=", ".join(missing))
    known = set(entity.column_names) | set(entity.ignored)
    issues.extend(
        Issue(1, name, None, f"unknown column {name!r} ignored", "warning", "column ignored")
        for name in header
        if name not in known
    )
    return header


def _chunk(entity: Entity, columns: dict[str, list[str | None]], lines: list[int]) -> pl.DataFrame:
    data = {
        name: pl.Series(name, columns.get(name) or [None] * len(lines), dtype=pl.String)
        for name in entity.column_names
    }
    return pl.DataFrame(data).with_columns(pl.Series("row_number", lines, dtype=pl.Int64))


def by_line(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line is not None, i.line or 0, i.field or ""))
