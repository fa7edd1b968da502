"""Key or no run: real data is published only under the program's own key, and only that key.

Real data here is two people's program exports (not the generated cohort). Runs go
through `steadyback run` (pipelines.cli.main) and through the `refresh` job exactly
as the code location defines it for the sensor and the schedule (no runner in front).
The first `steadyback run` under KEY_A, where three tests start, is run once for the module
and copied into each test's own data dir.
"""

from __future__ import annotations

import shutil

import dagster as dg
import duckdb
import pytest
from landing_files import write_landing

from pipelines import cli
from pipelines.definitions import build_definitions
from pipelines.lib.demo_cohort import generate_cohort
from pipelines.lib.layout import DataDir
from pipelines.lib.pseudonym import (
    DEMO_KEY,
    KEY_ENV,
    KeyRefused,
    key_fingerprint,
    pseudonym_key,
    pseudonymize,
)
from pipelines.lib.publish import PublishRefused, publish
from pipelines.lib.warehouse import open_warehouse
from pipelines.runner import run_pipeline

KEY_A = "program-key-a-0123456789"
KEY_B = "program-key-b-9876543210"
ROSTER = (
    "participant_id,cohort,coach_id,enrolled_on,program_weeks,timezone\n"
    "P-001,A,C-1,2026-03-02,2,America/Chicago\n"
    "P-002,A,C-1,2026-03-02,2,Europe/London\n"
)
SESSIONS = (
    "session_id,participant_id,started_at,duration_s,kind,discomfort,guided_breathing,completed\n"
    "s1,P-001,2026-03-02T22:30:00-06:00,600,stretch,2,true,true\n"
    "s2,P-002,2026-03-05T07:00:00+00:00,600,stretch,5,false,true\n"
)


@pytest.fixture
def real_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / ".dagster"))  # cli.main points it here
    return write_landing(tmp_path, {"roster/roster.csv": ROSTER, "app/sessions_1.csv": SESSIONS})


@pytest.fixture(scope="module")
def run_under_key_a(tmp_path_factory):
    """The real data after `steadyback run` with KEY_A, run once for the module: read only."""
    data_dir = write_landing(
        tmp_path_factory.mktemp("key_a") / "data",
        {"roster/roster.csv": ROSTER, "app/sessions_1.csv": SESSIONS},
    )
    with pytest.MonkeyPatch.context() as env:
        env.setenv(KEY_ENV, KEY_A)
        env.setenv("DAGSTER_HOME", str(data_dir / ".dagster"))  # cli.main points it there
        assert cli.main(["run", "--data-dir", str(data_dir)]) == 0
    return data_dir


@pytest.fixture
def published_under_key_a(run_under_key_a, real_data_dir, monkeypatch, capsys):
    """`real_data_dir` as `steadyback run` with KEY_A left it (a copy of `run_under_key_a`:
    the copy keeps every file's time, as the exports' times are part of what was run)."""
    shutil.rmtree(real_data_dir / "landing")
    shutil.copytree(run_under_key_a, real_data_dir, dirs_exist_ok=True)
    monkeypatch.setenv(KEY_ENV, KEY_A)
    capsys.readouterr()
    return real_data_dir


def snapshot_meta(data_dir) -> dict:
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        cursor = con.execute("select * from meta.snapshot")
        names = [d[0] for d in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def pids(data_dir) -> set[str]:
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        return {pid for (pid,) in con.execute("select pid from marts.participants").fetchall()}


def partitions(data_dir) -> set[str]:
    return {p.parent.name for p in (data_dir / "raw").rglob("summary.json")}


def refresh_as_the_sensor_would(data_dir, **run_config) -> dg.ExecuteInProcessResult:
    """The code location's `refresh` job with its own resources: it never rotates."""
    job = build_definitions(data_dir).resolve_job_def("refresh")
    with dg.DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config
        )


def failure_messages(result: dg.ExecuteInProcessResult) -> list[str]:
    return [e.step_failure_data.error.to_string() for e in result.all_events if e.is_step_failure]


@pytest.mark.pipeline
def test_steadyback_run_on_real_data_without_the_key_refuses_before_parsing(
    published_under_key_a, monkeypatch, capsys
):
    real_data_dir = published_under_key_a
    before, parsed = snapshot_meta(real_data_dir), partitions(real_data_dir)
    assert parsed, "the run with the key parsed the exports"

    monkeypatch.delenv(KEY_ENV)
    (real_data_dir / "landing" / "app" / "sessions_2.csv").write_text(
        SESSIONS.replace("s1,", "s3,").replace("s2,", "s4,")
    )
    code = cli.main(["run", "--data-dir", str(real_data_dir)])

    out, err = capsys.readouterr()
    assert code != 0
    assert f"{KEY_ENV} is not set" in err and "secrets.token_urlsafe" in err
    assert "Published:" not in out
    assert snapshot_meta(real_data_dir) == before, "the previous snapshot is kept"
    assert partitions(real_data_dir) == parsed, "refused before the new file was parsed"


@pytest.mark.pipeline
def test_the_refresh_job_refuses_real_data_without_the_key(real_data_dir, monkeypatch):
    monkeypatch.delenv(KEY_ENV)
    result = refresh_as_the_sensor_would(real_data_dir)

    assert not result.success
    messages = failure_messages(result)
    assert messages and all(f"{KEY_ENV} is not set" in m for m in messages)
    assert not (real_data_dir / "published").exists(), "nothing published"
    assert partitions(real_data_dir) == set(), "no raw step parsed anything"


@pytest.mark.parametrize(
    ("key", "why"), [(DEMO_KEY, "public demo key"), ("too-short", "at least 16")]
)
def test_the_public_demo_key_or_a_short_key_is_refused_on_real_data(
    real_data_dir, monkeypatch, key, why
):
    monkeypatch.setenv(KEY_ENV, key)
    with pytest.raises(KeyRefused, match=why):
        run_pipeline(real_data_dir, log_level="WARNING")
    assert not (real_data_dir / "published").exists()


@pytest.mark.pipeline
def test_the_generated_cohort_runs_on_the_demo_key_until_a_real_file_joins_it(
    tmp_path, monkeypatch
):
    generate_cohort(tmp_path, participants=12, weeks=3, seed=3)
    monkeypatch.delenv(KEY_ENV)
    report = run_pipeline(tmp_path, log_level="WARNING")
    assert report.published, report.render()
    published = snapshot_meta(tmp_path)
    assert published["generated_cohort"] is True
    assert published["key_fingerprint"] == key_fingerprint(DEMO_KEY.encode())

    extra = tmp_path / "landing" / "roster" / "roster_more.csv"
    extra.write_text(ROSTER)  # one real export beside the generated ones
    with pytest.raises(KeyRefused, match=f"{KEY_ENV} is not set"):
        run_pipeline(tmp_path, log_level="WARNING")
    assert snapshot_meta(tmp_path) == published

    # with a key it runs, and the snapshot says what it was built from: not the generated cohort
    monkeypatch.setenv(KEY_ENV, KEY_A)
    assert run_pipeline(tmp_path, log_level="WARNING").published
    assert snapshot_meta(tmp_path)["generated_cohort"] is False
    assert snapshot_meta(tmp_path)["key_fingerprint"] == key_fingerprint(KEY_A.encode())


@pytest.mark.pipeline
def test_a_changed_key_is_refused_until_rotated_with_steadyback_run(
    published_under_key_a, monkeypatch, capsys
):
    real_data_dir = published_under_key_a
    published = snapshot_meta(real_data_dir)
    assert published["generated_cohort"] is False
    assert published["key_fingerprint"] == key_fingerprint(KEY_A.encode())
    assert KEY_A not in str(published)

    monkeypatch.setenv(KEY_ENV, KEY_B)
    with pytest.raises(KeyRefused, match="steadyback run --rotate-key"):
        run_pipeline(real_data_dir, log_level="WARNING")
    # the sensor's and the schedule's job never rotate, whatever the launchpad says
    result = refresh_as_the_sensor_would(
        real_data_dir, resources={"key_rotation": {"config": {"allowed": True}}}
    )
    assert not result.success
    assert all("steadyback run --rotate-key" in m for m in failure_messages(result))
    assert snapshot_meta(real_data_dir) == published

    assert cli.main(["run", "--data-dir", str(real_data_dir), "--rotate-key"]) == 0
    assert "Published:" in capsys.readouterr().out
    assert snapshot_meta(real_data_dir)["key_fingerprint"] == key_fingerprint(KEY_B.encode())
    assert pids(real_data_dir) == {pseudonymize(p, KEY_B.encode()) for p in ("P-001", "P-002")}

    monkeypatch.setenv(KEY_ENV, KEY_A)  # the old key is now the wrong one
    with pytest.raises(KeyRefused, match="not the key the published snapshot was made with"):
        run_pipeline(real_data_dir, log_level="WARNING")


@pytest.mark.pipeline
def test_publish_refuses_a_warehouse_built_under_another_key(published_under_key_a, monkeypatch):
    real_data_dir = published_under_key_a
    before = snapshot_meta(real_data_dir)

    monkeypatch.setenv(KEY_ENV, KEY_B)  # e.g. only the publish asset materialized after a change
    layout = DataDir.at(real_data_dir)
    with open_warehouse(layout, pseudonym_key()) as con:
        with pytest.raises(PublishRefused, match="built with another pseudonym key"):
            publish(layout, con, "run-x", "test", rotate_key=True)
    assert snapshot_meta(real_data_dir) == before
