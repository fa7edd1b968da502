"""Program exports as text tables (CSV or JSON Lines), checked field by field against their spec."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from .reader import UnreadableFile, read_export
from .spec import Entity, Issue, validate


def parse_spec_file(path: Path, entity: Entity) -> tuple[pl.DataFrame | None, list[Issue], int]:
    """Parse and validate one file: (rows that land or None, issues, rows read)."""
    try:
        frame, header, issues = read_export(path)
    except UnreadableFile as err:
        return None, [Issue(None, None, None, str(err), action="file quarantined")], 0
    rows_read = frame.height + sum(1 for i in issues if i.line is not None)
    known = set(entity.column_names) | set(entity.ignored)
    is_csv = path.suffix.lower() != ".jsonl"
    missing = [f for f in entity.required if f not in header]
    if is_csv and missing:
        reason = (
            f"required column(s) {', '.join(missing)} missing from the header; "
            f"found: {', '.join(header)}"
        )
        return (
            None,
            [Issue(1, ", ".join(missing), None, reason, action="file quarantined")],
            rows_read,
        )
    for name in header:
        if name not in known:
            issues.append(
                Issue(
                    1 if is_csv else None,
                    name,
                    None,
                    f"unknown column {name!r} ignored",
                    severity="warning",
                    action="column ignored",
                )
            )
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(name)
        for name in entity.column_names
        if name not in frame.columns
    )
    frame = frame.select(*entity.column_names, "row_number")
    good, field_issues = validate(frame, entity)
    issues = sorted(
        issues + field_issues, key=lambda i: (i.line is not None, i.line or 0, i.field or "")
    )
    return good, issues, rows_read
