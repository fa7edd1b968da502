"""Which pseudonym key a run may use: checked before anything is parsed, and again at publish.

- Real data (anything but the generated demo cohort) needs the program's own key
  (`pseudonym.pseudonym_key`); only the generated cohort may fall back to the public
  demo key.
- "Generated cohort" means the landing files a run reads are exactly the files the
  generator recorded in `truth/landing.sha256`, byte for byte: before parsing, the
  files in landing/ that the sources would read; at publish, `raw.files` (what the
  build actually read).
- Once a snapshot of real data is published, its key fingerprint pins the key: a run
  with another key would give every person a new pid, so it is refused unless the
  operator rotates on purpose (`steadyback run --rotate-key`; docs/operations.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import duckdb

from .demo_cohort.manifest import (
    manifest_path,
    matches_manifest,
    read_landing_manifest,
)
from .landing import landing_fingerprint
from .layout import DataDir
from .parsers import SOURCES
from .pseudonym import KeyRefused, key_fingerprint, pseudonym_key
from .raw_store import landing_paths

ROTATE_COMMAND = "steadyback run --rotate-key"


@dataclass(frozen=True)
class PublishedKey:
    """What the current snapshot says about the key it was made with."""

    generated_cohort: bool
    key_fingerprint: str | None  # None: made by a version that did not record it


def published_key(snapshot: Path) -> PublishedKey | None:
    """None when nothing is published; a snapshot that cannot say counts as real data."""
    try:
        state = snapshot.stat()
        return _published_key(snapshot, (state.st_ino, state.st_size, state.st_mtime_ns))
    except (FileNotFoundError, NotADirectoryError):  # as Path.exists() has it
        return None
    except duckdb.Error:  # not cached: a snapshot being replaced can say next time
        return PublishedKey(False, None)


@lru_cache(maxsize=8)
def _published_key(snapshot: Path, file_state: tuple) -> PublishedKey:
    # keyed by the file's inode, size and mtime (a publish writes a new file): every step of
    # a run asks, and opening the snapshot takes longer than most steps
    with duckdb.connect(str(snapshot), read_only=True) as con:
        columns = {
            name
            for (name,) in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'meta' and table_name = 'snapshot'"
            ).fetchall()
        }
        wanted = [c for c in ("generated_cohort", "key_fingerprint") if c in columns]
        row = con.execute(
            f"select {', '.join(wanted)} from meta.snapshot" if wanted else "select 1"
        ).fetchone()
    values = dict(zip(wanted, row or (), strict=False))
    return PublishedKey(values.get("generated_cohort") is True, values.get("key_fingerprint"))


def run_key(data_dir: DataDir, generated_cohort: Callable[[], bool], rotate: bool) -> bytes:
    """The key this run pseudonymises with, or KeyRefused saying what to do.

    `generated_cohort` is asked only when the answer matters (no usable key configured,
    or a key change), since on landing/ it means hashing every file.
    """
    generated = cache(generated_cohort)
    try:
        key = pseudonym_key()
    except KeyRefused:
        if not generated():
            raise
        key = pseudonym_key(generated_cohort=True)
    published = published_key(data_dir.snapshot)
    fingerprint = key_fingerprint(key)
    if (
        rotate
        or published is None
        or published.generated_cohort
        or published.key_fingerprint == fingerprint
        or generated()  # demo data replacing a snapshot: no real person gets a new pid
    ):
        return key
    was = published.key_fingerprint or "not recorded (an older steadyback)"
    raise KeyRefused(
        "STEADYBACK_PSEUDONYM_KEY is not the key the published snapshot was made with "
        f"(its key fingerprint: {was}; this key's: {fingerprint}). Publishing would give "
        "every participant a new pid: dashboard bookmarks, coaches' links and the pids in "
        "the audit log would stop matching. Nothing was published; the current snapshot "
        "is unchanged. If the key changed by mistake, restore the old one. To change it on "
        f"purpose, run `{ROTATE_COMMAND}` (scheduled and sensor runs never rotate); "
        'see docs/operations.md, "Rotating the key".'
    )


def landing_is_generated(data_dir: DataDir) -> bool:
    """Whether the files the sources would read in landing/ are exactly the generated ones."""
    try:
        manifest = manifest_path(data_dir.root).stat()
    except FileNotFoundError:
        return False
    landing_state, _ = landing_fingerprint(data_dir.landing_store)
    return _landing_is_generated(data_dir, landing_state, (manifest.st_size, manifest.st_mtime_ns))


@lru_cache(maxsize=8)
def _landing_is_generated(data_dir: DataDir, landing_state: str, manifest_state: tuple) -> bool:
    # keyed by the files' paths, sizes and mtimes (no content read): every step of a run asks
    manifest = read_landing_manifest(data_dir.root)
    if manifest is None:
        return False
    landing = data_dir.landing_store
    relatives = {f.relative for source in SOURCES for f in landing_paths(data_dir, source)}
    if relatives != manifest.keys():
        return False
    return all(landing.sha256(relative) == manifest[relative] for relative in relatives)


def build_is_generated(con: duckdb.DuckDBPyConnection, data_dir: DataDir) -> bool:
    """Whether the landing files the open warehouse was built from (`raw.files`) are the generated ones."""
    files = dict(con.execute("select file, file_sha256 from raw.files").fetchall())
    return matches_manifest(files, read_landing_manifest(data_dir.root))


def landing_run_key(data_dir: DataDir, rotate: bool = False) -> bytes:
    """The check before parsing: on the landing files this run is about to read."""
    return run_key(data_dir, lambda: landing_is_generated(data_dir), rotate)
