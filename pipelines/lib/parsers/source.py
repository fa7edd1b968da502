"""A landing source: which files it reads, which raw tables it writes, and its parser.

Program exports (roster, app, REDCap) are text tables checked field by field
against their spec (`spec.Entity`); wearable exports are decoded by vendor
parsers into the canonical wearable tables of `wearable_tables`. Both meet the
raw layer through this one shape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from .spec import Entity, Issue
from .tabular import parse_spec_file


@dataclass(frozen=True)
class LandingFile:
    """One file to parse, and what its place in landing/ says about it."""

    path: Path
    relative: str  # relative to landing/, e.g. "apple_health/P-00042/export.zip"
    # For per-person sources, the program's participant_id: the folder the file sits in
    # (landing/<source>/<participant_id>/...); None for program-wide exports.
    participant_id: str | None = None


@dataclass
class Parsed:
    """What a parser made of one file."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)
    rows_read: int = 0


class ByteRanges(Protocol):
    """A parser that can read one file as separate byte ranges of whole lines, each in its own
    task, and merge what they gave into what parsing the file whole gives (raw_store.py;
    the one kind: fitabase.reading.MinuteFile)."""

    def header(self, first_line: bytes) -> Any | None:
        """What every range needs of the file's first line; None: parse the file whole."""

    def parse_range(self, header: Any, data: bytes) -> Any:
        """Whole lines after the header, numbered from 1 within the range."""

    def merge(self, header: Any, pieces: list[Any]) -> Parsed | None:
        """The file's Parsed from its ranges in file order; None: parse the file whole."""


@dataclass(frozen=True)
class Source:
    name: str  # raw asset raw/<name> and folder raw/<name>/
    folder: str  # landing/<folder>/
    patterns: tuple[str, ...]  # globs relative to landing/
    outputs: Mapping[str, Mapping[str, pl.DataType]]  # raw table → schema
    parse: Callable[[LandingFile], Parsed]
    description: str
    per_person: bool = False
    # identifier columns of each output table (pseudonymised when quoted in issues)
    identifiers: tuple[str, ...] = ()
    # True: each file is an export that repeats earlier data, so for every day the newest
    # export covering it wins (Apple Health, Oura, Fitabase). False: each file is its own
    # recording (Garmin FIT, Open mHealth data points); all are kept, exact duplicates once.
    cumulative: bool = True
    # bump when the parser's output for the same file changes: files are then parsed again
    version: str = "1"
    # a big file may be parsed in byte ranges on several workers: the parser for a file
    # (its path relative to landing/); None: each file is parsed whole
    ranges: Callable[[str], ByteRanges] | None = None


def spec_source(entity: Entity) -> Source:
    """A program export checked against its field spec; all columns stay text in raw."""

    def parse(landing: LandingFile) -> Parsed:
        rows, issues, rows_read = parse_spec_file(landing.path, entity)
        return Parsed({entity.name: rows} if rows is not None else {}, issues, rows_read)

    schema = {name: pl.String for name in entity.column_names} | {"row_number": pl.Int64}
    return Source(
        name=entity.name,
        folder=entity.source,
        patterns=entity.patterns,
        outputs={entity.name: schema},
        parse=parse,
        description=entity.description,
        identifiers=entity.identifiers,
        version=entity.version,
    )
