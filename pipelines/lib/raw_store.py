"""The raw layer: each landing file parsed once into Parquet, keyed by its content hash.

```
raw/<source>/parser=<v>/file_sha256=<key>/<table>.parquet   rows the parser made of the file (+ lineage)
raw/<source>/parser=<v>/file_sha256=<key>/issues.parquet    what broke the spec, by line/record and field
raw/<source>/parser=<v>/file_sha256=<key>/summary.json      rows read, landed and quarantined; status
raw/<source>/_files.parquet                      the source's landing files as last seen
```
landing/ and raw/ are local folders or S3 prefixes (storage.py). A partition is either
complete or absent: a folder renamed into place, or on S3 objects whose summary.json goes
up last. A file whose hash was parsed before is not parsed again: re-running on the same
exports rewrites nothing. New files of a source are parsed in batches on a Dask cluster
when there are enough of them (parse_cluster.py), else in this process; either way by
`parse_batch`, which writes the partitions itself. On a cluster, a big file of a source
that reads byte ranges (the minute-level Fitabase files) is parsed as ranges of whole
lines, a task each, and merged by its batch's task into the partition a whole parse writes.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from .layout import DataDir, keep_private
from .parse_cluster import (
    TASK_RETRIES,
    Failed,
    ParseCluster,
    ParseTaskFailed,
    heap_for_ranges,
    plan_batches,
    ranges_per_task,
)
from .parsers.source import LandingFile, Parsed, Source
from .parsers.spec import Issue, issues_frame
from .pseudonym import Mentions, pseudonymize_mentions
from .storage import Store, StoredFile

MANIFEST = "_files.parquet"
SUMMARY = "summary.json"
"""A partition's last file: without it the partition is unfinished and parsed again."""
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
    # object storage: the upload the hash was taken from (a re-run hashes only new uploads)
    "object_version": pl.String,
}
IDENTIFY_THREADS = 16
"""Objects hashed at once when a run meets new uploads in object storage (network-bound)."""


@dataclass(frozen=True)
class FoundFile:
    relative: str  # relative to landing/, e.g. "apple_health/P-00042/export.zip"
    participant_id: str | None  # per-person sources: the folder the file sits in
    sha256: str | None  # None while it is hashed beside its parse (`EarlyHashes`) or on workers
    size_bytes: int
    modified_at: datetime  # when it was exported: its mtime (object storage: docs/operations.md)
    object_version: str | None = None
    local_path: Path | None = None  # in a local landing/; None in object storage

    @property
    def landing(self) -> LandingFile:
        """The file as a parser takes it (a local landing/ only: objects are copied first)."""
        if self.local_path is None:
            raise ValueError(f"{self.relative} is in object storage, not a local file")
        return LandingFile(self.local_path, self.relative, self.participant_id)

    @property
    def key(self) -> str:
        """The partition's key: the content, and for a per-person file also whose it is.

        Rows carry the person from the folder, so the same bytes in two folders are two parses.
        """
        person = self.participant_id
        if person is None:
            return self.sha256
        return hashlib.sha256(f"{self.sha256}\0{person}".encode()).hexdigest()

    def shown(self, text: str, key: bytes) -> str:
        """Text about this file (its path, an error) as it may be logged: the person's id as their pid."""
        return pseudonymize_mentions(text, self.participant_id, key)


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


@dataclass(frozen=True)
class ParseJob:
    """One new file for `parse_batch`, as sent to a worker: its repr (which Dask logs when a
    task fails) and its error messages show the person by pid only."""

    relative: str
    participant_id: str | None
    sha256: str | None  # None: hashed by this run's process while the file is parsed
    key: str | None
    size_bytes: int
    shown: str  # the relative path with the person's id as their pid
    mentions: Mentions  # the person's id → pid, for error messages (the key stays here)
    ranges: int = 1  # > 1: parsed as that many byte ranges, a task each (Source.ranges)
    hash_variable: str | None = None  # the Dask Variable its hash arrives in (sha256 None)

    def __repr__(self) -> str:
        return f"ParseJob({self.shown})"

    @property
    def sort_key(self) -> str:
        return self.relative


def landing_paths(data_dir: DataDir, source: Source) -> list[StoredFile]:
    """The source's files in landing/ (what a run reads of it), in pattern then path order."""
    # partial copies hide until complete (a name or folder starting with ".")
    return [
        f
        for f in data_dir.landing_store.glob(source.patterns)
        if not any(p.startswith(".") for p in f.relative.split("/"))
    ]


def landing_files(
    data_dir: DataDir,
    source: Source,
    stored: list[StoredFile] | None = None,
    hashed_later: frozenset[str] = frozenset(),
) -> list[FoundFile]:
    """The source's files in landing/ (`stored`: as `landing_paths` listed them), oldest
    export first (export time, then path).

    Every local file is hashed; in object storage only uploads the manifest does not know;
    files in `hashed_later` not at all (their `sha256` is None).
    """
    landing = data_dir.landing_store
    stored = landing_paths(data_dir, source) if stored is None else stored
    known: dict[tuple, tuple[str, datetime]] = {}
    if not landing.is_local:
        manifest = read_manifest(data_dir, source).drop_nulls("object_version")
        known = {
            (file, size, version): (sha, modified)
            for file, size, version, sha, modified in manifest.select(
                "file", "size_bytes", "object_version", "file_sha256", "modified_at"
            ).iter_rows()
        }

    def identify(f: StoredFile) -> FoundFile:
        parts = f.relative.split("/")
        person = parts[1] if source.per_person and len(parts) > 2 else None
        hit = known.get((f.relative, f.size_bytes, f.version))
        if hit is not None:
            sha, modified = hit
        else:
            sha = None if f.relative in hashed_later else landing.sha256(f.relative)
            modified = datetime.fromtimestamp(landing.export_time_ns(f) / 1e9, tz=UTC)
        return FoundFile(
            relative=f.relative,
            participant_id=person,
            sha256=sha,
            size_bytes=f.size_bytes,
            modified_at=modified,
            object_version=f.version,
            local_path=landing.path(f.relative) if landing.is_local else None,
        )

    if landing.is_local:
        files = [identify(f) for f in stored]
    else:
        with ThreadPoolExecutor(IDENTIFY_THREADS) as pool:
            files = list(pool.map(identify, stored))
    return sorted(files, key=lambda f: (f.modified_at, f.relative))


def partition_path(source: Source, key: str) -> str:
    """Where a file's partition is, relative to raw/."""
    # a new parser version parses every file again, beside the old partitions
    return f"{source.name}/parser={source.version}/file_sha256={key}"


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
        return _unparsed(type(err).__name__, str(err).replace(str(landing.path), landing.relative))


def _unparsed(error: str, message: str) -> Parsed:
    reason = f"could not be parsed ({error}: {message})"
    return Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)


def parse_batch(source_name: str, landing: Store, raw: Store, jobs: list[ParseJob]) -> int:
    """Parse each file of the batch into its partition (a Dask task, or run in-process).

    Files whose partition is already complete (a batch run again after its worker died)
    are skipped. A failure outside the parser (reading landing/, writing raw/) raises
    ParseTaskFailed naming the file by pid, for the cluster to retry.
    """
    from .parsers import SOURCES_BY_NAME

    keep_private()  # a worker writes raw/ owner-only too, whoever started it
    source = SOURCES_BY_NAME[source_name]
    for job in jobs:
        try:
            if job.key is not None and _complete(raw, source, job.key):
                continue
            parsed = _parse_in_ranges(source, landing, job) if job.ranges > 1 else None
            if parsed is None:
                with landing.local_copy(job.relative) as path:
                    parsed = parse_landing_file(
                        source, LandingFile(path, job.relative, job.participant_id)
                    )
            if job.key is None:
                job = _with_hash(job)
                if job is None:  # an earlier run parsed this content: keep its partition
                    continue
            write_partition(raw, source, job, parsed)
        except Exception as err:  # noqa: BLE001 — retried by the cluster, then quarantined
            raise _failed(job, err) from None
    return len(jobs)


def _failed(job: ParseJob, err: Exception) -> ParseTaskFailed:
    """A task's failure on a job's file, naming the file and any id in the error by pid."""
    return ParseTaskFailed(job.mentions.pseudonymized(f"{job.shown}: {type(err).__name__}: {err}"))


def _with_hash(job: ParseJob) -> ParseJob | None:
    """The job with its hash, which the run's process sends when it has it (`EarlyHashes`);
    None when that content's partition is complete already."""
    from distributed import Variable, worker_client

    with worker_client() as client:  # this worker's thread is free for other tasks meanwhile
        sha = Variable(job.hash_variable, client=client).get()
    if sha == EarlyHashes.FAILED:
        raise RuntimeError("the run's process could not hash the file")
    if sha == EarlyHashes.KNOWN:
        return None
    return replace(job, sha256=sha, key=sha)


HEADER_BYTES = 1 << 20
"""A first line longer than this: the file is parsed whole."""
_WINDOW = 64 << 10


def _reads_ranges(source: Source) -> bool:
    """Whether the source's big files are parsed as byte ranges (not a per-person source's:
    `parse_landing_file` links their people)."""
    return source.ranges is not None and not source.per_person


def _parse_in_ranges(source: Source, landing: Store, job: ParseJob) -> Parsed | None:
    """A big file as byte ranges of whole lines, a task each on the cluster (one after another
    when this is not a worker), merged into what parsing it whole gives; None: parse it whole
    (a header or bytes only the parser's whole-file reading handles)."""
    if not _reads_ranges(source):
        return None
    ranges = source.ranges(job.relative)
    head = _first_line(landing, job.relative, job.size_bytes)
    if head is None:
        return None
    try:
        header = ranges.header(head)
    except Exception as err:  # noqa: BLE001 — as parse_landing_file
        return _unparsed(type(err).__name__, str(err))
    if header is None:
        return None
    first, size = len(head), job.size_bytes
    # about equal ranges; each task moves its ends to line starts itself (no read here first)
    bounds = [first + (size - first) * k // job.ranges for k in range(job.ranges)] + [size]
    tasks = [
        (source.name, landing, job.relative, header, start, end, first, size)
        for start, end in zip(bounds, bounds[1:], strict=False)
    ]
    pieces = _run_ranges(tasks, source.name)
    failed = next((p for p in pieces if isinstance(p, RangeFailed)), None)
    if failed is not None:
        return _unparsed(failed.error, failed.message)
    try:
        return ranges.merge(header, pieces)
    except Exception as err:  # noqa: BLE001 — as parse_landing_file
        return _unparsed(type(err).__name__, str(err))


@dataclass(frozen=True)
class RangeFailed:
    """The parser raised on a byte range (a bug or an unforeseen format): the file is quarantined."""

    error: str  # the exception's type
    message: str


def parse_range(
    source_name: str,
    landing: Store,
    relative: str,
    header: object,
    start: int,
    end: int,
    first: int,
    size: int,
) -> object:
    """One byte range of a file (a Dask task): what the source's range parser makes of the
    whole lines that start in [start, end) (`first`: where the line after the header starts).

    Reading landing/ may fail (and is retried); a parser that raises gives RangeFailed."""
    from .parsers import SOURCES_BY_NAME

    heap_for_ranges()
    source = SOURCES_BY_NAME[source_name]
    start = start if start <= first else _line_start(landing, relative, start, size)
    end = size if end >= size else _line_start(landing, relative, end, size)
    data = landing.read_range(relative, start, end) if start < end else b""
    try:
        return source.ranges(relative).parse_range(header, data)
    except Exception as err:  # noqa: BLE001 — the file is quarantined, as parse_landing_file does
        return RangeFailed(type(err).__name__, str(err))


def _run_ranges(tasks: list[tuple], name: str) -> list:
    """`parse_range` of each task: on the cluster when this runs on one of its workers."""
    try:
        from distributed import as_completed, get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):
        return [parse_range(*task) for task in tasks]
    with worker_client() as client:  # leaves this worker's thread to the range tasks meanwhile
        per_task = ranges_per_task(len(tasks), sum(client.nthreads().values()))
        groups = [tasks[i : i + per_task] for i in range(0, len(tasks), per_task)]
        futures = client.map(  # one message to the scheduler for all of them
            parse_ranges,
            groups,
            key=[f"parse-range-{name}-{uuid.uuid4().hex}" for _ in groups],
            retries=TASK_RETRIES,
            pure=False,
        )
        # each task's results fetched as they are ready, not all of them after the last one
        position = {future.key: i for i, future in enumerate(futures)}
        pieces: list = [None] * len(futures)
        for future, parsed in as_completed(futures, with_results=True):
            pieces[position[future.key]] = parsed
            future.release()  # its worker may drop them now
        return [piece for group in pieces for piece in group]


def parse_ranges(tasks: list[tuple]) -> list:
    """`parse_range` of consecutive byte ranges of a file, one after another (a Dask task)."""
    return [parse_range(*task) for task in tasks]


def _first_line(landing: Store, relative: str, size: int) -> bytes | None:
    """The file's first line with its line end; None when there is none within HEADER_BYTES."""
    data = landing.read_range(relative, 0, min(size, _WINDOW))
    while b"\n" not in data and 0 < len(data) < min(size, HEADER_BYTES):
        more = landing.read_range(relative, len(data), min(size, 2 * len(data)))
        if not more:
            break
        data += more
    cut = data.find(b"\n")
    return data[: cut + 1] if cut >= 0 else None


def _line_start(landing: Store, relative: str, at: int, size: int) -> int:
    """The first line start at or after `at` (just after the first line feed from at - 1);
    `size` when no line starts there."""
    position = at - 1
    while position < size:
        window = landing.read_range(relative, position, min(size, position + _WINDOW))
        if not window:
            break
        cut = window.find(b"\n")
        if cut >= 0:
            return position + cut + 1
        position += len(window)
    return size


def _complete(raw: Store, source: Source, key: str) -> bool:
    summary = _summaries(raw, source, [key]).get(key)
    return summary is not None and not summary.get("retry")


def write_partition(
    raw: Store, source: Source, job: ParseJob, parsed: Parsed, retry: bool = False
) -> None:
    """The file's rows, issues and summary as one partition; `retry`: parse it again next run."""
    ingested_at = datetime.now(UTC)
    with raw.partition(partition_path(source, job.key), SUMMARY) as partition:
        landed = 0
        for table, rows in parsed.tables.items():
            if "row_number" not in rows.columns:
                rows = rows.with_row_index("row_number", offset=1).with_columns(
                    pl.col("row_number").cast(pl.Int64)
                )
            partition.write_parquet(
                f"{table}.parquet",
                rows.with_columns(
                    # one value for every row: as categories, Parquet's dictionary of them is
                    # built once, not by hashing millions of copies (DuckDB reads them as text)
                    pl.lit(job.relative, pl.Categorical).alias("source_file"),
                    pl.lit(job.sha256, pl.Categorical).alias("file_sha256"),
                    pl.lit(ingested_at).alias("ingested_at"),
                ),
            )
            landed += rows.height
        partition.write_parquet("issues.parquet", issues_frame(parsed.issues))
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
        if retry:
            summary["retry"] = True
        partition.write_text(SUMMARY, json.dumps(summary))


def _quarantine_failed(raw: Store, source: Source, failed: Failed) -> None:
    """A file whose parse kept failing on the cluster: quarantined now, parsed again next run
    (the failure may have been the machine's, not the file's)."""
    reason = f"could not be parsed: {failed.reason}"
    parsed = Parsed({}, [Issue(None, None, None, reason, action="file quarantined")], 0)
    write_partition(raw, source, failed.job, parsed, retry=True)


def _summaries(raw: Store, source: Source, keys: list[str]) -> dict[str, dict]:
    """The summary of each key's finished partition (those to parse again included)."""
    paths = {f"{partition_path(source, key)}/{SUMMARY}": key for key in keys}
    return {paths[p]: json.loads(text) for p, text in raw.read_many(list(paths)).items()}


def ingest_source(
    data_dir: DataDir,
    source: Source,
    key: bytes,
    log: Callable[[str], None] = lambda _: None,
    cluster: ParseCluster | None = None,
) -> list[ParsedFile]:
    """Parse every new landing file of the source and rewrite its manifest.

    New files go to `cluster` when it finds them worth it (without one: a local cluster of
    its own, started only then), else they are parsed here. `key` pseudonymises the
    per-person folders in what is logged (`FoundFile.shown`).
    """
    if cluster is None:
        with ParseCluster() as own:
            return ingest_source(data_dir, source, key, log, own)
    landing, raw = data_dir.landing_store, data_dir.raw_store
    stored = landing_paths(data_dir, source)
    unseen = _unseen(data_dir, source, stored)
    early: list[StoredFile] = []
    if cluster.worth_it(*_work(cluster, source, [f.size_bytes for f in unseen])):
        cluster.start_soon()  # while the files are hashed
        early = _hashed_while_parsed(cluster, source, unseen)
    # in object storage a configured cluster's workers hash the new uploads: this machine
    # would download each one whole just to hash it
    on_workers = bool(cluster.scheduler) and not landing.is_local
    with EarlyHashes(landing, raw, source, cluster, early) as hashes:
        later = frozenset(hashes.variables)
        not_here = frozenset(f.relative for f in stored) if on_workers else later
        files = landing_files(data_dir, source, stored, not_here)
        if on_workers:
            files = _hashed_on_workers(cluster, source, landing, files, later, key, log)
        keys = list(dict.fromkeys(f.key for f in files if f.sha256 is not None))
        summaries = {
            k: summary
            for k, summary in _summaries(raw, source, keys).items()
            if not summary.get("retry")
        }
        new = {f.key: f for f in files if f.sha256 is not None and f.key not in summaries}
        pending = [f for f in files if f.sha256 is None]
        if new or pending:
            log(f"{source.name}: parsing {len(new) + len(pending)} new file(s) of {len(files)}")
            jobs = [_job(f, key) for f in new.values()] + [
                replace(_job(f, key), hash_variable=hashes.variables[f.relative]) for f in pending
            ]
            failures = _parse(cluster, source, landing, raw, jobs, log)
            shas = hashes.wait()  # raises what hashing a file raised
            files = [f if f.sha256 else replace(f, sha256=shas[f.relative]) for f in files]
            for f in pending:
                if not hashes.known[f.relative]:
                    new[shas[f.relative]] = replace(f, sha256=shas[f.relative])
            for failed in failures:
                job = failed.job
                if job.key is None:
                    job = replace(job, sha256=shas[job.relative], key=shas[job.relative])
                log(f"  {job.shown}: {failed.reason}; quarantined, parsed again next run")
                _quarantine_failed(raw, source, replace(failed, job=job))
            summaries |= _summaries(raw, source, list({f.key for f in files} - set(summaries)))
            missing = [f.shown(f.relative, key) for k, f in new.items() if k not in summaries]
            if missing:
                raise FileNotFoundError(
                    f"{source.name}: {len(missing)} parsed partition(s) are not in {raw.url} "
                    f"(e.g. for {missing[0]}): the Dask workers write raw/ where this process "
                    "cannot read it — with a Dask cluster, landing/ and raw/ must be object "
                    "storage or one shared folder at the same path everywhere"
                )
    results = []
    for found in files:
        summary = {k: v for k, v in summaries[found.key].items() if k != "retry"}
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


def _job(f: FoundFile, key: bytes) -> ParseJob:
    return ParseJob(
        relative=f.relative,
        participant_id=f.participant_id,
        sha256=f.sha256,
        key=f.key if f.sha256 is not None else None,
        size_bytes=f.size_bytes,
        shown=f.shown(f.relative, key),
        mentions=Mentions([f.participant_id], key),
    )


def _hashed_on_workers(
    cluster: ParseCluster,
    source: Source,
    landing: Store,
    files: list[FoundFile],
    later: frozenset[str],
    key: bytes,
    log: Callable[[str], None],
) -> list[FoundFile]:
    """The files with their hashes, those not yet known (nor hashed beside their parse:
    `later`) hashed in batches on the cluster's workers. A file that cannot be hashed fails
    the ingest, as hashing it here would, its error naming the file by pid only."""
    todo = [_job(f, key) for f in files if f.sha256 is None and f.relative not in later]
    if not todo:
        return files
    log(f"{source.name}: hashing {len(todo)} new upload(s) on {cluster.describe()}")
    batches = plan_batches(todo, cluster.workers)
    hashed = cluster.results_of(hash_batch, [(landing, batch) for batch in batches], "hash")
    shas = {
        job.relative: sha
        for batch, got in zip(batches, hashed, strict=True)
        for job, sha in zip(batch, got, strict=True)
    }
    return [replace(f, sha256=shas[f.relative]) if f.relative in shas else f for f in files]


def hash_batch(landing: Store, jobs: list[ParseJob]) -> list[str]:
    """The SHA-256 of each job's landing file (a Dask task)."""
    shas = []
    for job in jobs:
        try:
            shas.append(landing.sha256(job.relative))
        except Exception as err:  # noqa: BLE001 — retried by the cluster, then the run fails
            raise _failed(job, err) from None
    return shas


def _parse(
    cluster: ParseCluster,
    source: Source,
    landing: Store,
    raw: Store,
    jobs: list[ParseJob],
    log: Callable[[str], None],
) -> list[Failed]:
    """Parse the jobs on the cluster when it finds them worth it, else here; what kept failing."""
    args = (source.name, landing, raw)
    ranges = _ranges(cluster, source, [j.size_bytes for j in jobs])
    if cluster.worth_it(sum(ranges), sum(j.size_bytes for j in jobs)):
        jobs = [replace(j, ranges=n) for j, n in zip(jobs, ranges, strict=True)]
        return cluster.run(parse_batch, args, plan_batches(jobs, cluster.workers), source.name, log)
    # (a job hashed beside its parse only ever comes with work worth the cluster)
    assert all(j.key is not None for j in jobs), "a file not yet hashed, parsed in-process"
    failures = []
    for job in jobs:
        try:
            parse_batch(*args, [job])
        except ParseTaskFailed as err:
            failures.append(Failed(job, f"its parse failed ({err})"))
    return failures


def _hashed_while_parsed(
    cluster: ParseCluster, source: Source, unseen: list[StoredFile]
) -> list[StoredFile]:
    """New files big enough to be parsed in byte ranges on the cluster: their ranges start
    before their hash is known (`EarlyHashes`)."""
    if not _reads_ranges(source):
        return []
    return [f for f in unseen if cluster.ranges_for(f.size_bytes) > 1]


class EarlyHashes:
    """Files hashed while the cluster already parses them, each seen to by a thread here.

    A file's partition is named by its content hash, and hashing 8.6 GB takes ~5 s of one
    core: for a new big file (by path and size) the hash need not come first. On a configured
    cluster the hash is a task of its own on a worker, so that the run's machine never reads
    the file (on object storage it would download all of it); beside the local cluster this
    process hashes it, from before the cluster has started. Each thread puts in the file's
    Dask Variable the hash, KNOWN (an earlier run parsed that content: the parse is dropped)
    or FAILED; the file's task waits for it only to write the partition (`parse_batch`).
    `wait` gives the hashes or raises the first thread's error, as hashing before the parse
    would have.
    """

    KNOWN = "known"
    FAILED = "failed"

    def __init__(
        self,
        landing: Store,
        raw: Store,
        source: Source,
        cluster: ParseCluster,
        files: list[StoredFile],
    ) -> None:
        self.variables = {f.relative: f"steadyback-hash-{uuid.uuid4().hex}" for f in files}
        self.known: dict[str, bool] = {}
        self._cluster = cluster
        self._pool = ThreadPoolExecutor(
            max(1, min(len(files), IDENTIFY_THREADS)), "steadyback-hash"
        )
        self._futures = {
            f.relative: self._pool.submit(self._hash, landing, raw, source, f.relative)
            for f in files
        }

    def _hash(self, landing: Store, raw: Store, source: Source, relative: str) -> str:
        sent = self.FAILED
        try:
            if self._cluster.scheduler:  # the workers read it; this machine need not
                (sha,) = self._cluster.results_of(hash_landing_file, [(landing, relative)], "hash")
            else:  # the local cluster's machine, whose start need not be waited for
                _behind_the_parse()
                sha = landing.sha256(relative)
            self.known[relative] = _complete(raw, source, sha)
            sent = self.KNOWN if self.known[relative] else sha
            return sha
        finally:
            from distributed import Variable

            Variable(self.variables[relative], client=self._cluster.client()).set(sent)

    def wait(self) -> dict[str, str]:
        return {relative: future.result() for relative, future in self._futures.items()}

    def __enter__(self) -> EarlyHashes:
        return self

    def __exit__(self, *exc) -> None:
        self._pool.shutdown(wait=True)
        if not self.variables:
            return
        from distributed import Variable

        try:
            client = self._cluster.client()
            for name in self.variables.values():
                Variable(name, client=client).delete()
        except Exception:
            if exc[0] is None:
                raise  # else the run's own error says more


HASH_NICENESS = 10
"""How much lower the CPU priority of a thread hashing beside the parse is (Linux's nice)."""


def hash_landing_file(landing: Store, relative: str) -> str:
    """A landing file's SHA-256 (a Dask task on a configured cluster: `EarlyHashes`)."""
    return landing.sha256(relative)


def _behind_the_parse() -> None:
    """Lower this thread's CPU priority: where the parse's workers share this machine's cores
    (the local cluster), they go first, and the hash, needed only when the file's partition
    is written, takes what they leave (at nice 10 about a tenth of a contended core, all of
    an idle one). Linux only: elsewhere the call would lower the whole process."""
    if sys.platform != "linux":
        return
    # relative to the run's main thread (whose id is the process's), so a thread that hashes
    # a second file stays where it is
    base = os.getpriority(os.PRIO_PROCESS, os.getpid())
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, base + HASH_NICENESS))
    except OSError:
        pass


def _ranges(cluster: ParseCluster, source: Source, sizes: list[int]) -> list[int]:
    """The tasks each new file goes to the cluster as (byte ranges, or 1: whole)."""
    return [cluster.ranges_for(size) if source.ranges else 1 for size in sizes]


def _work(cluster: ParseCluster, source: Source, sizes: list[int]) -> tuple[int, int]:
    """(tasks, bytes) of new files of these sizes, as `ParseCluster.worth_it` weighs them."""
    return sum(_ranges(cluster, source, sizes)), sum(sizes)


def _unseen(data_dir: DataDir, source: Source, stored: list[StoredFile]) -> list[StoredFile]:
    """The files the manifest has not seen at this path and size: almost surely new. A guess
    before hashing tells, used only to start the cluster early; the hash decides what is parsed."""
    seen = set(read_manifest(data_dir, source).select("file", "size_bytes").iter_rows())
    return [f for f in stored if (f.relative, f.size_bytes) not in seen]


def write_manifest(data_dir: DataDir, source: Source, results: list[ParsedFile]) -> None:
    manifest = pl.DataFrame(
        [
            (
                source.name,
                source.folder,
                r.found.relative,
                r.found.participant_id,
                r.found.sha256,
                r.found.key,
                r.found.size_bytes,
                r.found.modified_at,
                r.rows_read,
                r.rows_landed,
                r.rows_quarantined,
                r.status,
                r.error,
                r.found.object_version,
            )
            for r in results
        ],
        schema=MANIFEST_SCHEMA,
        orient="row",
    )
    buffer = io.BytesIO()
    manifest.write_parquet(buffer)
    data_dir.raw_store.write_bytes(f"{source.name}/{MANIFEST}", buffer.getvalue())


def read_manifest(data_dir: DataDir, source: Source) -> pl.DataFrame:
    found = data_dir.raw_store.read_many([f"{source.name}/{MANIFEST}"])
    if not found:
        return pl.DataFrame(schema=MANIFEST_SCHEMA)
    manifest = pl.read_parquet(io.BytesIO(next(iter(found.values()))))
    # written by an older steadyback: without the columns added since
    return manifest.with_columns(
        pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in MANIFEST_SCHEMA.items()
        if name not in manifest.columns
    )


def current_partitions(data_dir: DataDir, source: Source) -> list[str]:
    """The partitions (relative to raw/) of each distinct file content now in landing/."""
    manifest = read_manifest(data_dir, source)
    return [
        partition_path(source, key) for key in manifest["partition_key"].unique(maintain_order=True)
    ]
