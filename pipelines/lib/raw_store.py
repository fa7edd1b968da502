"""The raw layer: each landing file parsed once into Parquet, keyed by its content hash.

```
raw/<source>/parser=<v>/file_sha256=<key>/<table>.parquet   rows the parser made of the file (+ lineage)
raw/<source>/parser=<v>/file_sha256=<key>/issues.parquet    what broke the spec, by line/record and field
raw/<source>/parser=<v>/file_sha256=<key>/summary.json      rows read, landed and quarantined; status
raw/<source>/_files.parquet                      the source's landing files as last seen
```
A partition is written to a temporary folder and renamed into place, so it is
either complete or absent. A file whose hash was parsed before is not parsed
again: re-running on the same exports rewrites nothing. New files of a source
are parsed in parallel worker processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path

import polars as pl

from .files import file_sha256
from .layout import DataDir, private_dir
from .parsers.source import LandingFile, Parsed, Source
from .parsers.spec import Issue, issues_frame
from .pseudonym import pseudonymize_mentions

MANIFEST = "_files.parquet"
# Starting worker processes costs about a second; below this, parse in-process.
PARALLEL_BYTES = 64 * 1024 * 1024
MANIFEST_SCHEMA = {
    "entity": pl.String,  # the source's name, e.g. app_sessions, apple_health
    "source": pl.String,  # its landing folder, e.g. app, apple_health
    "file": pl.String,
    "participant_id": pl.String,  # per-person folders only; never published raw
    "file_sha256": pl.String,
    "partition_key": pl.String,  # the content hash, made personal for per-person folders
    "size_bytes": pl.Int64,
    "modified_at": pl.Datetime("us", "UTC"),
    "rows_read": pl.Int64,
    "rows_landed": pl.Int64,
    "rows_quarantined": pl.Int64,
    "status": pl.String,  # loaded | quarantined
    "error": pl.String,
}


@dataclass(frozen=True)
class FoundFile:
    landing: LandingFile
    sha256: str
    size_bytes: int
    modified_at: datetime

    @property
    def relative(self) -> str:
        return self.landing.relative

    @property
    def key(self) -> str:
        """The partition's key: the content, and for a per-person file also whose it is.

        Rows carry the person from the folder, so the same bytes in two folders are two parses.
        """
        person = self.landing.participant_id
        if person is None:
            return self.sha256
        return hashlib.sha256(f"{self.sha256}\0{person}".encode()).hexdigest()

    def shown(self, text: str, key: bytes) -> str:
        """Text about this file (its path, an error) as it may be logged: the person's id as their pid."""
        return pseudonymize_mentions(text, self.landing.participant_id, key)


@dataclass(frozen=True)
class ParsedFile:
    """What happened to one landing file in this run."""

    found: FoundFile
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    status: str
    error: str | None
    parsed_now: bool  # False when an earlier run had already parsed this content


def landing_paths(data_dir: DataDir, source: Source) -> list[Path]:
    """The source's files in landing/ (what a run reads of it), in path order."""
    found: dict[Path, None] = {}
    for pattern in source.patterns:
        for path in sorted(data_dir.landing.glob(pattern)):
            hidden = any(p.startswith(".") for p in path.relative_to(data_dir.landing).parts)
            if path.is_file() and not hidden:  # partial copies hide until complete
                found[path] = None
    return list(found)


def landing_files(data_dir: DataDir, source: Source) -> list[FoundFile]:
    """The source's files in landing/, oldest export first (mtime, then path)."""
    files = []
    for path in landing_paths(data_dir, source):
        stat = path.stat()
        relative = data_dir.landing_relative(path)
        parts = relative.split("/")
        person = parts[1] if source.per_person and len(parts) > 2 else None
        files.append(
            FoundFile(
                landing=LandingFile(path, relative, person),
                sha256=file_sha256(path),
                size_bytes=stat.st_size,
                modified_at=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC),
            )
        )
    return sorted(files, key=lambda f: (f.modified_at, f.relative))


def partition_dir(data_dir: DataDir, source: Source, key: str) -> Path:
    # a new parser version parses every file again, beside the old partitions
    return data_dir.raw_entity(source.name) / f"parser={source.version}" / f"file_sha256={key}"


def parse_landing_file(source: Source, landing: LandingFile) -> Parsed:
    """Run a source's parser on one file, as ingestion does.

    A per-person source's file outside a person's folder cannot be linked to anyone,
    and anything the parser did not foresee quarantines the file, not the batch.
    """
    if source.per_person and landing.participant_id is None:
        reason = (
            f"is not in a participant's folder, so it cannot be linked to anyone — "
            f"move it into landing/{source.folder}/<participant_id>/"
        )
        return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)
    try:
        return source.parse(landing)
    except Exception as err:  # noqa: BLE001 — a parser bug or an unforeseen format: keep going
        # an OSError names the file by its absolute path: name it as the rest of the report does
        message = str(err).replace(str(landing.path), landing.relative)
        reason = f"could not be parsed ({type(err).__name__}: {message})"
        return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)


def _parse(source_name: str, landing: LandingFile) -> Parsed:
    """Worker entry point (picklable by name): look the source up, then parse."""
    from .parsers import SOURCES_BY_NAME

    return parse_landing_file(SOURCES_BY_NAME[source_name], landing)


def _write_partition(target: Path, found: FoundFile, parsed: Parsed) -> None:
    private_dir(target.parent)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    ingested_at = datetime.now(UTC)
    try:
        landed = 0
        for table, rows in parsed.tables.items():
            if "row_number" not in rows.columns:
                rows = rows.with_row_index("row_number", offset=1).with_columns(
                    pl.col("row_number").cast(pl.Int64)
                )
            rows.with_columns(
                pl.lit(found.relative).alias("source_file"),
                pl.lit(found.sha256).alias("file_sha256"),
                pl.lit(ingested_at).alias("ingested_at"),
            ).write_parquet(staging / f"{table}.parquet")
            landed += rows.height
        issues_frame(parsed.issues).write_parquet(staging / "issues.parquet")
        file_issue = next((i for i in parsed.issues if i.action == "file quarantined"), None)
        quarantined = len(
            {i.line for i in parsed.issues if i.action == "row quarantined" and i.line is not None}
        )
        summary = {
            # a parser that expands records (a wide file, a month of minutes) says what it read
            "rows_read": parsed.rows_read or landed + quarantined,
            "rows_landed": landed,
            "rows_quarantined": quarantined,
            "status": "quarantined" if file_issue else "loaded",
            "error": file_issue.reason if file_issue else None,
        }
        (staging / "summary.json").write_text(json.dumps(summary))
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():
            raise


@contextmanager
def _plain_main() -> Iterator[None]:
    """Spawned workers re-run the parent's __main__ script; hide it while they start.

    Workers only need this package. When the parent is a script with side effects
    (a Streamlit page, a notebook kernel), re-running it in every worker would be wrong.
    """
    original = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = original


def ingest_source(
    data_dir: DataDir,
    source: Source,
    key: bytes,
    log: Callable[[str], None] = lambda _: None,
    max_workers: int | None = None,
) -> list[ParsedFile]:
    """Parse every new landing file of the source (in parallel) and rewrite its manifest.

    `key` pseudonymises the per-person folders in what is logged (`FoundFile.shown`).
    """
    files = landing_files(data_dir, source)
    new = {f.key: f for f in files if not partition_dir(data_dir, source, f.key).exists()}
    if new:
        log(f"{source.name}: parsing {len(new)} new file(s) of {len(files)}")
    workers = min(len(new), max_workers or os.cpu_count() or 1)
    worth_a_pool = len(new) >= 4 or sum(f.size_bytes for f in new.values()) >= PARALLEL_BYTES
    if workers > 1 and worth_a_pool:
        # spawn, not fork: the parent (Dagster, DuckDB) runs threads that a fork would copy mid-lock
        with (
            _plain_main(),
            ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool,
        ):
            futures = {sha: pool.submit(_parse, source.name, f.landing) for sha, f in new.items()}
            for sha, future in futures.items():
                _write_partition(partition_dir(data_dir, source, sha), new[sha], future.result())
                log(f"  parsed {new[sha].shown(new[sha].relative, key)}")
    else:
        for sha, found in new.items():
            _write_partition(
                partition_dir(data_dir, source, sha), found, _parse(source.name, found.landing)
            )
    results = []
    for found in files:
        summary = json.loads(
            (partition_dir(data_dir, source, found.key) / "summary.json").read_text()
        )
        result = ParsedFile(found, parsed_now=found.key in new, **summary)
        log(
            found.shown(
                f"{found.relative}: {result.rows_landed} rows landed, "
                f"{result.rows_quarantined} quarantined"
                + (f" — FILE QUARANTINED: {result.error}" if result.error else "")
                + ("" if result.parsed_now else " (unchanged since an earlier run)"),
                key,
            )
        )
        results.append(result)
    write_manifest(data_dir, source, results)
    return results


def write_manifest(data_dir: DataDir, source: Source, results: list[ParsedFile]) -> None:
    manifest = pl.DataFrame(
        [
            (
                source.name,
                source.folder,
                r.found.relative,
                r.found.landing.participant_id,
                r.found.sha256,
                r.found.key,
                r.found.size_bytes,
                r.found.modified_at,
                r.rows_read,
                r.rows_landed,
                r.rows_quarantined,
                r.status,
                r.error,
            )
            for r in results
        ],
        schema=MANIFEST_SCHEMA,
        orient="row",
    )
    folder = private_dir(data_dir.raw_entity(source.name))
    tmp = folder / f".{MANIFEST}.tmp"
    manifest.write_parquet(tmp)
    os.replace(tmp, folder / MANIFEST)


def read_manifest(data_dir: DataDir, source: Source) -> pl.DataFrame:
    path = data_dir.raw_entity(source.name) / MANIFEST
    if not path.exists():
        return pl.DataFrame(schema=MANIFEST_SCHEMA)
    return pl.read_parquet(path)


def current_partitions(data_dir: DataDir, source: Source) -> Iterator[tuple[str, Path]]:
    """(sha, partition folder) for each distinct file content now in landing/."""
    manifest = read_manifest(data_dir, source)
    for key in manifest["partition_key"].unique(maintain_order=True):
        yield key, partition_dir(data_dir, source, key)
