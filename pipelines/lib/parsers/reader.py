"""Read one export file (CSV or JSON Lines) into text columns with line numbers.

Everything stays text here; `spec.validate` decides what a value means. A
line that cannot be read (wrong number of fields, broken JSON) becomes an
`Issue` and the rest of the file is still read.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl

from .spec import Issue


class UnreadableFile(Exception):
    """The whole file cannot be used; the message says why, for a person to act on."""


def read_export(path: Path) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    """Return (rows as text with `row_number` = line in file, header columns, line issues)."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise UnreadableFile(
            f"not UTF-8 text (invalid byte at offset {err.start}); re-export it as UTF-8"
        ) from err
    if not text.strip():
        raise UnreadableFile("the file is empty")
    if path.suffix.lower() == ".jsonl":
        return _read_jsonl(text)
    return _read_csv(text)


def _read_csv(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    reader = csv.reader(text.splitlines(keepends=True))
    header = [h.strip() for h in next(reader)]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise UnreadableFile(f"the header repeats column(s) {', '.join(dupes)}")
    columns: list[list[str | None]] = [[] for _ in header]
    lines: list[int] = []
    issues: list[Issue] = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue  # blank line (the Fitabase heart-rate file ends with one)
        if len(row) != len(header):
            issues.append(
                Issue(line, None, None, f"expected {len(header)} fields, found {len(row)}")
            )
            continue
        for values, cell in zip(columns, row, strict=True):
            values.append(cell if cell != "" else None)
        lines.append(line)
    data = {
        name: pl.Series(name, values, dtype=pl.String)
        for name, values in zip(header, columns, strict=True)
    }
    frame = pl.DataFrame(data).with_columns(pl.Series("row_number", lines, dtype=pl.Int64))
    return frame, header, issues


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    text = str(value)
    return text if text != "" else None


def _read_jsonl(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    records: list[tuple[int, dict]] = []
    issues: list[Issue] = []
    header: list[str] = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as err:
            issues.append(
                Issue(line, None, None, f"not valid JSON: {err.msg} at column {err.colno}")
            )
            continue
        if not isinstance(record, dict):
            issues.append(Issue(line, None, None, "each line must be a JSON object"))
            continue
        for name in record:
            if name not in header:
                header.append(name)
        records.append((line, record))
    data = {
        name: pl.Series(name, [_as_text(r.get(name)) for _, r in records], dtype=pl.String)
        for name in header
    }
    frame = pl.DataFrame(data).with_columns(
        pl.Series("row_number", [line for line, _ in records], dtype=pl.Int64)
    )
    return frame, header, issues
