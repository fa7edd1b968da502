"""What is in landing/ right now, as one fingerprint a sensor can compare."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

# The run tag that says which landing state a run started from; publish keeps it in
# meta.snapshot so a fresh sensor knows that state is already published.
LANDING_FINGERPRINT_TAG = "steadyback/landing_fingerprint"


def landing_fingerprint(landing: Path) -> tuple[str, int]:
    """(digest of every file's path, size and mtime, number of files); cheap: no file is read."""
    digest = hashlib.sha256()
    count = 0
    if not landing.exists():
        return digest.hexdigest(), 0
    entries = []
    for folder, _, names in os.walk(landing):
        for name in names:
            if name.startswith("."):
                continue  # partial copies (rsync, browsers) are hidden until complete
            path = Path(folder) / name
            stat = path.stat()
            entries.append((path.relative_to(landing).as_posix(), stat.st_size, stat.st_mtime_ns))
    for relative, size, mtime in sorted(entries):
        digest.update(f"{relative}\0{size}\0{mtime}\n".encode())
        count += 1
    return digest.hexdigest(), count
