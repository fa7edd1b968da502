"""Run the refresh job in-process (the same assets the Dagster UI materializes) and summarise it."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import duckdb

from pipelines.definitions import build_definitions
from pipelines.lib.key_policy import landing_run_key
from pipelines.lib.landing import LANDING_FINGERPRINT_TAG, landing_fingerprint
from pipelines.lib.layout import DataDir, private_dir
from pipelines.lib.pseudonym import pseudonymize_mentions
from pipelines.lib.rules import AppliedRules, load_program_rules

SNAPSHOT_ASSET = dg.AssetKey(["published", "current_snapshot"])
INSTANCE_YAML = """\
# Written by steadyback: runs that write the warehouse queue behind each other.
concurrency:
  runs:
    max_concurrent_runs: 4
    tag_concurrency_limits:
      - key: "steadyback/warehouse"
        limit: 1
telemetry:
  enabled: false
"""


def dagster_home(data_dir: DataDir) -> Path:
    """The Dagster instance that keeps run history for this data dir (UI and CLI share it)."""
    home = private_dir(data_dir.root / ".dagster")
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(INSTANCE_YAML)
    return home


@dataclass
class RunReport:
    run_id: str
    success: bool
    published: bool
    failure: str | None = None
    # (entity, file as shown: per-person folders by pid, rows_read, quarantined, status)
    files: list[tuple] = field(default_factory=list)
    table_rows: dict[str, int] = field(default_factory=dict)
    issues: list[tuple] = field(default_factory=list)  # (severity, action, count)
    checks: list[tuple] = field(default_factory=list)  # (asset, check, passed, blocking, failing)
    as_of: str | None = None
    step_seconds: dict[str, float] = field(default_factory=dict)
    rules: AppliedRules = field(default_factory=AppliedRules)  # what program.toml made of them

    def render(self) -> str:
        lines = [f"steadyback run {self.run_id[:8]} — as of {self.as_of or 'n/a'}", ""]
        lines.append(f"Files read: {len(self.files)}")
        for _entity, file, rows, quarantined, status in self.files:
            note = "" if status == "loaded" else "  FILE QUARANTINED"
            lines.append(f"  {file:<58} {rows:>8} rows  {quarantined:>4} quarantined{note}")
        lines.append("")
        lines.append("Rows per table:")
        for table, rows in self.table_rows.items():
            lines.append(f"  {table:<40} {rows:>10}")
        lines.append("")
        quarantined_rows = sum(n for sev, action, n in self.issues if action == "row quarantined")
        quarantined_files = sum(n for sev, action, n in self.issues if action == "file quarantined")
        unlinked = sum(n for sev, action, n in self.issues if action == "row not linked")
        lines.append(
            f"Quarantined: {quarantined_rows} rows, {quarantined_files} files; "
            f"{unlinked} rows not linked to the roster (see marts.ingest_issues)"
        )
        failed = [c for c in self.checks if not c[2]]
        lines.append(
            f"Checks: {len(self.checks) - len(failed)} of {len(self.checks)} passed"
            + "".join(
                f"\n  {'BLOCKING' if c[3] else 'warning '} {c[0]}: {c[1]} ({c[4]} rows)"
                for c in failed
            )
        )
        changed = self.rules.changed_text()
        lines.append(
            "Program rules: "
            + ("all at their defaults" if not changed else "not at their defaults (program.toml)")
            + "".join(f"\n  {line}" for line in changed)
        )
        lines.append("")
        if self.step_seconds:
            raw = {k: v for k, v in self.step_seconds.items() if k.startswith("raw__")}
            rest = ", ".join(f"{k} {v:.1f} s" for k, v in self.step_seconds.items() if k not in raw)
            lines.append(f"Steps: parse {sum(raw.values()):.1f} s ({len(raw)} sources), {rest}")
        if self.published:
            lines.append("Published: published/current.duckdb")
        else:
            lines.append("NOT PUBLISHED — the previous snapshot (if any) is unchanged.")
            if self.failure:
                lines.append(f"  {self.failure}")
        return "\n".join(lines)


def run_pipeline(
    data_dir: str | os.PathLike,
    as_of: str | None = None,
    instance: dg.DagsterInstance | None = None,
    log_level: str = "INFO",
    rotate_key: bool = False,
    landing: str | None = None,
    raw: str | None = None,
) -> RunReport:
    """Run the refresh job; KeyRefused (nothing run, nothing published) when the key may not,
    ProgramRulesError (likewise) when `<data dir>/program.toml` is invalid.

    `rotate_key`: publish even though the key differs from the published snapshot's
    (every pid changes; docs/operations.md, "Rotating the key").
    `landing`, `raw`: a folder or s3://bucket/prefix (default: STEADYBACK_LANDING /
    STEADYBACK_RAW, else in the data dir).
    """
    layout = DataDir.configured(data_dir, landing, raw)
    if not layout.landing_store.exists():
        raise FileNotFoundError(
            f"{layout.landing_store.url} does not exist: put exports there (see README) "
            "or create a demo cohort with `steadyback generate`"
        )
    layout.make_private()
    key = landing_run_key(layout, rotate_key)  # before anything is parsed
    rules = load_program_rules(layout)  # likewise; the steps read the same file
    definitions = build_definitions(
        layout.root,
        as_of=as_of,
        rotate_key=rotate_key,
        landing=layout.landing_location,
        raw=layout.raw_location,
    )
    job = definitions.resolve_job_def("refresh")
    fingerprint, _ = landing_fingerprint(layout.landing_store)
    with contextlib.ExitStack() as stack:
        if instance is None:
            instance = stack.enter_context(dg.DagsterInstance.ephemeral())
        result = job.execute_in_process(
            instance=instance,
            tags={LANDING_FINGERPRINT_TAG: fingerprint},
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": log_level}}}},
        )
    published = any(
        event.asset_key == SNAPSHOT_ASSET for event in result.get_asset_materialization_events()
    )
    failure = None
    if not result.success:
        failures = [e for e in result.all_events if e.is_step_failure]
        failure = "; ".join(
            f"{e.step_key}: {_root_cause(e.step_failure_data.error)}" for e in failures
        )
        failure = failure or "the run failed"
    report = RunReport(
        run_id=result.run_id,
        success=result.success,
        published=published,
        failure=failure,
        rules=rules,
        step_seconds={
            e.step_key: e.event_specific_data.duration_ms / 1000
            for e in result.all_events
            if e.is_step_success
        },
    )
    _fill_from_warehouse(report, layout, key)
    layout.make_private()  # also what Dagster wrote after the publish step
    return report


def _root_cause(error) -> str:
    while error.cause is not None:
        error = error.cause
    message = error.message.strip()
    if error.cls_name and ": " in message:
        message = message.split(": ", 1)[1]  # drop the module-qualified class name
    return f"{error.cls_name}: " + " ".join(message.split())


def _fill_from_warehouse(report: RunReport, layout: DataDir, key: bytes) -> None:
    if not layout.warehouse.exists():
        return
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:

        def table_exists(schema: str, name: str) -> bool:
            return bool(
                con.execute(
                    "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                    [schema, name],
                ).fetchone()[0]
            )

        if table_exists("raw", "files"):
            report.files = [
                (entity, pseudonymize_mentions(file, person, key), *counts)
                for entity, file, person, *counts in con.execute(
                    "select entity, file, participant_id, rows_read, rows_quarantined, status "
                    "from raw.files order by entity, file"
                ).fetchall()
            ]
        report.table_rows = {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_schema in ('staging', 'marts', 'models') order by 1, 2"
            ).fetchall()
        }
        if table_exists("marts", "ingest_issues"):
            report.issues = con.execute(
                "select severity, action, count(*) from marts.ingest_issues group by all order by all"
            ).fetchall()
        if table_exists("meta", "check_results"):
            report.checks = con.execute(
                "select asset, check_name, passed, blocking, failing_rows from meta.check_results"
            ).fetchall()
        if table_exists("staging", "data_horizon"):
            row = con.execute("select as_of::varchar from staging.data_horizon").fetchone()
            report.as_of = row[0] if row else None
