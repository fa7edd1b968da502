"""A large export read in two halves at once: the first here, the second in a helper process.

The XML pass is most of a large export's parse, and one core does it. Above SPLIT_BYTES,
the export is cut where a top-level element starts near its middle (stream.find_cut); this
process reads the elements before the cut while a helper process reads those from it
(pipelines/lib/apple_health_half.py, which imports only the XML reader), each as a document
of its own, and the helper's collector is then appended to this one (ExportCollector.absorb:
sources renumbered, lines shifted, wear samples merged in file order), which gives what one
pass gives. Only when a second core is idle (`core_free`).

Whatever goes wrong on the way (a cut that leaves the first half unclosed, a broken file, a
helper that cannot start or dies) returns None, and the caller reads the export in one pass,
which then reports any problem exactly as it always has.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from ...apple_health_half import read, read_second_half
from ...parse_cluster import _plain_main as plain_main
from .records import ExportCollector
from .stream import export_size, find_cut

# Below this much XML one pass is quick, and starting the helper (~1 s) would not pay.
SPLIT_BYTES = 64 * 2**20


def core_free() -> bool:
    """Whether a second core is idle (the 1-minute load average leaves one): on a busy
    machine the two halves would only take turns on the same cores."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return cores >= 2 and load < cores - 0.5


def read_in_halves(path: Path) -> tuple[ExportCollector, int] | None:
    """(collector, control characters blanked) of the whole export, or None (read it in one pass)."""
    if multiprocessing.current_process().daemon or not core_free():
        return None  # a daemonic worker (Dask's) may not start processes
    try:
        size = export_size(path)
        if size < SPLIT_BYTES:
            return None
        cut = find_cut(path, size // 2)
    except Exception:  # noqa: BLE001 — the one-pass read reports it properly
        return None
    if cut is None:
        return None
    position, lines_before = cut
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    helper = context.Process(
        target=read_second_half, args=(str(path), position, sending), daemon=True
    )
    try:
        with plain_main():
            helper.start()
    except Exception:  # noqa: BLE001
        return None
    finally:
        sending.close()
    try:
        first, first_blanked = read(path, ExportCollector(), until=position)
        outcome, *result = receiving.recv()
    except Exception:  # noqa: BLE001 — the first half, or the helper gone without a word
        return None
    finally:
        receiving.close()
        helper.join(timeout=5)
        if helper.is_alive():
            helper.kill()
    if outcome != "read":
        return None
    second, second_blanked = result
    first.absorb(second, line_offset=lines_before)
    return first, first_blanked + second_blanked
