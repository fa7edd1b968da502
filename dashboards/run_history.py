"""The Dagster run history of a data dir, read-only, for the Data health page.

Runs live in the Dagster instance at `<data dir>/.dagster` (what
`pipelines.runner.dagster_home`, the CLI and `steadyback demo` use), not in the
published snapshot: a run that failed before publishing is only here. This
module never starts a run and never creates an instance: when the directory or
its run storage does not exist it says so instead of opening (which would create
one). Dagster is imported inside `read_run_history` because the import alone
takes a second or two, which pages that never ask for runs should not pay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from pipelines.lib.landing import LANDING_FINGERPRINT_TAG

INSTANCE_DIRNAME = ".dagster"
RUN_STORAGE = Path("history") / "runs.db"
SNAPSHOT_ASSET = ("published", "current_snapshot")
LANDING_FILES_TAG = "steadyback/landing_files"
PUBLISHES_LOOKED_AT = 200
"""How many recent snapshot publications are matched against the listed runs."""

RUN_SCHEMA = {
    "run_id": pl.String,
    "job": pl.String,
    "status": pl.String,
    "trigger": pl.String,
    "started_at": pl.Datetime("us", "UTC"),
    "ended_at": pl.Datetime("us", "UTC"),
    "duration_s": pl.Float64,
    "published": pl.Boolean,
    "landing_fingerprint": pl.String,
    "landing_files": pl.String,
    "failure": pl.String,
}
FAILED_STATUSES = ("failure", "canceled")


@dataclass(frozen=True)
class RunHistory:
    """What the instance holds. `state`: missing | empty | ok | error."""

    instance_dir: str
    state: str
    runs: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=RUN_SCHEMA))
    error: str | None = None


def instance_dir(data_dir: str | Path) -> Path:
    """`<data dir>/.dagster`, as `pipelines.runner.dagster_home` lays it out (without creating it)."""
    return Path(data_dir).absolute() / INSTANCE_DIRNAME


def _configures_other_storage(home: Path) -> bool:
    """Whether dagster.yaml points run storage elsewhere (e.g. Postgres) than history/runs.db."""
    config = home / "dagster.yaml"
    if not config.exists():
        return False
    return bool(re.search(r"^(storage|run_storage):", config.read_text(), re.MULTILINE))


def read_run_history(data_dir: str | Path, limit: int = 25) -> RunHistory:
    """The latest `limit` runs of the data dir's Dagster instance, newest first."""
    home = instance_dir(data_dir)
    if not home.is_dir():
        return RunHistory(str(home), "missing")
    if not (home / RUN_STORAGE).exists() and not _configures_other_storage(home):
        return RunHistory(str(home), "empty")
    try:
        runs = _read_runs(home, limit)
    except Exception as error:  # any storage problem is shown on the page, not raised
        return RunHistory(str(home), "error", error=f"{type(error).__name__}: {error}")
    return RunHistory(str(home), "ok" if runs.height else "empty", runs)


def _read_runs(home: Path, limit: int) -> pl.DataFrame:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home))
    try:
        records = instance.get_run_records(limit=limit)
        published = {
            record.run_id
            for record in instance.fetch_materializations(
                dg.AssetKey(list(SNAPSHOT_ASSET)), limit=PUBLISHES_LOOKED_AT
            ).records
        }
        now = datetime.now(UTC)
        rows = []
        for record in records:
            run = record.dagster_run
            status = run.status.value.lower()
            started = _utc(record.start_time) or record.create_timestamp
            ended = _utc(record.end_time)
            rows.append(
                {
                    "run_id": run.run_id,
                    "job": run.job_name,
                    "status": status,
                    "trigger": _trigger(run.tags),
                    "started_at": started,
                    "ended_at": ended,
                    "duration_s": ((ended or now) - started).total_seconds() if started else None,
                    "published": run.run_id in published,
                    "landing_fingerprint": run.tags.get(LANDING_FINGERPRINT_TAG),
                    "landing_files": run.tags.get(LANDING_FILES_TAG),
                    "failure": _failure(instance, run.run_id)
                    if status in FAILED_STATUSES
                    else None,
                }
            )
        return pl.DataFrame(rows, schema=RUN_SCHEMA)
    finally:
        instance.dispose()


def _utc(timestamp: float | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(timestamp, UTC)


def _trigger(tags: dict[str, str]) -> str:
    if "dagster/schedule_name" in tags:
        return f"schedule {tags['dagster/schedule_name']}"
    if "dagster/sensor_name" in tags:
        return f"sensor {tags['dagster/sensor_name']}"
    if "dagster/backfill" in tags:
        return "backfill"
    return "manual (CLI or UI)"


def _failure(instance, run_id: str) -> str:
    """Each failed step with the root cause of its error; else the run's own failure message."""
    import dagster as dg

    events = instance.get_records_for_run(
        run_id, of_type={dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE}
    ).records
    steps = []
    run_message = None
    for record in events:
        event = record.event_log_entry.dagster_event
        if event.is_step_failure:
            steps.append(f"{event.step_key}: {_root_cause(event.step_failure_data.error)}")
        else:
            run_message = record.event_log_entry.message
    if steps:
        return "; ".join(steps)
    return run_message or "the run failed (no failure event recorded)"


def _root_cause(error) -> str:
    if error is None:
        return "unknown error"
    while error.cause is not None:
        error = error.cause
    message = " ".join(error.message.strip().split())
    # The message starts with the (module-qualified) class name: keep it once, unqualified.
    message = re.sub(rf"^[\w.]*{re.escape(error.cls_name or '')}: ", "", message)
    return f"{error.cls_name}: {message}"
