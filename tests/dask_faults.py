"""Faults injected into the parse of one landing file on every Dask worker (a worker plugin).

Registered on a cluster with `client.register_plugin(FaultyParse(...), name=...)`, it wraps
`raw_store.parse_landing_file` in each worker process (and in workers started later, after
one died), so the real task code runs around it:

- "kill once": the first worker to parse the file dies (SIGKILL, as the kernel's OOM killer
  would do it); the marker file records its pid, and later attempts parse normally;
- "kill always": every worker that parses the file dies (each pid appended to the marker);
- "raise": the task fails outside the parser, with the file's path and the person's id in
  the message, as a read error from landing/ would.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from distributed import WorkerPlugin

MODES = ("kill once", "kill always", "raise")


class FaultyParse(WorkerPlugin):
    def __init__(self, file_name: str, mode: str, marker: Path) -> None:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: one of {MODES}")
        self.file_name = file_name
        self.mode = mode
        self.marker = str(marker)

    def setup(self, worker) -> None:
        from pipelines.lib import raw_store

        original = getattr(raw_store, "_unfaulted_parse", raw_store.parse_landing_file)
        raw_store._unfaulted_parse = original

        def parse(source, landing):
            if landing.relative.endswith(self.file_name):
                self._fail(landing)
            return original(source, landing)

        raw_store.parse_landing_file = parse

    def teardown(self, worker) -> None:
        from pipelines.lib import raw_store

        if hasattr(raw_store, "_unfaulted_parse"):
            raw_store.parse_landing_file = raw_store._unfaulted_parse

    def _fail(self, landing) -> None:
        marker = Path(self.marker)
        if self.mode == "raise":
            raise OSError(f"cannot read {landing.path} of {landing.participant_id}")
        if self.mode == "kill once" and marker.exists():
            return
        with marker.open("a") as out:
            out.write(f"{os.getpid()}\n")
        os.kill(os.getpid(), signal.SIGKILL)


def killed_pids(marker: Path) -> list[int]:
    return [int(line) for line in marker.read_text().split()] if marker.exists() else []
