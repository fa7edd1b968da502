"""The helper process that reads the second half of a large Apple Health export
(parsers/apple_health/halves.py), and the read both halves share.

The helper is a fresh interpreter that runs `main` here, which imports only the export's XML
reader (stream.py, records.py) — not the parsers' registry, Polars, DuckDB or Dagster, which
the run's own process holds already. The helper runs beside that process at the parse's peak,
so what it imports counts at the peak.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import BinaryIO

from .parsers.apple_health.records import ExportCollector
from .parsers.apple_health.stream import open_export, top_level_elements
from .parsers.apple_health.wear import WearSamples


def read(
    path: Path, collector: ExportCollector, until: int | None = None, since: int | None = None
) -> tuple[ExportCollector, int]:
    """(collector, control characters blanked) of the export's elements between two bytes."""
    with open_export(path, until=until, since=since) as xml:
        for element in top_level_elements(xml):
            collector.take(element)
        collector.finish()
    return collector, xml.control_characters


def read_second_half(path: str, since: int, sending: BinaryIO) -> None:
    """The helper process: the elements from byte `since` on, sent back (or why not)."""
    try:
        collector, blanked = read(Path(path), ExportCollector(WearSamples()), since=since)
        collector.bulk = None  # its batches are filed; the rest is plain data
        message = ("read", collector, blanked)
    except BaseException as err:  # noqa: BLE001 — reported, and the export is read in one pass
        message = ("failed", f"{type(err).__name__}: {err}")
    pickle.dump(message, sending, protocol=pickle.HIGHEST_PROTOCOL)


def main(arguments: list[str]) -> None:
    """`<export> <since> <file descriptor>`: the second half, pickled to the descriptor."""
    path, since, descriptor = arguments
    with open(int(descriptor), "wb") as sending:
        read_second_half(path, int(since), sending)
