"""The parse fan-out on a real Dask cluster, with landing/ and raw/ in a real S3 API.

The cluster is a LocalCluster of 2 worker processes (tests/conftest.py, `dask_cluster`), the
bucket lives in moto's S3 server over HTTP (`s3_bucket`), and faults are injected into the
parse of one file in the workers themselves (tests/dask_faults.py): a worker killed the first
time, or every time, or a task failing outside the parser. What must hold: the published
tables are those of a local run, a dead worker's batch is retried, and a file that keeps
failing is quarantined by name while everything else lands.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import dagster as dg
import dask
import duckdb
import fsspec
import polars as pl
import pytest
from dask_faults import FaultyParse, killed_pids
from distributed import get_task_stream
from private_data import oura_trends

from pipelines.lib import parse_cluster, raw_store
from pipelines.lib.layout import DataDir
from pipelines.lib.parse_cluster import PARALLEL_FILES, SCHEDULER_ENV, ParseCluster
from pipelines.lib.parsers import SOURCES_BY_NAME
from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.lib.raw_store import MANIFEST, ingest_source, partition_path
from pipelines.lib.storage import MTIME_METADATA, ObjectPrefix
from pipelines.runner import run_pipeline

RUN_OWN = {"meta.snapshot": {"run_id", "published_at", "landing_fingerprint"}}
"""What differs between two runs by nature: the run's id and time, and the landing listing
(an S3 listing's times are upload times)."""


def upload_landing(landing: Path, url: str) -> None:
    """Every file of a local landing/ as an object under `url`, with its export time in the
    `mtime` metadata, as `rclone copy` keeps it."""
    fs = fsspec.filesystem("s3")
    for path in sorted(p for p in landing.rglob("*") if p.is_file()):
        key = f"{url.removeprefix('s3://')}/{path.relative_to(landing).as_posix()}"
        mtime = f"{path.stat().st_mtime_ns / 1e9:.9f}"
        fs.pipe_file(key, path.read_bytes(), Metadata={MTIME_METADATA: mtime})


def published_rows(data_dir: Path) -> dict[str, list[tuple]]:
    """Every published table's rows, ordered by all columns (RUN_OWN left out)."""
    snapshot = data_dir / "published" / "current.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        tables = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        rows = {}
        for schema, name in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, name],
                ).fetchall()
                if c not in RUN_OWN.get(f"{schema}.{name}", set())
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            query = f'select {listed} from "{schema}"."{name}" order by all'
            rows[f"{schema}.{name}"] = con.execute(query).fetchall()
    return rows


def assert_same_tables(data_dir: Path, reference: Path) -> None:
    ours, theirs = published_rows(data_dir), published_rows(reference)
    assert list(ours) == list(theirs)
    for table in theirs:
        assert ours[table] == theirs[table], f"{table} differs from the local run's"


def generated_data_dir(cohort: Path, root: Path) -> Path:
    """A data dir with the cohort's truth/ (the generator's record of its landing files) but
    neither landing/ nor raw/: those are elsewhere."""
    shutil.copytree(cohort / "truth", root / "truth")
    return root


class Faults:
    """FaultyParse plugins on every worker of the test cluster, removed when the test ends."""

    def __init__(self, client) -> None:
        self.client = client
        self.installed: list[str] = []

    def install(self, file_name: str, mode: str, marker: Path) -> None:
        name = f"fault-{len(self.installed)}"
        self.client.register_plugin(FaultyParse(file_name, mode, marker), name=name)
        self.installed.append(name)

    def remove_all(self) -> None:
        while self.installed:
            self.client.unregister_worker_plugin(self.installed.pop())


@pytest.fixture
def faults(dask_cluster):
    injected = Faults(dask_cluster)
    yield injected
    injected.remove_all()


@pytest.mark.pipeline
def test_on_dask_and_s3_a_run_publishes_what_a_local_run_publishes_though_a_worker_died(
    small_cohort, s3_bucket, dask_cluster, faults, tmp_path, monkeypatch
):
    landing, raw = f"{s3_bucket}/landing", f"{s3_bucket}/raw"
    upload_landing(small_cohort / "landing", landing)
    root = generated_data_dir(small_cohort, tmp_path / "data")
    marker = tmp_path / "killed"
    faults.install("sleepDay_merged.csv", "kill once", marker)
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster.scheduler.address)
    # the workers hash every new upload: this process (the workers have their own classes)
    # downloads none of them, on the first run or the next
    monkeypatch.setattr(
        ObjectPrefix, "sha256", lambda self, relative: pytest.fail(f"{relative} hashed here")
    )

    with dg.DagsterInstance.ephemeral() as instance:
        report = run_pipeline(root, instance=instance, landing=landing, raw=raw)
        messages = [e.user_message for e in instance.all_logs(report.run_id)]

    assert report.published, report.render()
    (killed,) = killed_pids(marker)
    assert killed not in dask_cluster.run(os.getpid).values(), "that worker died; it was retried"
    assert_same_tables(root, small_cohort)
    progress = [m for m in messages if "new files parsed" in m]
    assert progress and all(dask_cluster.scheduler.address in m for m in progress)
    assert any(m.startswith("fitabase_sleep_day: 1 of 1 new files parsed") for m in progress)
    hashing = [m for m in messages if "new upload(s) on" in m]
    uploads = [p for p in (small_cohort / "landing").rglob("*") if p.is_file()]
    assert sum(int(m.split(": hashing ")[1].split()[0]) for m in hashing) == len(uploads)
    assert not (root / "landing").exists() and not (root / "raw").exists()

    # the same exports again: no object is read or written, the same tables are published
    fs = fsspec.filesystem("s3")
    objects = {k: v["ETag"] for k, v in fs.find(raw, detail=True).items() if MANIFEST not in k}
    again = run_pipeline(root, landing=landing, raw=raw, log_level="WARNING")
    assert again.published, again.render()
    assert {k: v["ETag"] for k, v in fs.find(raw, detail=True).items() if MANIFEST not in k} == (
        objects
    )
    assert_same_tables(root, small_cohort)


@pytest.mark.pipeline
def test_on_dask_a_file_that_keeps_failing_is_quarantined_by_name_and_parsed_again_next_run(
    small_cohort, dask_cluster, faults, tmp_path, monkeypatch
):
    root = tmp_path / "data"
    shutil.copytree(small_cohort / "landing", root / "landing")  # copytree keeps the mtimes
    shutil.copytree(small_cohort / "truth", root / "truth")
    failing = "roster/roster_2026-04-27.csv"
    marker = tmp_path / "killed"
    faults.install(Path(failing).name, "kill always", marker)
    monkeypatch.setenv(SCHEDULER_ENV, dask_cluster.scheduler.address)

    report = run_pipeline(root, log_level="WARNING")

    assert report.published, report.render()
    assert len(killed_pids(marker)) == 2, "each attempt killed its worker"
    snapshot = root / "published" / "current.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        files = {
            file: (status, error)
            for file, status, error in con.execute(
                "select file, status, error from meta.source_files"
            ).fetchall()
        }
        issues = con.execute(
            "select file, action, reason from marts.ingest_issues where action = 'file quarantined'"
        ).fetchall()
    status, error = files.pop(failing)
    assert status == "quarantined" and "stopped the worker process" in error
    assert [(file, action) for file, action, _ in issues] == [(failing, "file quarantined")]
    local = published_rows(small_cohort)["meta.source_files"]
    assert {f: (s, e) for _, _, f, _, _, _, _, s, e, _ in local if f != failing} == files, (
        "every other file landed as in the local run"
    )

    # the fault gone, the next run parses that file again: as if it had never failed
    faults.remove_all()
    fault_free = run_pipeline(root, log_level="WARNING")
    assert fault_free.published, fault_free.render()
    assert_same_tables(root, small_cohort)


def test_a_batch_with_a_failing_file_is_split_and_only_that_file_is_quarantined(
    dask_cluster, faults, tmp_path
):
    oura = SOURCES_BY_NAME["oura"]
    data_dir = DataDir.at(tmp_path / "data")
    people = [f"P-{n:05d}" for n in range(1, 13)]
    for person in people:
        folder = data_dir.landing / "oura" / person
        folder.mkdir(parents=True)
        (folder / f"oura_{person.lower()}_trends.csv").write_text(oura_trends(date(2026, 3, 2)))
    bad = people[6]
    faults.install(f"oura_{bad.lower()}_trends.csv", "raise", tmp_path / "unused")
    key = pseudonym_key()
    logged: list[str] = []

    with ParseCluster(dask_cluster.scheduler.address) as cluster:
        results = ingest_source(data_dir, oura, key, log=logged.append, cluster=cluster)
        assert cluster.workers == 2 and len(results) == 12

    status = {r.found.participant_id: (r.status, r.error) for r in results}
    failed_status, error = status.pop(bad)
    assert {s for s, _ in status.values()} == {"loaded"}
    assert failed_status == "quarantined"
    assert error.startswith("could not be parsed: its parse failed each time it was tried (")
    assert f"oura/{pseudonymize(bad, key)}/" in error and "OSError" in error
    assert any("parsing them one by one" in line for line in logged), "its batch was split"
    worker_logs = "\n".join(
        message for entries in dask_cluster.get_worker_logs().values() for _, message in entries
    )
    assert pseudonymize(bad, key) in worker_logs, "the workers logged the failure"
    shown = "\n".join([*logged, error, worker_logs]).lower()
    assert [p for p in people if p.lower() in shown] == [], "by pid only"

    faults.remove_all()
    with ParseCluster(dask_cluster.scheduler.address) as cluster:
        again = ingest_source(data_dir, oura, key, cluster=cluster)
    parsed_now = {r.found.participant_id for r in again if r.parsed_now}
    assert parsed_now == {bad} and {r.status for r in again} == {"loaded"}


def test_an_upload_the_workers_cannot_hash_fails_the_ingest_by_pid_and_writes_nothing(
    dask_cluster, s3_bucket, tmp_path
):
    """In object storage a configured cluster's workers hash the new uploads. One of them
    cannot be read (every time it is tried): the ingest raises, as hashing it in the run's
    process would, naming the file by pid in its error and in the workers' logs, and writes
    no partition and no manifest."""
    oura = SOURCES_BY_NAME["oura"]
    landing, raw = f"{s3_bucket}/landing", f"{s3_bucket}/raw"
    people = [f"P-{n:05d}" for n in range(1, 6)]
    fs = fsspec.filesystem("s3")
    for person in people:
        trends = oura_trends(date(2026, 3, 2)).encode()
        fs.pipe_file(f"{landing.removeprefix('s3://')}/oura/{person}/trends.csv", trends)
    bad = people[3]
    data_dir = DataDir.at(tmp_path / "data", landing=landing, raw=raw)
    key = pseudonym_key()

    def break_hashing(person: str) -> None:
        real = ObjectPrefix.sha256

        def sha256(store, relative):
            if f"/{person}/" in relative:
                raise OSError(f"{store.url}/{relative}: Input/output error")
            return real(store, relative)

        ObjectPrefix.real_sha256, ObjectPrefix.sha256 = real, sha256

    def mend_hashing() -> None:
        if hasattr(ObjectPrefix, "real_sha256"):
            ObjectPrefix.sha256 = ObjectPrefix.real_sha256
            del ObjectPrefix.real_sha256

    dask_cluster.run(break_hashing, bad)  # in the worker processes only
    logged: list[str] = []
    try:
        with ParseCluster(dask_cluster.scheduler.address) as cluster:
            with pytest.raises(parse_cluster.ParseTaskFailed, match="Input/output error") as err:
                ingest_source(data_dir, oura, key, log=logged.append, cluster=cluster)
    finally:
        dask_cluster.run(mend_hashing)
    assert f"oura/{pseudonymize(bad, key)}/trends.csv" in str(err.value)
    assert logged == [f"oura: hashing 5 new upload(s) on {cluster.describe()}"]
    worker_logs = "\n".join(
        message for entries in dask_cluster.get_worker_logs().values() for _, message in entries
    )
    assert pseudonymize(bad, key) in worker_logs, "the workers logged the failure"
    shown = "\n".join([*logged, str(err.value), worker_logs]).lower()
    assert [p for p in people if p.lower() in shown] == [], "by pid only"
    assert fs.find(raw) == [], "no partition, no manifest"


def test_the_local_clusters_workers_write_raw_owner_only_whatever_the_umask(
    tmp_path, permissive_umask
):
    """Worker processes start with the umask of whoever started them (here 022): the parse
    task itself makes what it writes owner-only."""
    roster = SOURCES_BY_NAME["roster"]
    data_dir = DataDir.at(tmp_path / "data")
    (data_dir.landing / "roster").mkdir(parents=True)
    for n in range(PARALLEL_FILES):
        (data_dir.landing / "roster" / f"roster_{n:02d}.csv").write_text(
            "participant_id,cohort,coach_id,enrolled_on,timezone\n"
            f"P-{n:05d},A,C-1,2026-03-02,America/Chicago\n"
        )

    with ParseCluster(workers=2) as cluster:
        results = ingest_source(data_dir, roster, b"k" * 16, cluster=cluster)
        assert cluster.started, "that many new files go to the local cluster"

    assert {r.status for r in results} == {"loaded"}
    modes = {
        path.relative_to(data_dir.raw).as_posix(): oct(stat.S_IMODE(path.stat().st_mode))
        for path in data_dir.raw.rglob("*")
    }
    assert len([p for p in modes if p.endswith("roster.parquet")]) == PARALLEL_FILES
    expected = {p: oct(0o700 if (data_dir.raw / p).is_dir() else 0o600) for p in modes}
    assert modes == expected


MINUTE_SOURCES = {
    "fitabase_heartrate": "heartrate_seconds_merged.csv",
    "fitabase_minute_steps": "minuteStepsNarrow_merged.csv",
}


def plant_problems(path: Path) -> None:
    """Lines the parse reports by number, spread over the file in different ranges: a short
    line, a value out of range, a time that is none, a blank line, and a row again near the end."""
    lines = path.read_bytes().split(b"\r\n")
    n = len(lines)
    lines[n // 7] = lines[n // 7].rsplit(b",", 1)[0]
    lines[n // 2] = lines[n // 2].rsplit(b",", 1)[0] + b",-1"
    lines[n - 10] = lines[n - 10].replace(b"/", b"-", 1)
    lines.insert(2 * n // 3, b"")
    lines.insert(n - 5, next(line for line in lines[n // 3 :] if not line.endswith(b",0")))
    path.write_bytes(b"\r\n".join(lines))


def partition_contents(data_dir: DataDir, source_name: str) -> tuple:
    """The source's partition as a whole parse in one process writes it (ingested_at aside),
    and its manifest rows."""
    raw = data_dir.raw_store
    (manifest,) = raw.read_many([f"{source_name}/{MANIFEST}"]).values()
    (key,) = pl.read_parquet(io.BytesIO(manifest))["partition_key"]
    folder = partition_path(SOURCES_BY_NAME[source_name], key)
    tables = raw.read_many(
        [f"{folder}/{n}" for n in ("wearable_intervals.parquet", "issues.parquet")]
    )
    frames = [
        pl.read_parquet(io.BytesIO(tables[f"{folder}/{n}"]))
        for n in ("wearable_intervals.parquet", "issues.parquet")
    ]
    (summary,) = raw.read_many([f"{folder}/summary.json"]).values()
    manifest_rows = pl.read_parquet(io.BytesIO(manifest)).drop("modified_at", "object_version")
    return frames[0].drop("ingested_at"), frames[1], json.loads(summary), manifest_rows


@pytest.mark.pipeline
def test_on_dask_a_big_minute_file_is_parsed_in_ranges_on_both_workers_as_one_process_parses_it(
    minute_cohort, s3_bucket, dask_cluster, tmp_path, monkeypatch
):
    """Each minute file, cut into byte ranges read from S3 by both worker processes, lands in
    the raw partition and manifest a whole-file parse in one process writes — issues by line."""
    local = DataDir.at(tmp_path / "local")
    (export,) = (minute_cohort / "landing" / "fitabase").iterdir()
    for name in MINUTE_SOURCES.values():
        target = local.landing / "fitabase" / export.name / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(export / name, target)
        plant_problems(target)
    on_s3 = DataDir.at(tmp_path / "s3", landing=f"{s3_bucket}/landing", raw=f"{s3_bucket}/raw")
    upload_landing(local.landing, on_s3.landing_location)
    # small ranges: enough tasks that both workers get some even while one of them hashes
    # the file (a task of its own, ahead of them) on a slow machine
    monkeypatch.setattr(parse_cluster, "RANGE_BYTES", 256 << 10)
    key = pseudonym_key()
    # several consecutive ranges per task, as a big file on a small cluster goes (the file's
    # task groups them, on a worker)
    default = parse_cluster.TASKS_PER_THREAD
    monkeypatch.setattr(parse_cluster, "TASKS_PER_THREAD", 1)
    dask_cluster.run(lambda: setattr(parse_cluster, "TASKS_PER_THREAD", 1))
    try:
        ranged_on_both_workers_as_in_one_process(local, on_s3, export, key, dask_cluster)
    finally:
        dask_cluster.run(lambda: setattr(parse_cluster, "TASKS_PER_THREAD", default))


def ranged_on_both_workers_as_in_one_process(local, on_s3, export, key, dask_cluster):
    for source_name, name in MINUTE_SOURCES.items():
        source = SOURCES_BY_NAME[source_name]
        with ParseCluster(workers=1) as one_process:  # a single worker is never started
            (whole,) = ingest_source(local, source, key, cluster=one_process)
            assert not one_process.started
        size = (local.landing / "fitabase" / export.name / name).stat().st_size
        with get_task_stream(dask_cluster) as tasks:
            with ParseCluster(dask_cluster.scheduler.address) as cluster:
                (ranged,) = ingest_source(on_s3, source, key, cluster=cluster)
        ranges = [t for t in tasks.data if t["key"].startswith(f"parse-range-{source_name}")]
        cut = math.ceil(size / parse_cluster.RANGE_BYTES)
        per_task = parse_cluster.ranges_per_task(cut, 2)
        assert cut > 8 and per_task == parse_cluster.RANGES_PER_TASK > 1
        assert len(ranges) == math.ceil(cut / per_task), "consecutive ranges as one task"
        assert len({t["worker"] for t in ranges}) == 2, "both workers parsed ranges"
        heap_set = dask_cluster.run(lambda: parse_cluster._heap_set)
        assert list(heap_set.values()) == [True, True], "each set glibc's heap for ranges"
        # (Polars puts its defaults in front as it loads; jemalloc takes the last setting)
        allocator = dask_cluster.run(lambda: os.environ["_RJEM_MALLOC_CONF"].split(",")[-2:])
        assert [",".join(v) for v in allocator.values()] == [parse_cluster.PARSE_MALLOC_CONF] * 2

        ours, theirs = (
            partition_contents(on_s3, source_name),
            partition_contents(local, source_name),
        )
        assert ours[0].equals(theirs[0]), f"{name}: the rows of a whole parse"
        assert ours[1].equals(theirs[1]) and ours[2] == theirs[2] and ours[3].equals(theirs[3])
        assert (ranged.rows_read, ranged.rows_quarantined) == (
            whole.rows_read,
            whole.rows_quarantined,
        )
        lines = set(theirs[1]["line"].to_list())
        assert len(lines) >= 3 and max(lines) > 0.9 * whole.rows_read, "issues all over the file"


def minute_file_in(data_dir: DataDir, minute_cohort: Path, export: str, name: str) -> Path:
    """The cohort's minute file `name`, copied into data_dir's landing/ as export folder `export`."""
    (source_export,) = (minute_cohort / "landing" / "fitabase").iterdir()
    target = data_dir.landing / "fitabase" / export / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source_export / name, target)
    return target


@pytest.mark.pipeline
def test_a_new_big_file_is_hashed_on_a_worker_while_its_ranges_parse_and_a_moved_one_keeps_its_partition(
    minute_cohort, dask_cluster, tmp_path, monkeypatch
):
    """A new file big enough for byte ranges goes to the cluster before its hash is known, and
    a configured cluster's worker hashes it: the run's process never reads it. The partition
    still carries the file's SHA-256, and the same bytes at a new path (a re-sent export) are
    parsed but not written again."""
    import hashlib

    monkeypatch.setattr(parse_cluster, "RANGE_BYTES", 1 << 20)
    source = SOURCES_BY_NAME["fitabase_minute_steps"]
    data_dir = DataDir.at(tmp_path / "data")
    first = minute_file_in(data_dir, minute_cohort, "Fitabase Data 1", MINUTE_SOURCES[source.name])
    sha = hashlib.sha256(first.read_bytes()).hexdigest()
    key = pseudonym_key()
    hashed_here: list[str] = []  # by the run's process (the workers have their own classes)
    real_sha256 = type(data_dir.landing_store).sha256

    def sha256(store, relative):
        hashed_here.append(relative)
        return real_sha256(store, relative)

    monkeypatch.setattr(type(data_dir.landing_store), "sha256", sha256)

    def hash_tasks(tasks) -> list[dict]:
        return [t for t in tasks.data if t["key"].startswith("hash-")]

    with get_task_stream(dask_cluster) as tasks:
        with ParseCluster(dask_cluster.scheduler.address) as cluster:
            (result,) = ingest_source(data_dir, source, key, cluster=cluster)
    assert result.parsed_now and result.status == "loaded" and result.found.sha256 == sha
    assert len([t for t in tasks.data if t["key"].startswith("parse-range-")]) > 4
    assert len(hash_tasks(tasks)) == 1 and hashed_here == [], "hashed on a worker, not here"
    assert hash_tasks(tasks)[0]["worker"] in dask_cluster.scheduler_info()["workers"]
    partition = data_dir.raw / partition_path(source, sha)
    written = (partition / "summary.json").stat().st_mtime_ns
    lineage = pl.read_parquet(partition / "wearable_intervals.parquet")["file_sha256"]
    assert set(lineage) == {sha}
    (manifest,) = pl.read_parquet(data_dir.raw / source.name / MANIFEST).iter_rows(named=True)
    assert (manifest["file_sha256"], manifest["partition_key"]) == (sha, sha)

    moved = first.parent.parent / "Fitabase Data 2" / first.name
    moved.parent.mkdir()
    first.rename(moved)
    with get_task_stream(dask_cluster) as tasks:
        with ParseCluster(dask_cluster.scheduler.address) as cluster:
            (again,) = ingest_source(data_dir, source, key, cluster=cluster)
    assert len(hash_tasks(tasks)) == 1 and hashed_here == [], "hashed once, beside the parse"
    assert len([t for t in tasks.data if t["key"].startswith("parse-range-")]) > 4, (
        "parsed before its hash was known"
    )
    assert not again.parsed_now and again.found.sha256 == sha
    assert (again.rows_read, again.rows_landed) == (result.rows_read, result.rows_landed)
    assert (partition / "summary.json").stat().st_mtime_ns == written, "not written again"
    (manifest,) = pl.read_parquet(data_dir.raw / source.name / MANIFEST).iter_rows(named=True)
    assert manifest["file"].startswith("fitabase/Fitabase Data 2/")
    assert manifest["partition_key"] == sha


@pytest.mark.pipeline
def test_a_file_whose_hash_fails_beside_its_parse_fails_the_ingest_and_writes_nothing(
    minute_cohort, dask_cluster, tmp_path, monkeypatch
):
    """The workers' hash of the file fails (every time it is tried): the ingest raises that
    error, as hashing before the parse would have, and writes no partition and no manifest."""
    from pipelines.lib.storage import LocalFolder

    monkeypatch.setattr(parse_cluster, "RANGE_BYTES", 1 << 20)
    source = SOURCES_BY_NAME["fitabase_minute_steps"]
    data_dir = DataDir.at(tmp_path / "data")
    minute_file_in(data_dir, minute_cohort, "Fitabase Data 1", MINUTE_SOURCES[source.name])

    def broken(store, relative):
        raise OSError(f"{relative}: Input/output error")

    def break_hashing():
        LocalFolder.real_sha256, LocalFolder.sha256 = LocalFolder.sha256, broken

    def mend_hashing():
        if hasattr(LocalFolder, "real_sha256"):
            LocalFolder.sha256 = LocalFolder.real_sha256
            del LocalFolder.real_sha256

    dask_cluster.run(break_hashing)  # in the worker processes only
    try:
        with ParseCluster(dask_cluster.scheduler.address) as cluster:
            with pytest.raises(OSError, match="Input/output error"):
                ingest_source(data_dir, source, pseudonym_key(), cluster=cluster)
    finally:
        dask_cluster.run(mend_hashing)
    assert not list((data_dir.raw / source.name).glob("parser=*/file_sha256=*/summary.json"))
    assert not (data_dir.raw / source.name / MANIFEST).exists()


@pytest.mark.pipeline
def test_a_local_cluster_starts_once_though_the_run_and_a_hashing_thread_both_wait_for_it(
    minute_cohort, tmp_path, monkeypatch
):
    """Without a configured scheduler the local cluster starts in the background; the thread
    hashing a big new file (in the run's process, at a lower priority than the workers on the
    same cores) and the run itself both need its client, and get the same one."""
    monkeypatch.setattr(parse_cluster, "RANGE_BYTES", 1 << 20)
    monkeypatch.setattr(parse_cluster, "LOCAL_RANGES_BYTES", 4 << 20)
    monkeypatch.setattr(parse_cluster, "PARALLEL_BYTES", 4 << 20)
    source = SOURCES_BY_NAME["fitabase_heartrate"]
    data_dir = DataDir.at(tmp_path / "data")
    file = minute_file_in(data_dir, minute_cohort, "Fitabase Data 1", MINUTE_SOURCES[source.name])
    assert file.stat().st_size > 4 << 20
    starts = []
    start_local = ParseCluster._start_local

    def counted(self):
        starts.append(self)
        return start_local(self)

    monkeypatch.setattr(ParseCluster, "_start_local", counted)
    niceness: dict[str, int] = {}  # of the thread that hashed each file in this process
    real_sha256 = type(data_dir.landing_store).sha256

    def sha256(store, relative):
        niceness[relative] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        return real_sha256(store, relative)

    monkeypatch.setattr(type(data_dir.landing_store), "sha256", sha256)
    with ThreadPoolExecutor(1) as run, ParseCluster(workers=2) as cluster:
        # (with two clusters the hash would go to one and the file's task wait on the other)
        ingest = run.submit(ingest_source, data_dir, source, pseudonym_key(), cluster=cluster)
        (result,) = ingest.result(timeout=240)
        assert cluster.started and len(starts) == 1
        assert len(cluster.client().scheduler_info()["workers"]) == 2
        # the workers check their event loops and /proc as seldom as the cluster was told to
        watched = ["distributed.admin.tick.interval", "distributed.admin.system-monitor.interval"]
        settings = cluster.client().run(lambda: [dask.config.get(k) for k in watched])
        wanted = [parse_cluster.LOCAL_CLUSTER_CONFIG[k] for k in watched]
        assert list(settings.values()) == [wanted, wanted]
    assert result.parsed_now and result.status == "loaded"
    ours = os.getpriority(os.PRIO_PROCESS, os.getpid())
    assert niceness == {result.found.relative: min(19, ours + raw_store.HASH_NICENESS)}
    with pytest.raises(parse_cluster.ClusterError, match="closed"):
        cluster.client()
