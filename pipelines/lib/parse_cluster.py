"""Where the raw layer's parse tasks run: a Dask distributed cluster.

With `STEADYBACK_DASK_SCHEDULER` (e.g. `tls://scheduler.internal:8786`) every new file
goes to that cluster; its workers must reach landing/ and raw/ at the same locations
(object storage, or one shared mount). Without it, a `LocalCluster` of worker processes
on this machine is started the first time a source has enough new work to pay for it
(PARALLEL_FILES files or PARALLEL_BYTES), and stopped with the run; smaller work is
parsed in the run's own process, as are re-runs, which parse nothing.

A batch that fails (an exception, or its worker process dying) is retried; one that keeps
failing is split into its files, and a file that keeps failing alone is returned to the
caller, which quarantines it (raw_store.py). The run itself goes on.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future as StartFuture
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .. import OPERATOR_POLARS_MALLOC_CONF

if TYPE_CHECKING:
    from distributed import Client, Future, LocalCluster

SCHEDULER_ENV = "STEADYBACK_DASK_SCHEDULER"
WORKERS_ENV = "STEADYBACK_DASK_WORKERS"

# Starting and stopping the local cluster costs 4-5 s on 2 cores, while a small export
# parses in about 15 ms in-process and a program export at about 25 MB/s: below this much
# new work, parse in the run's process (the 144 MB of app sessions of 10,000 people: 5.5 s
# here, 7.6 s on a local cluster started for them).
PARALLEL_FILES = 64
PARALLEL_BYTES = 512 * 1024 * 1024
# A batch: a run of files in path order (a person's files together), small enough that
# every worker gets several batches and a failure repeats little work.
BATCH_FILES = 64
BATCH_BYTES = 256 * 1024 * 1024
BATCHES_PER_WORKER = 4
RANGE_BYTES = 24 * 1024 * 1024
"""A big file of a source that reads byte ranges (Source.ranges, the minute-level Fitabase
files) goes to the cluster as ranges of about this size, each a task of its own: fewer tasks
than at 16 MB cost the scheduler and the workers less (the heart-rate file on 2 workers ~5 %
faster), and a range stays under glibc's largest mmap threshold (`RANGE_HEAP`), which larger
ones (64 MB: slower again) are read past."""
RANGES_PER_TASK = 4
TASKS_PER_THREAD = 16
"""Up to RANGES_PER_TASK consecutive byte ranges go to the cluster as one task, parsed one
after another, as long as every worker thread still gets TASKS_PER_THREAD of the file's tasks
(`ranges_per_task`): fewer results to fetch and task messages, which on 2 workers shared the
cores and the GIL with the parse (the heart-rate file's 360 ranges as 90 tasks: ~1–2 s less of
~31 s, benchmarks/README.md), while each range is still read and parsed alone (its memory
as before) and a big cluster still gets one range per task."""
LOCAL_RANGES_BYTES = 512 * 1024 * 1024
"""The smallest such file worth starting the local cluster for: one process parses a
heart-rate file at ~35 MB/s and two workers at ~60 MB/s on 2 cores, so the cluster's start
and its workers' first parse (~7 s) pay off from about 0.6 GB (benchmarks/README.md)."""
TASK_RETRIES = 1
"""A failed batch (or file) runs once more before it is split (or quarantined)."""
LOCAL_ALLOWED_FAILURES = 1
"""The local cluster gives up on a task whose worker died twice under it (Dask's default: 4)."""
PROGRESS_EVERY_S = 2.0
AHEAD = 1
"""Dask priority of a task the parse waits for at its end, a file's hash: the longest single
task of the file (~5 s for 8.6 GB), so it starts before the parse's own tasks (priority 0)
and ends while they still run rather than after them."""
PARSE_MALLOC_CONF = "dirty_decay_ms:1000,muzzy_decay_ms:0"
"""Polars' allocator in the local cluster's workers. A parse allocates and frees a block's
columns block after block; handing the pages back after a tenth of a second, as the run's
process does for its warehouse step (`pipelines.RUN_MALLOC_CONF`), cost ~14 % more CPU on a
heart-rate range, a second none (paired runs, benchmarks/README.md). An operator's own
`_RJEM_MALLOC_CONF` wins here too."""


WORKER_ENV = {"_RJEM_MALLOC_CONF": OPERATOR_POLARS_MALLOC_CONF or PARSE_MALLOC_CONF}
"""Set in each worker process as it starts (the Nanny's `env`: its config's environment
gives way to the run's own variables, which hold the run's allocator setting)."""


LOCAL_CLUSTER_CONFIG = {
    "distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES,
    # the scheduler's and workers' HTTP servers (status pages, metrics) serve nothing
    "distributed.scheduler.http.routes": [],
    "distributed.worker.http.routes": [],
    # the worker processes' environment. One thread for each native library, Polars too: a
    # worker per core, and more threads would only compete for it. And glibc's own memory
    # trimming, not Dask's MALLOC_TRIM_THRESHOLD_ of 64 KiB: that hands each freed array back
    # to the system, so every block a parse reads gets fresh pages again (measured: 3× the
    # parse's time on the 2-core machine, benchmarks/README.md; `heap_for_ranges` goes further
    # for the byte ranges of minute files).
    "distributed.nanny.pre-spawn-environ": {
        "OMP_NUM_THREADS": 1,
        "MKL_NUM_THREADS": 1,
        "OPENBLAS_NUM_THREADS": 1,
        "POLARS_MAX_THREADS": 1,
    },
    # Dask samples each worker thread's stack every 10 ms for its dashboard's profile page,
    # which nothing here serves; under the GIL that sampling took a sixth to nearly a third of
    # a worker's CPU parsing a heart-rate file (paired runs on a busy 2-core machine, issue 12)
    "distributed.worker.profile.enabled": False,
    # every scheduler, nanny and worker checks its event loop's health every 20 ms and reads its
    # CPU, memory, disk and network counters from /proc every 500 ms, for the dashboard and its
    # warnings (a loop blocked for 3 s is still reported). With the hash on a worker these
    # overheads were about a twentieth of the 2-worker parse of a heart-rate file: 33.4 →
    # 31.9 s (benchmarks/README.md). The memory limits are still checked every 100 ms.
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.admin.system-monitor.disk": False,
}


RANGE_HEAP = {"mmap_threshold": 32 << 20, "trim_threshold": 64 << 20}
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_heap_set = False


def heap_for_ranges() -> None:
    """Once per process that parses byte ranges of a minute file: numpy's arrays up to 32 MiB
    from glibc's heap, which keeps up to 64 MiB of freed memory, rather than pages mapped and
    unmapped per array, so a block's temporaries reuse the last block's pages instead of
    faulting in fresh ones (about a tenth less CPU per heart-rate range on the 2-core
    machine, benchmarks/README.md). Not in every worker's environment: set there, the
    50,000-person daily run, whose workers parse big app exports, peaked at 3,956 MB
    against 3,819 MB without, too close to its bound. Nothing where libc is not glibc.
    """
    global _heap_set
    if _heap_set:
        return
    _heap_set = True
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, RANGE_HEAP["mmap_threshold"])
    mallopt(_M_TRIM_THRESHOLD, RANGE_HEAP["trim_threshold"])


def ranges_per_task(ranges: int, threads: int) -> int:
    """How many of a file's `ranges` byte ranges one task parses, on `threads` worker threads."""
    return max(1, min(RANGES_PER_TASK, ranges // (TASKS_PER_THREAD * max(1, threads))))


class ParseJob(Protocol):
    size_bytes: int
    sort_key: str


class ClusterError(RuntimeError):
    """The configured Dask cluster cannot be used; the message says what to check."""


@dataclass(frozen=True)
class Failed:
    """A job that kept failing, and why (safe to log: no raw identifier)."""

    job: ParseJob
    reason: str


def default_workers() -> int:
    """One single-threaded worker process per core: parsing is CPU-bound Python."""
    return os.cpu_count() or 1


def configured_workers() -> int | None:
    """STEADYBACK_DASK_WORKERS: the local cluster's worker processes (default: one per core)."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise ClusterError(f"{WORKERS_ENV}={text!r}: a number of worker processes, 1 or more")
    return int(text)


class ParseCluster:
    """The Dask client of a run: to `scheduler`, or to a LocalCluster started on first use.

    Use it as a context manager (or call `close`): the local cluster's processes end with it.
    """

    def __init__(self, scheduler: str | None = None, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ClusterError(f"{WORKERS_ENV}: {workers} worker processes; at least 1 is needed")
        self.scheduler = scheduler or None
        self.workers = workers or default_workers()
        self._client: Client | None = None
        self._cluster = None
        self._starting: StartFuture | None = None
        self._lock = threading.Lock()  # `client` is also called from threads hashing new files
        self._closed = False

    def __enter__(self) -> ParseCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def started(self) -> bool:
        return self._client is not None or self._starting is not None

    def start_soon(self) -> None:
        """Start the local cluster in the background, so that its 4-5 s of start overlap what
        the run does meanwhile (hashing the new files it will parse: hashlib lets go of the
        GIL). `client` waits for it; nothing is started when a scheduler is configured."""
        if self.scheduler or self._client is not None or self._starting is not None:
            return
        starting: StartFuture = StartFuture()

        def start() -> None:
            try:
                starting.set_result(self._start_local())
            except BaseException as err:  # noqa: BLE001 — raised where `client` waits for it
                starting.set_exception(err)

        self._starting = starting
        threading.Thread(target=start, name="steadyback-cluster-start", daemon=True).start()

    def worth_it(self, tasks: int, size_bytes: int) -> bool:
        """Whether new work — `tasks` files or byte ranges of files — goes to the cluster
        (always, when one is configured)."""
        if self.scheduler:
            return tasks > 0
        # one task keeps one worker busy whatever the cluster: not worth starting one for it
        busy = min(tasks, self.workers)
        return busy > 1 and (tasks >= PARALLEL_FILES or size_bytes >= PARALLEL_BYTES)

    def ranges_for(self, size_bytes: int) -> int:
        """Byte ranges a file that can be read in ranges goes to the cluster as (1: whole)."""
        if not self.scheduler and size_bytes < LOCAL_RANGES_BYTES:
            return 1
        return max(1, math.ceil(size_bytes / RANGE_BYTES))

    def describe(self) -> str:
        if self.scheduler:
            return f"the Dask cluster at {self.scheduler}"
        return f"a local Dask cluster of {self.workers} worker processes"

    def client(self) -> Client:
        with self._lock:
            return self._connected()

    def _connected(self) -> Client:
        if self._closed:
            raise ClusterError("the run's Dask client is closed")
        if self._client is not None:
            return self._client
        if self._starting is not None:
            starting, self._starting = self._starting, None
            self._cluster, self._client = starting.result()  # its error, if it failed
            return self._client
        if self.scheduler:
            from distributed import Client

            try:
                self._client = Client(self.scheduler, timeout="30s")
            except OSError as err:
                raise ClusterError(
                    f"cannot reach the Dask scheduler at {self.scheduler} ({SCHEDULER_ENV}): "
                    f"{err}. Start it (`dask scheduler`, plus workers), or unset {SCHEDULER_ENV} "
                    "to parse on a local cluster."
                ) from None
            return self._client
        self._cluster, self._client = self._start_local()
        return self._client

    def _start_local(self) -> tuple[LocalCluster, Client]:
        import dask
        from distributed import Client, LocalCluster

        with _plain_main(), dask.config.set(LOCAL_CLUSTER_CONFIG):
            # security=True: TLS with throw-away certificates, so that other accounts on this
            # machine cannot connect to the scheduler and run code as us
            cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                security=True,
                silence_logs=logging.ERROR,
                env=WORKER_ENV,
            )
            try:
                return cluster, Client(cluster)
            except BaseException:
                cluster.close()
                raise

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._close()

    def _close(self) -> None:
        if self._starting is not None:
            starting, self._starting = self._starting, None
            try:
                self._cluster, self._client = starting.result()
            except Exception:  # noqa: BLE001 — it never started: nothing to stop
                pass
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()

    def results_of(self, task: Callable, calls: Sequence[tuple], name: str) -> list:
        """`task(*call)` for each call, as tasks on the cluster ahead of the parse tasks queued
        with them (retried as they are); their results in order, or what the first to fail
        raised."""
        client = self.client()
        futures = [
            client.submit(
                task,
                *call,
                key=f"{name}-{uuid.uuid4().hex}",
                retries=TASK_RETRIES,
                priority=AHEAD,
                pure=False,
            )
            for call in calls
        ]
        try:
            return client.gather(futures)
        finally:
            for future in futures:
                future.release()

    def run(
        self,
        task: Callable,
        args: Sequence,
        batches: list[list[ParseJob]],
        name: str,
        log: Callable[[str], None],
    ) -> list[Failed]:
        """`task(*args, batch)` for every batch on the cluster; the jobs that kept failing.

        Logs progress (files and batches done) as batches finish, at most every
        PROGRESS_EVERY_S seconds, and always the last.
        """
        from distributed import as_completed

        client = self.client()
        total_files = sum(len(b) for b in batches)
        total_bytes = sum(j.size_bytes for b in batches for j in b)

        def submit(batch: list[ParseJob]) -> Future:
            return client.submit(
                task, *args, batch, key=f"parse-{name}-{uuid.uuid4().hex}", retries=TASK_RETRIES
            )

        pending = {submit(batch): batch for batch in batches}
        running = as_completed(list(pending))
        failed: list[Failed] = []
        files_done = bytes_done = batches_done = 0
        started = last_log = time.monotonic()
        for future in running:
            batch = pending.pop(future)
            error = future.exception()  # raises when the cluster cancelled it (lost)
            future.release()
            if error is not None:
                if not _task_failure(error):
                    raise error
                if len(batch) > 1:  # one bad file should not quarantine its neighbours
                    for job in batch:
                        single = submit([job])
                        pending[single] = [job]
                        running.add(single)
                    log(
                        f"{name}: a batch of {len(batch)} files kept failing; parsing them one by one"
                    )
                    continue
                failed.append(Failed(batch[0], _reason(error)))
            files_done += len(batch)
            bytes_done += sum(j.size_bytes for j in batch)
            batches_done += 1
            now = time.monotonic()
            if now - last_log >= PROGRESS_EVERY_S or files_done == total_files:
                last_log = now
                log(
                    f"{name}: {files_done} of {total_files} new files parsed "
                    f"({bytes_done / 2**20:.1f} of {total_bytes / 2**20:.1f} MB, "
                    f"{batches_done} batches) in {now - started:.1f} s on {self.describe()}"
                )
        return failed


def plan_batches(jobs: Sequence[ParseJob], workers: int) -> list[list[ParseJob]]:
    """Jobs in path order cut into batches: at most BATCH_FILES files and BATCH_BYTES each,
    and about BATCHES_PER_WORKER batches per worker when there are enough files."""
    per_batch = max(1, min(BATCH_FILES, math.ceil(len(jobs) / (BATCHES_PER_WORKER * workers))))
    batches: list[list[ParseJob]] = []
    current: list[ParseJob] = []
    size = 0
    for job in sorted(jobs, key=lambda j: j.sort_key):
        if current and (len(current) >= per_batch or size + job.size_bytes > BATCH_BYTES):
            batches.append(current)
            current, size = [], 0
        current.append(job)
        size += job.size_bytes
    if current:
        batches.append(current)
    return batches


class ParseTaskFailed(Exception):
    """A batch's task failed outside the parser (reading landing/, writing raw/); the
    message names the file by its pseudonymised path only."""


def _task_failure(err: BaseException) -> bool:
    """A file's failure (its task raised ParseTaskFailed, or its worker died), as opposed
    to the cluster's: a lost connection, or workers that cannot run the task at all (other
    code, a missing package), which stop the step rather than quarantine every file."""
    from distributed import KilledWorker

    return isinstance(err, (ParseTaskFailed, KilledWorker))


def _reason(err: BaseException) -> str:
    from distributed import KilledWorker

    if isinstance(err, KilledWorker):
        return (
            "its parse stopped the worker process each time it was tried (too little "
            "memory for the file, or a crash in a native library)"
        )
    return f"its parse failed each time it was tried ({err})"


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
