"""What is in landing/ right now, as one fingerprint a sensor can compare."""

from __future__ import annotations

import hashlib

from .storage import Store

# The run tag that says which landing state a run started from; publish keeps it in
# meta.snapshot so a fresh sensor knows that state is already published.
LANDING_FINGERPRINT_TAG = "steadyback/landing_fingerprint"


def landing_fingerprint(landing: Store) -> tuple[str, int]:
    """(digest of every file's path, size and mtime, number of files); cheap: no file is read.

    Partial copies (rsync, browsers: a name starting with ".") are left out until complete.
    On object storage the mtime is the object's LastModified: an upload changes it.
    """
    digest = hashlib.sha256()
    files = landing.files() if landing.exists() else []
    for stored in files:
        digest.update(f"{stored.relative}\0{stored.size_bytes}\0{stored.modified_ns}\n".encode())
    return digest.hexdigest(), len(files)
