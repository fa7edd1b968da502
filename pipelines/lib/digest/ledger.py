"""Which coach-weeks were sent or failed: `<data dir>/digest/deliveries.json`.

The idempotency record of the weekly digest, and what the data-health page reads to show failed
sends. One entry per key `<username>/<ISO week>`:

    {"version": 1, "deliveries": {"cora/2026-W26": {
        "username": "cora", "coach_id": "C-01", "week": "2026-W26",
        "status": "sent" | "failed", "attempts": 3,
        "first_attempt_at": "…Z", "last_attempt_at": "…Z",
        "error": null | "smtp.example.org:587 answered 451 …",
        "message_id": "<…>", "snapshot_run_id": "…", "snapshot_as_of": "2026-06-21"}}}

A run holds an exclusive lock (`deliveries.lock`) from reading the ledger until it has recorded
its last send, so two runs at once (a schedule tick and a manual `steadyback digest`) never send
the same coach-week twice. The file is replaced whole (0600, in a 0700 folder); no e-mail
address, name or health value is written to it.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from pipelines.lib.files import replace_json
from pipelines.lib.layout import PRIVATE_FILE_MODE, DataDir, private_dir

from .compose import DigestError

VERSION = 1
SENT = "sent"
FAILED = "failed"


def read_deliveries(layout: DataDir) -> dict[str, dict]:
    """Every entry, by key; none when nothing was ever sent (no lock needed: the file is
    replaced whole)."""
    try:
        text = layout.digest_deliveries.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(text)
        deliveries = document["deliveries"]
        if document.get("version") != VERSION or not isinstance(deliveries, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise DigestError(
            f"{layout.digest_deliveries}: not a steadyback digest ledger; fix or move it "
            "(steadyback will not overwrite it, or it could send a week twice)"
        ) from None
    return deliveries


class Ledger:
    """The deliveries, open for recording under the run's lock."""

    def __init__(self, layout: DataDir) -> None:
        self.layout = layout
        self.entries = read_deliveries(layout)

    def sent(self, key: str) -> bool:
        return self.entries.get(key, {}).get("status") == SENT

    def record(self, key: str, status: str, attempts: int, error: str | None, **about) -> dict:
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        before = self.entries.get(key, {})
        self.entries[key] = {
            **about,
            "status": status,
            "attempts": before.get("attempts", 0) + attempts,
            "first_attempt_at": before.get("first_attempt_at", now),
            "last_attempt_at": now,
            "error": error,
        }
        replace_json(
            self.layout.digest_deliveries, {"version": VERSION, "deliveries": self.entries}
        )
        return self.entries[key]


@contextmanager
def open_ledger(layout: DataDir) -> Iterator[Ledger]:
    """The ledger under an exclusive lock, for one run of sends."""
    private_dir(layout.digest_dir)
    lock = layout.digest_dir / "deliveries.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield Ledger(layout)
    finally:
        os.close(fd)
