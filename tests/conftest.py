"""Shared fixtures: the real vendor samples beside the project, and generated cohorts run end to end.

Every test that runs the Dagster job (in this process, or in a `dagster`/`steadyback`
subprocess) is marked `pipeline`, so that `pytest -m "not pipeline"` is the quick subset:
tests that use a fixture below that runs it are marked here; a module or test that runs it
itself says so with the marker, and a run in this process from a test without it fails (see
the guard below). The daemon-style run of the privacy test takes minutes of step processes:
it starts in the background as the session begins (`background_runs`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

pytest_plugins = ("pytester", "work_groups")

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "real"
FITABASE_2016 = SHARED_REAL / "fitabase_furberg2016" / "Fitabase Data 4.12.16-5.12.16"

os.environ.setdefault("STEADYBACK_PSEUDONYM_KEY", "test-key-for-steadyback")

RUN_THE_PIPELINE = ("small_cohort", "demo_cohort", "minute_cohort")
"""The fixtures below that run the pipeline: a test using them (directly or not) is `pipeline`."""


SHARED_BY_GROUP = ("minute_cohort", "demo_cohort", "dask_cluster", "daemon_run")
"""Session fixtures too costly to make twice: with `pytest -n` (pytest-xdist, `make test`) the
tests using one run in one worker (tests/work_groups.py schedules the groups). Every other test
goes with its module (module fixtures start servers and browsers); the quick session fixtures
may be made once per worker, and `small_cohort`, used across the suite, is built once
(`built_once`) and copied to each worker."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if any(name in fixtures for name in RUN_THE_PIPELINE):
            item.add_marker(pytest.mark.pipeline)
        group = next(
            (name for name in SHARED_BY_GROUP if name in fixtures), item.nodeid.split("::")[0]
        )
        item.add_marker(pytest.mark.xdist_group(group))


_running: list[pytest.Item] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    _running.append(item)
    try:
        return (yield)
    finally:
        _running.pop()


@pytest.fixture(autouse=True)
def main_module_restored():
    """A Streamlit AppTest runs a page as `__main__` and can leave it in sys.modules; a process
    started later with multiprocessing's spawn (the Dask workers) would run that page again."""
    import sys

    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture(scope="session", autouse=True)
def pipeline_runs_are_marked():
    """A Dagster run (`run_pipeline`, `materialize`, `execute_in_process`) from a test that is
    not marked `pipeline` fails: the quick subset stays quick and the marker stays true."""
    import dagster as dg

    execute_in_process = dg.JobDefinition.execute_in_process

    def guarded(job, *args, **kwargs):
        if _running and _running[-1].get_closest_marker("pipeline") is None:
            raise RuntimeError(
                f"{_running[-1].nodeid} runs the Dagster job: mark it `pipeline` "
                "(tests/conftest.py says how)"
            )
        return execute_in_process(job, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dg.JobDefinition, "execute_in_process", guarded)
        yield


@pytest.fixture(scope="session", autouse=True)
def background_runs(request, tmp_path_factory):
    """Runs that take minutes in their own processes, started as the session begins when a
    selected test needs them, so that their wait overlaps the tests before it."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not any(
        "daemon_run" in getattr(item, "fixturenames", ()) for item in request.session.items
    ):
        yield {}  # a worker of `pytest -n` sees every test, not the ones it will run: on demand
        return
    from private_data import DaemonStyleRun

    runs = {"daemon_run": DaemonStyleRun.start(tmp_path_factory.mktemp("daemon_run"))}
    yield runs
    for run in runs.values():
        run.stop()


@pytest.fixture(scope="session")
def daemon_run(background_runs, tmp_path_factory):
    """The `refresh` job as Dagster's daemon runs it (private_data.DaemonStyleRun)."""
    if "daemon_run" in background_runs:
        yield background_runs["daemon_run"]
        return
    from private_data import DaemonStyleRun

    run = DaemonStyleRun.start(tmp_path_factory.mktemp("daemon_run"))
    yield run
    run.stop()


@pytest.fixture
def permissive_umask():
    """The umask of an ordinary shell (0o022): what steadyback writes must be private anyway."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not SHARED_REAL.is_dir():
        pytest.skip(
            f"real vendor samples not found at {SHARED_REAL} (clone ../shared beside the project)"
        )
    return SHARED_REAL


@pytest.fixture(scope="session")
def fitabase_2016(real_data: Path) -> Path:
    return FITABASE_2016


def built_once(tmp_path_factory, name: str, build: Callable[[Path], object]) -> Path:
    """`build(folder)` once per session, by whichever pytest-xdist worker asks first (the others
    wait on a file lock in the folder the controller gave them all), then left unchanged."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # a worker's basetemp is popen-gwN inside the controller's
    folder, built = root / name, root / f"{name}.built"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not built.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            built.touch()
    return folder


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory) -> Path:
    """A generated cohort (40 people × 6 weeks) run through the real pipeline once per session,
    and copied for this worker (its tests may run the pipeline on it again, add users to it)."""
    from pipelines.lib.demo_cohort import generate_cohort

    def generate_and_run(data_dir: Path) -> None:
        generate_cohort(data_dir, participants=40, weeks=6, seed=11)
        run_and_publish(data_dir)

    built = built_once(tmp_path_factory, "small_cohort_built", generate_and_run)
    data_dir = tmp_path_factory.mktemp("small_cohort")
    shutil.copytree(built, data_dir, dirs_exist_ok=True)  # keeps modes and mtimes
    return data_dir


@pytest.fixture(scope="session")
def minute_cohort(tmp_path_factory) -> Path:
    """A generated cohort with minute-level Fitabase files (8 people × 2 weeks, seed 11: every
    kind of wear gap, a partial day and a device swap), run through the real pipeline once."""
    from pipelines.lib.demo_cohort import generate_cohort

    data_dir = tmp_path_factory.mktemp("minute_cohort")
    generate_cohort(data_dir, participants=8, weeks=2, seed=11, minute_level=True)
    return run_and_publish(data_dir)


@pytest.fixture(scope="session")
def published_data_dir(small_cohort: Path) -> Path:
    """A data dir whose published/current.duckdb came from the real pipeline."""
    return small_cohort


@pytest.fixture(scope="session")
def demo_exports(tmp_path_factory) -> Path:
    """The demo's own cohort (`steadyback demo`: 300 people × 12 weeks, seed 7) as the
    generator writes it — landing/ and truth/ — once per session."""
    from pipelines.cli import DEMO_COHORT
    from pipelines.lib.demo_cohort import generate_cohort

    data_dir = tmp_path_factory.mktemp("demo_cohort")
    generate_cohort(data_dir, **DEMO_COHORT)
    return data_dir


@pytest.fixture(scope="session")
def demo_cohort(demo_exports: Path) -> Path:
    """`demo_exports` run through the real pipeline once per session (read it, don't change it)."""
    return run_and_publish(demo_exports)


def run_and_publish(data_dir: Path) -> Path:
    """`data_dir` after a run of the real pipeline, which must have published."""
    from pipelines.runner import run_pipeline

    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    return data_dir


@pytest.fixture(scope="session")
def s3_server():
    """A real S3 API over HTTP on a free loopback port (moto's ThreadedMotoServer), with this
    process's AWS variables pointing at it; Dask workers started afterwards inherit them."""
    import logging
    import socket

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
        env.setenv("AWS_ACCESS_KEY_ID", "steadyback-test")
        env.setenv("AWS_SECRET_ACCESS_KEY", "steadyback-test-secret")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(s3_server, request) -> str:
    """A new, empty bucket on `s3_server` for this test: its s3:// URL."""
    import re
    import uuid

    import fsspec

    name = re.sub(r"[^a-z0-9-]", "-", request.node.name.lower())[:40].strip("-")
    bucket = f"{name}-{uuid.uuid4().hex[:8]}"
    fsspec.filesystem("s3").mkdir(bucket)
    return f"s3://{bucket}"


@pytest.fixture(scope="session")
def dask_cluster(s3_server):
    """A Dask LocalCluster of 2 worker processes set up as the pipeline's own local cluster (a
    task may kill 2 workers before it fails; one thread per worker), and a client to it."""
    import dask
    from distributed import Client, LocalCluster

    from pipelines.lib.parse_cluster import LOCAL_CLUSTER_CONFIG, WORKER_ENV

    with dask.config.set(LOCAL_CLUSTER_CONFIG):
        cluster = LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=WORKER_ENV,
        )
    client = Client(cluster)
    yield client
    client.close()
    cluster.close()
