"""The raw layer: each landing file parsed once into Parquet, keyed by its content hash.

```
raw/<entity>/file_sha256=<sha>/part.parquet    rows that keep to the spec (text + lineage)
raw/<entity>/file_sha256=<sha>/issues.parquet  what broke the spec, by line and field
raw/<entity>/_files.parquet                    the entity's landing files as last seen
```
A partition is written to a temporary folder and renamed into place, so it is
either complete or absent. A file whose hash was parsed before is not parsed
again: re-running on the same exports rewrites nothing.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from .layout import DataDir
from .parsers.reader import UnreadableFile, read_export
from .parsers.spec import Entity, Issue, issues_frame, validate

MANIFEST = "_files.parquet"
MANIFEST_SCHEMA = {
    "entity": pl.String,
    "source": pl.String,
    "file": pl.String,
    "file_sha256": pl.String,
    "size_bytes": pl.Int64,
    "modified_at": pl.Datetime("us", "UTC"),
    "rows_read": pl.Int64,
    "rows_landed": pl.Int64,
    "rows_quarantined": pl.Int64,
    "status": pl.String,  # loaded | quarantined
    "error": pl.String,
}


@dataclass(frozen=True)
class LandingFile:
    path: Path
    relative: str
    sha256: str
    size_bytes: int
    modified_at: datetime


@dataclass(frozen=True)
class ParsedFile:
    """What happened to one landing file in this run."""

    landing: LandingFile
    rows_read: int
    rows_landed: int
    rows_quarantined: int
    status: str
    error: str | None
    parsed_now: bool  # False when an earlier run had already parsed this content


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def landing_files(data_dir: DataDir, entity: Entity) -> list[LandingFile]:
    """The entity's files in landing/, oldest export first (mtime, then path)."""
    found: dict[Path, None] = {}
    for pattern in entity.patterns:
        for path in sorted(data_dir.landing.glob(pattern)):
            if path.is_file() and not path.name.startswith("."):
                found[path] = None
    files = []
    for path in found:
        stat = path.stat()
        files.append(
            LandingFile(
                path=path,
                relative=data_dir.landing_relative(path),
                sha256=file_sha256(path),
                size_bytes=stat.st_size,
                modified_at=datetime.fromtimestamp(stat.st_mtime_ns / 1e9, tz=UTC),
            )
        )
    return sorted(files, key=lambda f: (f.modified_at, f.relative))


def partition_dir(data_dir: DataDir, entity: Entity, sha256: str) -> Path:
    return data_dir.raw_entity(entity.name) / f"file_sha256={sha256}"


def parse_file(path: Path, entity: Entity) -> tuple[pl.DataFrame | None, list[Issue], int]:
    """Parse and validate one file: (rows that land or None, issues, rows read)."""
    try:
        frame, header, issues = read_export(path)
    except UnreadableFile as err:
        return None, [Issue(None, None, None, str(err), action="file quarantined")], 0
    rows_read = frame.height + sum(1 for i in issues if i.line is not None)
    known = set(entity.column_names) | set(entity.ignored)
    is_csv = path.suffix.lower() != ".jsonl"
    missing = [f for f in entity.required if f not in header]
    if is_csv and missing:
        reason = (
            f"required column(s) {', '.join(missing)} missing from the header; "
            f"found: {', '.join(header)}"
        )
        return (
            None,
            [Issue(1, ", ".join(missing), None, reason, action="file quarantined")],
            rows_read,
        )
    for name in header:
        if name not in known:
            issues.append(
                Issue(
                    1 if is_csv else None,
                    name,
                    None,
                    f"unknown column {name!r} ignored",
                    severity="warning",
                    action="column ignored",
                )
            )
    frame = frame.with_columns(
        pl.lit(None, dtype=pl.String).alias(name)
        for name in entity.column_names
        if name not in frame.columns
    )
    frame = frame.select(*entity.column_names, "row_number")
    good, field_issues = validate(frame, entity)
    issues = sorted(
        issues + field_issues, key=lambda i: (i.line is not None, i.line or 0, i.field or "")
    )
    return good, issues, rows_read


def _write_partition(target: Path, rows: pl.DataFrame | None, issues: list[Issue]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        if rows is not None:
            rows.write_parquet(staging / "part.parquet")
        issues_frame(issues).write_parquet(staging / "issues.parquet")
        os.replace(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not target.exists():
            raise


def _read_partition(target: Path) -> tuple[int, int, str, str | None]:
    issues = pl.read_parquet(target / "issues.parquet")
    landed = (
        pl.scan_parquet(target / "part.parquet").select(pl.len()).collect().item()
        if (target / "part.parquet").exists()
        else 0
    )
    quarantined_lines = issues.filter(
        (pl.col("action") == "row quarantined") & pl.col("line").is_not_null()
    )["line"].n_unique()
    file_issue = issues.filter(pl.col("action") == "file quarantined")
    if file_issue.height:
        return 0, 0, "quarantined", file_issue["reason"][0]
    return landed + quarantined_lines, quarantined_lines, "loaded", None


def ingest_entity(
    data_dir: DataDir,
    entity: Entity,
    log: Callable[[str], None] = lambda _: None,
) -> list[ParsedFile]:
    """Parse every new landing file of the entity and rewrite its manifest."""
    results: list[ParsedFile] = []
    for landing in landing_files(data_dir, entity):
        target = partition_dir(data_dir, entity, landing.sha256)
        parsed_now = not target.exists()
        if parsed_now:
            rows, issues, _ = parse_file(landing.path, entity)
            if rows is not None:
                rows = rows.with_columns(
                    pl.lit(landing.relative).alias("source_file"),
                    pl.lit(landing.sha256).alias("file_sha256"),
                    pl.lit(datetime.now(UTC)).alias("ingested_at"),
                )
            _write_partition(target, rows, issues)
        rows_read, quarantined, status, error = _read_partition(target)
        result = ParsedFile(
            landing, rows_read, rows_read - quarantined, quarantined, status, error, parsed_now
        )
        log(
            f"{landing.relative}: {result.rows_landed} rows landed, "
            f"{result.rows_quarantined} quarantined"
            + (f" — FILE QUARANTINED: {error}" if error else "")
            + ("" if parsed_now else " (unchanged since an earlier run)")
        )
        results.append(result)
    write_manifest(data_dir, entity, results)
    return results


def write_manifest(data_dir: DataDir, entity: Entity, results: list[ParsedFile]) -> None:
    manifest = pl.DataFrame(
        [
            (
                entity.name,
                entity.source,
                r.landing.relative,
                r.landing.sha256,
                r.landing.size_bytes,
                r.landing.modified_at,
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
    folder = data_dir.raw_entity(entity.name)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{MANIFEST}.tmp"
    manifest.write_parquet(tmp)
    os.replace(tmp, folder / MANIFEST)


def read_manifest(data_dir: DataDir, entity: Entity) -> pl.DataFrame:
    path = data_dir.raw_entity(entity.name) / MANIFEST
    if not path.exists():
        return pl.DataFrame(schema=MANIFEST_SCHEMA)
    return pl.read_parquet(path)


def current_partitions(data_dir: DataDir, entity: Entity) -> Iterator[tuple[str, Path]]:
    """(sha, partition folder) for each distinct file content now in landing/."""
    manifest = read_manifest(data_dir, entity)
    for sha in manifest["file_sha256"].unique(maintain_order=True):
        yield sha, partition_dir(data_dir, entity, sha)
