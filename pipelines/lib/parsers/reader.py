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
        return read_plain_jsonl(text) or read_jsonl_records(text)
    return _read_csv(text)


def _read_csv(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    if is_plain(text):
        return read_plain_csv(text)
    return read_csv_records(text)


_OTHER_LINE_BREAKS = ("\x0b", "\x0c", "\x1c", "\x1d", "\x1e")


def is_plain(text: str) -> bool:
    """True when every line is one record split at its commas: ASCII without quotes, line ends
    `\n` or `\r\n` only, a first line that is not blank. Nearly every export is plain."""
    return (
        text.isascii()
        and '"' not in text
        and not any(mark in text for mark in _OTHER_LINE_BREAKS)
        and text.count("\r") == text.count("\r\n")
        and bool(text.split("\n", 1)[0].strip(" \t\r\x1f,"))
    )


def numbered_lines(text: str) -> pl.DataFrame:
    """(row_number, line) of text whose lines end in `\n` or `\r\n`, the ends taken off."""
    return (
        pl.Series("line", text.split("\n"))
        .str.strip_suffix("\r")
        .to_frame()
        .with_row_index("row_number", offset=1)
        .with_columns(pl.col("row_number").cast(pl.Int64))
    )


def read_plain_csv(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    """`read_csv_records` for plain text (see `is_plain`) in Polars, without a Python row loop: the
    same columns, line numbers and issues (tests/unit/test_program_parsers.py compares them)."""
    lines = numbered_lines(text)
    header = [h.strip() for h in lines["line"][0].split(",")]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise UnreadableFile(f"the header repeats column(s) {', '.join(dupes)}")
    body = lines.slice(1).with_columns(
        fields=pl.col("line").str.count_matches(",", literal=True) + 1,
        # csv.reader's blank row: no cell holds anything but ASCII whitespace
        blank=pl.col("line").str.contains(r"^[ \t\x1f,]*$"),
    )
    issues = [
        Issue(line, None, None, f"expected {len(header)} fields, found {fields}")
        for line, fields in body.filter(~pl.col("blank") & (pl.col("fields") != len(header)))
        .select("row_number", "fields")
        .iter_rows()
    ]
    rows = body.filter(~pl.col("blank") & (pl.col("fields") == len(header)))
    cells = (
        rows.select(
            pl.col("line")
            .str.split_exact(",", len(header) - 1)
            .struct.rename_fields(header)
            .struct.unnest()
        )
        .with_columns(pl.all().replace("", None))
        .with_columns(rows["row_number"])
    )
    return cells, header, issues


def read_csv_records(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    """Any CSV the standard library reads (quoted fields, line breaks inside them), row by row."""
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


_JSON_KEY = r'"(?:[^"\\]|\\.)*"\s*:'
# a number Polars would write its own way: a fraction or exponent (Python writes 3.0 as "3",
# Polars as "3.0") or minus zero (Python "0")
_JSON_ODD_NUMBER = r"[:,\[]\s*-?[0-9]+(\.[0-9]|[eE])|[:,\[]\s*-0+\s*[,}\]]"
# a value that is an object or a list (may also match inside a string: then the line reader reads it)
_JSON_NESTED = r":\s*[\[{]"


def read_plain_jsonl(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]] | None:
    """`read_jsonl_records` in Polars for the common case, else None (then read it line by line).

    The common case: every line that is not blank is one flat JSON object of strings, integers,
    booleans and nulls, no key twice in a line, no number with a fraction and no minus zero,
    line ends `\n` or `\r\n`. Same columns in the same order, line numbers and text as the line
    reader (tests/unit/test_program_parsers.py compares them).
    """
    if any(mark in text for mark in (*_OTHER_LINE_BREAKS, "\x85", "\u2028", "\u2029", "\x1f")):
        return None
    if text.count("\r") != text.count("\r\n"):
        return None
    lines = numbered_lines(text).filter(pl.col("line").str.strip_chars().str.len_bytes() > 0)
    if lines.is_empty():
        return None
    line = lines["line"].str.strip_chars()
    if not (line.str.starts_with("{") & line.str.ends_with("}")).all() or (
        line.str.contains(_JSON_ODD_NUMBER) | line.str.contains(_JSON_NESTED)
    ).any():
        return None
    keys = (
        lines["line"].str.extract_all(_JSON_KEY).list.eval(pl.element().str.strip_chars_end(": \t"))
    )
    # a key twice in a line, or a key with an escape (two spellings of one name)
    if (keys.list.len() != keys.list.n_unique()).any() or (
        keys.explode().str.contains("\\", literal=True).any()
    ):
        return None
    # names in the order they first appear, as the line reader finds them: the first line that
    # holds each key, read again in Python for its order there
    firsts = (
        keys.to_frame("key")
        .with_row_index("at")
        .explode("key")
        .group_by("key")
        .agg(pl.col("at").min())
    )
    header: list[str] = []
    for at in sorted(set(firsts["at"].drop_nulls().to_list())):
        try:
            record = json.loads(lines["line"][at])
        except json.JSONDecodeError:
            return None
        if not isinstance(record, dict):
            return None
        header.extend(name for name in record if name not in header)
    # every value read as text: scalars only (checked above), so a number or boolean keeps the
    # characters the line has, which is what the line reader makes of it; no schema inference
    # (a pass over the whole file, most of the read)
    try:
        records = pl.read_ndjson(text.encode(), schema=dict.fromkeys(header, pl.String))
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if records.height != lines.height:
        return None
    frame = records.select(pl.col(name).replace("", None) for name in header).with_columns(
        lines["row_number"]
    )
    return frame, header, []


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


def read_jsonl_records(text: str) -> tuple[pl.DataFrame, list[str], list[Issue]]:
    """Any JSON Lines text, line by line: a broken line is an issue, the rest is read."""
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
