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
import pickle
import subprocess
import sys
from pathlib import Path

from ...apple_health_half import read
from .records import ExportCollector
from .stream import export_size, find_cut

# The helper imports this package from where this process did (a test's or a worktree's
# checkout, not necessarily the installed one).
HELPER = (
    sys.executable,
    "-c",
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from pipelines.lib.apple_health_half import main; main(sys.argv[2:])",
    str(Path(__file__).resolve().parents[4]),
)

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
    # A plain subprocess, not multiprocessing's spawn: that also starts a resource tracker
    # process, which then stays beside the run's process until the run ends (in the warehouse
    # step's peak).
    receiving, sending = os.pipe()
    try:
        helper = subprocess.Popen(
            [*HELPER, str(path), str(position), str(sending)],
            pass_fds=(sending,),
            stdin=subprocess.DEVNULL,
        )
    except Exception:  # noqa: BLE001
        os.close(receiving)
        return None
    finally:
        os.close(sending)
    try:
        with open(receiving, "rb") as received:
            first, first_blanked = read(path, ExportCollector(), until=position)
            outcome, *result = pickle.load(received)
    except Exception:  # noqa: BLE001 — the first half, or the helper gone without a word
        return None
    finally:
        try:
            helper.wait(timeout=5)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
    if outcome != "read":
        return None
    second, second_blanked = result
    first.absorb(second, line_offset=lines_before)
    return first, first_blanked + second_blanked
