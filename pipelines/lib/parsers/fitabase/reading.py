"""Reading a Fitabase file into checked text rows: whole, or in blocks of lines for minute and second data.

Daily and hourly files are small and go through `tabular.parse_spec_file` like
every program export. Minute- and second-level files grow with people × days ×
1440 (a study's heart-rate file easily holds tens of millions of samples), so
they are read in blocks of whole lines, each checked with the same `spec.validate`
and handed to a consumer that keeps only what it needs. Both paths report the
same issues for the same file: header problems quarantine the file, a line
with the wrong number of fields or a broken field quarantines that row, blank
lines are skipped.

A block is split into fields by Polars' CSV reader, and numpy finds each line's
end, field count and whether it is blank from the raw bytes; a block holding a
quote, a carriage return inside a line or a NUL is read from there on with the
csv module, line by line, as before (only it reads quoted fields and lone carriage
returns as a spreadsheet wrote them). A file can also be read as separate byte
ranges of whole lines (`MinuteFile`: one range per Dask task, raw_store.py), each
numbering its lines from 1; `MinuteFile.merge` shifts them to the file's lines.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO

import numpy as np
import polars as pl

from ..source import Parsed
from ..spec import Entity, Issue, NeedsText, time_column, validate
from ..tabular import parse_spec_file

CHUNK_BYTES = 8 << 20
"""Bytes of whole lines read, checked and handed on at once: about 6 % less CPU than 4 MB
blocks on heart-rate and steps ranges (paired runs, benchmarks/README.md), for ~40 MB more
memory in a process that parses them; 16 MB gained nothing more."""
CSV_CHUNK_ROWS = 250_000
"""Rows checked at once when a file is read with the csv module."""
DUPLICATE = "duplicate dropped"  # Issue action: the row's content landed once already

_LF, _CR, _COMMA = 10, 13, 44
# A blank line (only whitespace and commas, which csv would read as empty fields) starts with
# one of these bytes or is empty; non-ASCII lead bytes may start a Unicode space.
_MAYBE_BLANK = np.zeros(256, dtype=bool)
_MAYBE_BLANK[[9, 10, 11, 12, 13, 28, 29, 30, 31, 32, _COMMA]] = True
_MAYBE_BLANK[128:] = True


class FileProblem(Exception):
    """The whole file cannot be used; `issue` says why, for a person to act on."""

    def __init__(
        self, reason: str, line: int | None = None, field: str | None = None, rows_read: int = 0
    ):
        super().__init__(reason)
        self.issue = Issue(line, field, None, reason, action="file quarantined")
        self.rows_read = rows_read  # rows read before the problem


class NeedsCsvModule(Exception):
    """Bytes only the csv module reads as intended: a quote (a field may hold commas and line
    breaks), a carriage return inside a line (csv ends the line there) or a NUL (csv refuses it)."""


def not_utf8(line: int, rows_read: int = 0) -> FileProblem:
    return FileProblem(
        f"not UTF-8 text (line {line} holds a byte that is not); re-export it as UTF-8",
        line=line,
        rows_read=rows_read,
    )


# --- whole small files ------------------------------------------------------------------------


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


# --- the header -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]  # stripped names, in file order
    warnings: tuple[Issue, ...]  # unknown columns, ignored
    size: int  # bytes of the header line with its line end: where line 2 starts


def read_header(first_line: bytes, entity: Entity) -> Header:
    """The header line (bytes up to and with the first line feed), checked as
    `tabular.parse_spec_file` checks it; NeedsCsvModule when only csv reads it right."""
    body = first_line[:-1] if first_line.endswith(b"\n") else first_line
    body = body[:-1] if body.endswith(b"\r") else body
    if b'"' in body or b"\r" in body or b"\x00" in body:
        raise NeedsCsvModule
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise not_utf8(1) from None
    if not first_line or first_line == b"\xef\xbb\xbf":
        raise FileProblem("the file is empty")
    return Header(*_checked_header(text.split(",") if text else [], entity), size=len(first_line))


def _checked_header(first: list[str], entity: Entity) -> tuple[tuple[str, ...], tuple[Issue, ...]]:
    header = [name.strip() for name in first]
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise FileProblem(f"the header repeats column(s) {', '.join(repeated)}")
    missing = [name for name in entity.required if name not in header]
    if missing:
        reason = (
            f"required column(s) {', '.join(missing)} missing from the header; "
            f"found: {', '.join(header)}"
        )
        raise FileProblem(reason, line=1, field=", ".join(missing))
    known = set(entity.column_names) | set(entity.ignored)
    warnings = tuple(
        Issue(1, name, None, f"unknown column {name!r} ignored", "warning", "column ignored")
        for name in header
        if name not in known
    )
    return tuple(header), warnings


# --- a block of lines -------------------------------------------------------------------------


@dataclass
class Block:
    rows: pl.DataFrame  # rows that keep to the spec: entity columns, row_number, parsed times
    issues: list[Issue]
    rows_read: int  # lines that are not blank
    lines: int  # lines in the block, blank ones too


def check_block(
    data: bytes, first_line: int, header: Header, entity: Entity, numbers: bool = False
) -> Block:
    """Whole lines (`first_line` is the first one's number) → checked rows, issues, rows read.

    `numbers`: `int` fields come as integers, not text, when every one of the block's
    values is there and in range as written (else the block is read as text, to report them).
    Raises NeedsCsvModule (nothing of the block is used then) or FileProblem.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    size = buf.size
    if size == 0:
        return Block(_no_rows(entity), [], 0, 0)
    ends = np.flatnonzero(buf == _LF)
    if buf[-1] != _LF:
        ends = np.append(ends, size)  # the file's last line, without a line end
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    # no quote or NUL, and every carriage return must end a line: else csv reads it otherwise
    if b'"' in data or b"\x00" in data:
        raise NeedsCsvModule
    stops = ends
    if b"\r" in data:
        crlf = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR)
        if np.count_nonzero(buf == _CR) != np.count_nonzero(crlf):
            raise NeedsCsvModule
        stops = ends - crlf
    blank = stops == starts
    first_byte = _MAYBE_BLANK[buf[np.minimum(starts, size - 1)]]
    for i in np.flatnonzero(~blank & first_byte):
        try:
            text = data[starts[i] : stops[i]].decode("utf-8")
        except UnicodeDecodeError:
            raise not_utf8(first_line + int(i), int((~blank[:i]).sum())) from None
        blank[i] = not text.replace(",", "").strip()
    width = len(header.columns)
    kinds = {f.name: f.kind for f in entity.fields}
    typed = [numbers and kinds.get(name) == "int" for name in header.columns]
    schema = {f"c{i}": pl.Int64 if typed[i] else pl.String for i in range(width)}
    try:
        # a first line of empty fields: Polars takes the field count from the first line,
        # and a block's first bytes must not read as a byte-order mark or compressed data
        frame = pl.read_csv(
            b"," * (width - 1) + b"\n" + data,
            has_header=False,
            schema=schema,
            quote_char=None,
            truncate_ragged_lines=True,
            raise_if_empty=False,
        ).slice(1)
    except pl.exceptions.ComputeError:
        if any(typed):  # a value that is not an integer as written: the issue quotes its text
            return check_block(data, first_line, header, entity)
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            line = int(np.searchsorted(ends, err.start))
            raise not_utf8(first_line + line, int((~blank[:line]).sum())) from None
        raise NeedsCsvModule from None  # what Polars cannot read, csv may
    if frame.height != ends.size:
        raise NeedsCsvModule  # Polars split the lines otherwise than csv would
    fields = _field_counts(data, starts, stops, blank, frame, width)
    lines = np.arange(first_line, first_line + ends.size, dtype=np.int64)
    ragged = ~blank & (fields != width)
    issues = [
        Issue(int(lines[i]), None, None, f"expected {width} fields, found {int(fields[i])}")
        for i in np.flatnonzero(ragged)
    ]
    keep = ~blank & ~ragged
    position = {name: i for i, name in enumerate(header.columns)}
    frame = frame.with_columns(pl.Series("row_number", lines))
    if not keep.all():
        frame = frame.filter(pl.Series(keep))
    rows = frame.select(
        *(
            pl.col(f"c{position[name]}").alias(name)
            if name in position
            else pl.lit(None, pl.String).alias(name)
            for name in entity.column_names
        ),
        "row_number",
    )
    # a line that starts with neither whitespace nor a comma has a first field that is not blank
    not_blank = frozenset() if (first_byte & keep).any() else frozenset(header.columns[:1])
    try:
        good, field_issues = validate(rows, entity, times=True, not_blank=not_blank)
    except NeedsText:
        return check_block(data, first_line, header, entity)
    return Block(good, issues + field_issues, int((~blank).sum()), int(ends.size))


def _field_counts(
    data: bytes,
    starts: np.ndarray,
    stops: np.ndarray,
    blank: np.ndarray,
    frame: pl.DataFrame,
    width: int,
) -> np.ndarray:
    """Fields on each line (commas + 1).

    A line holds exactly `width` fields when it is as long as the fields Polars read from
    it plus the commas between them (a field more or less changes the count of commas);
    only the other lines are counted one by one. An integer is as long as its digits and
    sign (one written otherwise, "+7" or "07", is counted one by one).
    """
    read = np.zeros(frame.height, dtype=np.int64)
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if text:
        lengths = pl.sum_horizontal(pl.col(text).str.len_bytes().fill_null(0))
        read += frame.select(lengths).to_series().to_numpy()
    for name, dtype in frame.schema.items():
        if dtype.is_integer():
            read += _written_length(frame[name])
    fields = np.full(starts.size, width, dtype=np.int64)
    for i in np.flatnonzero(~blank & (stops - starts != read + width - 1)):
        fields[i] = data.count(b",", starts[i], stops[i]) + 1
    return fields


_POWERS_OF_TEN = 10 ** np.arange(1, 19, dtype=np.int64)


def _written_length(numbers: pl.Series) -> np.ndarray:
    """Characters of each integer written plainly (0 where missing)."""
    values = numbers.fill_null(0).to_numpy()
    size = np.abs(values)
    length = 1 + (values < 0)
    for power in _POWERS_OF_TEN[
        : int(np.searchsorted(_POWERS_OF_TEN, size.max(initial=0), "right"))
    ]:
        length += size >= power  # (a pass per digit of the largest: few, for counts)
    return np.where(numbers.is_null().to_numpy(), 0, length) if numbers.null_count() else length


def _no_rows(entity: Entity) -> pl.DataFrame:
    columns = {name: pl.String for name in entity.column_names} | {"row_number": pl.Int64}
    return validate(pl.DataFrame(schema=columns), entity, times=True)[0]


def _blocks(data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines of `data` (the last one may lack its line end)."""
    offset = 0
    while offset < len(data):
        end = min(offset + chunk_bytes, len(data))
        if end < len(data):
            cut = data.rfind(b"\n", offset, end)
            while cut < 0 and end < len(data):  # a line longer than a block
                end = min(end + chunk_bytes, len(data))
                cut = data.rfind(b"\n", offset, end)
            end = cut + 1 if cut >= 0 else len(data)
        yield data[offset:end]
        offset = end


def _file_blocks(handle: IO[bytes], start: int, chunk_bytes: int) -> Iterator[tuple[int, bytes]]:
    """(offset in the file, bytes) of blocks of whole lines from `start` to the end."""
    handle.seek(start)
    offset, carry = start, b""
    while True:
        data = handle.read(chunk_bytes)
        if not data:
            if carry:
                yield offset, carry
            return
        data = carry + data if carry else data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
            continue
        yield offset, data[:cut]
        offset += cut
        carry = data[cut:]


# --- a file, in this process ------------------------------------------------------------------


def read_in_chunks(
    path: Path,
    entity: Entity,
    consume: Callable[[pl.DataFrame], None],
    chunk_bytes: int | None = None,
) -> tuple[list[Issue], int, bool]:
    """Feed checked text rows (entity columns + `row_number`) to `consume`, block by block.

    Returns (issues, rows read, whether the file was usable). When it was not,
    the one issue says why and whatever was consumed must be discarded.
    """
    times = [time_column(f.name) for f in entity.fields if f.kind == "us_datetime"]
    return _read_file(path, entity, lambda rows: consume(rows.drop(times)), chunk_bytes)


def _read_file(
    path: Path,
    entity: Entity,
    take: Callable[[pl.DataFrame], None],
    chunk_bytes: int | None = None,
    numbers: bool = False,
) -> tuple[list[Issue], int, bool]:
    """`read_in_chunks`, handing on the parsed times of `us_datetime` fields too (and, with
    `numbers`, `int` fields as integers where `check_block` reads them so)."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    with path.open("rb") as handle:
        try:
            header = read_header(handle.readline(), entity)
        except NeedsCsvModule:
            return _read_with_csv(handle, 0, 1, None, entity, take)
        except FileProblem as err:
            return [err.issue], 0, False
        issues = list(header.warnings)
        rows_read, line = 0, 2
        for offset, data in _file_blocks(handle, header.size, chunk_bytes):
            try:
                block = check_block(data, line, header, entity, numbers)
            except NeedsCsvModule:
                more, more_read, usable = _read_with_csv(handle, offset, line, header, entity, take)
                if not usable:
                    return more, rows_read + more_read, False
                return by_line(issues + more), rows_read + more_read, True
            except FileProblem as err:
                return [err.issue], rows_read + err.rows_read, False
            issues += block.issues
            rows_read += block.rows_read
            line += block.lines
            if block.rows_read:
                take(block.rows)
    return by_line(issues), rows_read, True


def _read_with_csv(
    handle: IO[bytes],
    offset: int,
    first_line: int,
    header: Header | None,
    entity: Entity,
    take: Callable[[pl.DataFrame], None],
) -> tuple[list[Issue], int, bool]:
    """The file from `offset` (line `first_line`; with its header when `header` is None) to
    its end, through the csv module, line by line."""
    issues: list[Issue] = []
    rows_read = 0
    handle.seek(offset)
    text = io.TextIOWrapper(handle, encoding="utf-8-sig" if offset == 0 else "utf-8", newline="")
    try:
        reader = csv.reader(text)
        if header is None:
            first = next(reader, None)
            if first is None:
                raise FileProblem("the file is empty")
            columns, warnings = _checked_header(first, entity)
            issues.extend(warnings)
        else:
            columns = header.columns
        index = {name: columns.index(name) for name in entity.column_names if name in columns}
        values: dict[str, list[str | None]] = {name: [] for name in index}
        lines: list[int] = []

        def flush() -> None:
            if not lines:
                return
            data = {
                name: pl.Series(name, values.get(name) or [None] * len(lines), dtype=pl.String)
                for name in entity.column_names
            }
            rows = pl.DataFrame(data).with_columns(pl.Series("row_number", lines, dtype=pl.Int64))
            good, field_issues = validate(rows, entity, times=True)
            issues.extend(field_issues)
            take(good)
            for column in values.values():
                column.clear()
            lines.clear()

        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue  # blank line (the real heart-rate file ends with one)
            rows_read += 1
            line = first_line - 1 + reader.line_num
            if len(row) != len(columns):
                issues.append(
                    Issue(line, None, None, f"expected {len(columns)} fields, found {len(row)}")
                )
                continue
            for name, position in index.items():
                cell = row[position]
                values[name].append(cell if cell != "" else None)
            lines.append(line)
            if len(lines) >= CSV_CHUNK_ROWS:
                flush()
        flush()
    except UnicodeDecodeError:
        problem = not_utf8(_invalid_line(handle, offset, first_line), rows_read)
        return [problem.issue], rows_read, False
    except FileProblem as err:
        return [err.issue], rows_read, False
    finally:
        text.detach()
    return by_line(issues), rows_read, True


def _invalid_line(handle: IO[bytes], offset: int, first_line: int) -> int:
    """The line (as csv counts them) of the first byte from `offset` that is not UTF-8."""
    line = first_line
    for _, data in _file_blocks(handle, offset, CHUNK_BYTES):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as err:
            return line + len(re.findall(r"\r\n|\r|\n", data[: err.start].decode("utf-8")))
        line += len(re.findall(r"\r\n|\r|\n", data.decode("utf-8")))
    return line


def by_line(issues: list[Issue]) -> list[Issue]:
    return sorted(issues, key=lambda i: (i.line is not None, i.line or 0, i.field or ""))


# --- minute files: whole, or in byte ranges parsed apart --------------------------------------


Parts = dict[str, pl.DataFrame]
"""What a parser keeps of a block of checked rows; a column `line` holds file line numbers."""


@dataclass
class Piece:
    """What one byte range of a file gave, its lines numbered from 1."""

    parts: list[Parts] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    rows_read: int = 0
    lines: int = 0
    not_utf8: int | None = None  # the line of a byte that is not UTF-8: the file is unusable
    needs_whole: bool = False  # only the csv module reads the file right: parse it whole


@dataclass(frozen=True)
class MinuteFile:
    """A minute- or second-level file: `reduce` keeps what is needed of each block of checked
    rows (which carry the parsed times, `spec.time_column`, and `int` fields as integers or,
    in a block with a value to report, as text), `finish` makes the file's rows from every
    block's parts in file order. Blocks and ranges may cut the file anywhere between lines,
    so `finish` must not depend on where (merge, don't assume)."""

    entity: Entity
    reduce: Callable[[pl.DataFrame], Parts]
    finish: Callable[[list[Parts], list[Issue], int], Parsed]

    def parse(self, path: Path, chunk_bytes: int | None = None) -> Parsed:
        """The whole file, in this process."""
        parts: list[Parts] = []
        issues, rows_read, usable = _read_file(
            path, self.entity, lambda rows: parts.append(self.reduce(rows)), chunk_bytes, True
        )
        if not usable:
            return Parsed({}, issues, rows_read)
        return self.finish(parts, issues, rows_read)

    def header(self, first_line: bytes) -> Header | None:
        """The checked header, or None when the file must be parsed whole (a problem to report,
        or a header only the csv module reads)."""
        try:
            return read_header(first_line, self.entity)
        except (NeedsCsvModule, FileProblem):
            return None

    def parse_range(self, header: Header, data: bytes, chunk_bytes: int | None = None) -> Piece:
        """Whole lines of the file after its header (any range of them), lines numbered from 1."""
        piece = Piece()
        for block_data in _blocks(data, chunk_bytes or CHUNK_BYTES):
            try:
                block = check_block(block_data, piece.lines + 1, header, self.entity, numbers=True)
            except NeedsCsvModule:
                return Piece(needs_whole=True)
            except FileProblem as err:  # a block's only one: a byte that is not UTF-8
                piece.not_utf8 = err.issue.line
                piece.rows_read += err.rows_read
                return piece
            piece.issues += block.issues
            piece.rows_read += block.rows_read
            piece.lines += block.lines
            if block.rows_read:
                piece.parts.append(self.reduce(block.rows))
        return piece

    def merge(self, header: Header, pieces: list[Piece]) -> Parsed | None:
        """The file's Parsed from its ranges in file order (None: parse the file whole)."""
        if any(piece.needs_whole for piece in pieces):
            return None
        issues = list(header.warnings)
        parts: list[Parts] = []
        rows_read, line = 0, 2
        for piece in pieces:
            shift = line - 1
            if piece.not_utf8 is not None:
                rows_read += piece.rows_read
                return Parsed({}, [not_utf8(piece.not_utf8 + shift, rows_read).issue], rows_read)
            issues += [replace(i, line=_shifted(i.line, shift)) for i in piece.issues]
            parts += [
                {
                    name: frame.with_columns(pl.col("line") + shift)
                    if "line" in frame.columns
                    else frame
                    for name, frame in kept.items()
                }
                for kept in piece.parts
            ]
            rows_read += piece.rows_read
            line += piece.lines
        return self.finish(parts, by_line(issues), rows_read)


def _shifted(line: int | None, shift: int) -> int | None:
    return None if line is None else line + shift
