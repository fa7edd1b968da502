"""Data health for analysts: runs, freshness, quarantine, checks, coverage, the early warning's
decision (model or baseline, and why) and the coach digest's deliveries."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from dashboards import chart_style as style
from dashboards import charts, disclosure, icons, row_counts, session
from dashboards.figures import figure_row
from dashboards.queries import data_health as queries
from dashboards.queries.program_rules import program_rules
from dashboards.snapshot import snapshot_path
from pipelines.lib.digest.compose import DigestError
from pipelines.lib.digest.ledger import FAILED, SENT
from pipelines.lib.rules import RULES, describe, percent_text
from pipelines.lib.statistics.early_warning import MODEL
from pipelines.lib.users import User

FEW_PEOPLE = f"fewer than {disclosure.MIN_CELL_SIZE} people"


def people_text(frame: pl.DataFrame) -> pl.Expr:
    """The `people` column as the page shows it: a count, or FEW_PEOPLE where suppressed."""
    return (
        pl.when(pl.col("suppressed"))
        .then(pl.lit(FEW_PEOPLE))
        .otherwise(pl.col("people").cast(pl.String))
        .alias("people")
    )


def duration_text(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def when_text(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


def status_text(status: str) -> str:
    return status.replace("_", " ")


def status_icon(status: str) -> str:
    return icons.RUN_STATUS.get(status, icons.RUN_STATUS_OTHER)


def runs_table(runs: pl.DataFrame, snapshot_run_id: str | None) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "Run": [run_id[:8] for run_id in runs["run_id"]],
            "Job": runs["job"],
            "Status": [status_text(s) for s in runs["status"]],
            "Trigger": runs["trigger"],
            "Started (UTC)": runs["started_at"].dt.replace_time_zone(None),
            "Duration": [duration_text(s) for s in runs["duration_s"]],
            "Published": [
                "current snapshot" if run_id == snapshot_run_id else ("yes" if published else "no")
                for run_id, published in zip(runs["run_id"], runs["published"], strict=True)
            ],
            "Landing fingerprint": [(f or "")[:12] or None for f in runs["landing_fingerprint"]],
            "Failure": runs["failure"].fill_null(""),
        }
    )


def highlight_failed(row) -> list[str]:
    failed = row["Status"] in ("failure", "canceled")
    return [style.FAILED_ROW_STYLE if failed else ""] * len(row)


def show_runs(viewer: User, snapshot: dict | None) -> None:
    st.subheader("Runs")
    if st.button(
        "Refresh runs",
        help="Re-read the run history now (it is otherwise re-read "
        f"every {queries.RUN_HISTORY_TTL_S} s).",
    ):
        queries.forget_run_history(viewer)
    history = queries.run_history(viewer)
    if history.state == "missing":
        st.info(
            f"No Dagster run history for this data dir: `{history.instance_dir}` does not exist. "
            "`steadyback run`, `steadyback demo` and the Dagster UI record their runs there; "
            "runs made another way (e.g. with a temporary instance) leave no history.",
            icon=icons.RUN_HISTORY,
        )
        return
    if history.state == "empty":
        st.info(f"No runs recorded yet in `{history.instance_dir}`.", icon=icons.RUN_HISTORY)
        return
    if history.state == "error":
        st.error(
            f"The run history in `{history.instance_dir}` could not be read: {history.error}",
            icon=icons.WARNING,
        )
        return

    runs = history.runs
    latest = runs.row(0, named=True)
    snapshot_run_id = snapshot["run_id"] if snapshot else None
    if latest["status"] in ("failure", "canceled"):
        consequence = (
            "The data below is still from the last published snapshot."
            if snapshot
            else "Nothing has been published yet."
        )
        st.error(
            f"The latest run `{latest['run_id'][:8]}` (started {when_text(latest['started_at'])}) "
            f"ended in **{latest['status']}**: {latest['failure']}. {consequence}",
            icon=icons.FAILED,
        )
    elif latest["status"] in ("started", "starting", "queued", "not_started"):
        st.info(
            f"Run `{latest['run_id'][:8]}` is {latest['status'].replace('_', ' ')}.",
            icon=status_icon(latest["status"]),
        )

    successes = runs.filter(pl.col("status") == "success")
    failed = runs.filter(pl.col("status").is_in(["failure", "canceled"]))
    figures = figure_row()
    figures.metric(
        "Latest run",
        status_text(latest["status"]),
        icon=status_icon(latest["status"]),
        help=f"Run {latest['run_id']}, started {when_text(latest['started_at'])}.",
    )
    figures.metric(
        "Last successful run",
        when_text(successes["started_at"][0]) if successes.height else "none listed",
        help="Start time of the newest run that ended in success.",
    )
    figures.metric(
        "Failed runs",
        f"{failed.height} of {runs.height}",
        help=f"Failed or cancelled runs among the latest {runs.height} listed below.",
    )
    table = runs_table(runs, snapshot_run_id)
    st.dataframe(
        table.to_pandas().style.apply(highlight_failed, axis=1),
        hide_index=True,
        column_config={
            "Run": st.column_config.TextColumn("Run", help="First 8 characters of the run id."),
            "Started (UTC)": st.column_config.DatetimeColumn(
                "Started (UTC)", format="YYYY-MM-DD HH:mm:ss"
            ),
            "Trigger": st.column_config.TextColumn(
                "Trigger", help="The sensor or schedule that started the run, else by hand."
            ),
            "Published": st.column_config.TextColumn(
                "Published",
                help="Whether the run swapped in a new snapshot; 'current snapshot' is the one "
                "the dashboards show now.",
            ),
            "Landing fingerprint": st.column_config.TextColumn(
                "Landing fingerprint",
                help="Tag steadyback/landing_fingerprint (first 12 characters): the state of "
                "landing/ the run read. Runs on the same exports share it.",
            ),
            "Failure": st.column_config.TextColumn(
                "Failure", help="Each failed step with the root cause of its error.", width="large"
            ),
        },
    )
    listed = "The latest run" if runs.height == 1 else f"The latest {runs.height} runs"
    st.caption(
        f"{listed} of `{history.instance_dir}`, newest first; failed runs are highlighted. "
        f"Re-read at most every {queries.RUN_HISTORY_TTL_S} s."
    )


def show_program_rules(viewer: User) -> None:
    st.subheader("Program rules")
    applied = program_rules(viewer)
    if not applied.recorded:
        st.warning(
            "This snapshot does not record the program rules it was built with: it was "
            "published by an older steadyback. The pages explain its numbers with the default "
            "rules; the next run records the rules it applies.",
            icon=icons.RULES,
        )
    elif changed := applied.rules.changed():
        st.info(
            f"{len(changed)} program rule{'s differ' if len(changed) > 1 else ' differs'} from "
            "the defaults (set in the data dir's program.toml):\n\n"
            + "\n".join(
                f"- **{key}**: {value:g} (default {default:g}) — {RULES[key].description}"
                for key, value, default in changed
            ),
            icon=icons.RULES,
        )
    else:
        st.success("Every program rule is at its default.", icon=icons.RULES)
    with st.expander("All program rules of this snapshot"):
        st.dataframe(
            pl.DataFrame(
                [
                    {**rule, "value": f"{rule['value']:g}", "default": f"{rule['default']:g}"}
                    for rule in describe(applied)
                ]
            ),
            hide_index=True,
            column_config={
                "key": "Rule",
                "value": "Value",
                "default": "Default",
                "unit": "Unit",
                "allowed": "Allowed",
                "reference": st.column_config.TextColumn("Reference", width="large"),
                "description": st.column_config.TextColumn("Meaning", width="large"),
                "source": st.column_config.TextColumn(
                    "Set by", help="default, or the data dir's program.toml"
                ),
            },
        )
    st.caption(
        "Thresholds the marts, statistics and every page apply (`meta.rules`); a program sets "
        "its own in `<data dir>/program.toml`. Definitions: docs/metrics.md, “Program rules”."
    )


def show_freshness(viewer: User, as_of) -> None:
    st.subheader("Freshness per source")
    files = queries.source_files_by_source(viewer)
    if files.height:
        st.dataframe(
            files.with_columns(people_text(files)).drop("suppressed"),
            hide_index=True,
            column_config={
                "source": "Source",
                "people": st.column_config.TextColumn(
                    "People",
                    help="People the source holds anything of (a per-person folder, a linked "
                    "Fitabase Id, sessions, steps, sleep, check-ins or answers). A source of "
                    f"{FEW_PEOPLE} shows no figures: they would describe those few people.",
                ),
                "files": st.column_config.NumberColumn("Files", help="Landing files read."),
                "files_quarantined": st.column_config.NumberColumn(
                    "Unreadable files", help="Files quarantined whole (see below)."
                ),
                "newest_file_at": st.column_config.DatetimeColumn(
                    "Newest file",
                    help="Latest modification time among the source's landing files: when its "
                    "newest export was written.",
                    format="YYYY-MM-DD HH:mm",
                ),
                "rows_read": st.column_config.NumberColumn("Rows read", help=row_counts.READ),
                "rows_landed": st.column_config.NumberColumn("Rows landed", help=row_counts.LANDED),
                "rows_quarantined": st.column_config.NumberColumn(
                    "Rows quarantined", help=row_counts.QUARANTINED_LINES
                ),
            },
        )
        if note := row_counts.landed_vs_read_note(files):
            st.caption(note)
    else:
        st.info("The snapshot lists no landing files.")

    streams = queries.latest_data_days(viewer)
    st.dataframe(
        streams.with_columns(
            people_text(streams),
            pl.when(pl.col("suppressed"))
            .then(pl.lit(FEW_PEOPLE))
            .when(pl.col("latest_day").is_null())
            .then(pl.lit("no data"))
            .when(pl.col("stale"))
            .then(pl.lit("stale"))
            .when(~pl.col("daily"))
            .then(pl.lit("occasional"))
            .otherwise(pl.lit("ok"))
            .alias("stale"),
        ).drop("daily", "suppressed"),
        hide_index=True,
        column_config={
            "source": "Source",
            "data": "Data",
            "people": st.column_config.TextColumn("People", help="People with data in the stream."),
            "latest_day": st.column_config.DateColumn(
                "Latest day with data", help="Participants' local day.", format="YYYY-MM-DD"
            ),
            "days_behind": st.column_config.NumberColumn(
                "Days before as of", help=f"As of {as_of} minus the latest day with data."
            ),
            "stale": st.column_config.TextColumn(
                "Status",
                help=f"Stale: {queries.STALE_AFTER_DAYS} or more days before as of.",
            ),
        },
    )
    st.caption(
        f"As of **{as_of}** is the latest day with any program or linked wearable data. Check-ins, "
        "steps (valid wear days only) and sleep are read from each person's program days; "
        f"a daily stream whose latest day lies {queries.STALE_AFTER_DAYS} or more days before as "
        "of is marked stale. Workouts and questionnaires (weeks 0, 4, 8, 12) are occasional, "
        "never stale."
    )


def show_quarantine(viewer: User) -> None:
    st.subheader("Quarantined files and rows")
    files = queries.quarantined_files(viewer)
    if files.height:
        st.error(
            f"{files.height} landing file{'s' if files.height != 1 else ''} could not be read "
            "at all; fix the export and drop the corrected file.",
            icon=icons.UNREADABLE_FILES,
        )
        st.dataframe(files, hide_index=True)
    else:
        st.success("Every landing file could be read.", icon=icons.ALL_CLEAR)

    summary = queries.ingest_issue_summary(viewer)
    if summary.height == 0:
        st.success("No row broke the spec: nothing quarantined, dropped or left unlinked.")
        return
    counts = dict(summary.group_by("action").agg(pl.col("rows").sum()).iter_rows())
    figures = figure_row()
    figures.metric(
        "Rows quarantined",
        f"{counts.get('row quarantined', 0):,}",
        help=row_counts.QUARANTINED_ISSUES,
    )
    figures.metric(
        "Rows not linked",
        f"{counts.get('row not linked', 0):,}",
        help=row_counts.NOT_LINKED_ISSUES,
    )
    other = sum(
        n for action, n in counts.items() if action not in ("row quarantined", "row not linked")
    )
    figures.metric(
        "Other issues",
        f"{other:,}",
        help=row_counts.OTHER_ISSUES,
    )
    st.dataframe(
        summary,
        hide_index=True,
        column_config={
            "source": "Source",
            "action": "Action",
            "severity": "Severity",
            "rows": st.column_config.NumberColumn("Issues", help=row_counts.ISSUES),
            "files": st.column_config.NumberColumn("Files"),
        },
    )
    issues = queries.ingest_issues(viewer)
    total = int(summary["rows"].sum())
    st.dataframe(
        issues,
        hide_index=True,
        column_config={
            "source": "Source",
            "entity": "Entity",
            "file": st.column_config.TextColumn("File", help="Relative to landing/."),
            "line": st.column_config.NumberColumn("Line", format="%d"),
            "field": "Field",
            "value": st.column_config.TextColumn(
                "Value", help="As exported; identifier values are shown as their pseudonym."
            ),
            "reason": st.column_config.TextColumn("Reason", width="large"),
            "severity": "Severity",
            "action": "Action",
        },
    )
    st.caption(
        f"{issues.height:,} of {total:,} issues shown (marts.ingest_issues): quarantined files "
        "and rows first, then errors before warnings."
    )


def show_checks(viewer: User) -> None:
    st.subheader("Asset checks")
    checks = queries.check_results(viewer)
    if checks.height == 0:
        st.info("The snapshot holds no check results.")
        return
    failed = checks.filter(~pl.col("passed"))
    figures = figure_row()
    figures.metric(
        "Checks passed",
        f"{checks.height - failed.height} of {checks.height}",
        help="Checks of the run that built this snapshot (meta.check_results).",
    )
    figures.metric(
        "Blocking failures",
        failed.filter(pl.col("blocking")).height,
        help="A failed blocking check stops publication, so a published snapshot has none.",
    )
    figures.metric(
        "Warnings",
        failed.filter(~pl.col("blocking")).height,
        help="Failed checks marked `-- @severity: warn`: published anyway.",
    )
    if failed.height == 0:
        st.success(f"All {checks.height} checks passed.", icon=icons.ALL_CLEAR)
    st.dataframe(
        checks.with_columns(
            pl.when(pl.col("passed"))
            .then(pl.lit("passed"))
            .otherwise(pl.lit("failed"))
            .alias("passed"),
            pl.when(pl.col("blocking"))
            .then(pl.lit("blocking"))
            .otherwise(pl.lit("warning"))
            .alias("blocking"),
        ),
        hide_index=True,
        column_config={
            "asset": "Asset",
            "check_name": "Check",
            "passed": "Result",
            "blocking": "Kind",
            "failing_rows": st.column_config.NumberColumn("Failing rows", format="%d"),
            "description": st.column_config.TextColumn("Description", width="large"),
        },
    )
    st.caption("Failures first (blocking before warnings), then by asset and check.")


def show_coverage(viewer: User) -> None:
    st.subheader("Coverage by source and week")
    coverage = queries.coverage_by_week(viewer)
    shown = coverage.filter(~pl.col("suppressed"))
    hidden_weeks = sorted(set(coverage.filter(pl.col("suppressed"))["week"].to_list()))
    if coverage.height == 0:
        st.info("No program day has happened yet, so there is no coverage to show.")
        return
    st.caption(
        "For each program week, the share of elapsed person-days (up to as of, and up to a "
        "withdrawal) that have: an app **check-in** (any daily answer), wearable **steps** "
        "(a valid wear day) and **sleep** — per source that supplied them. Hover a point for "
        "the counts."
    )
    if shown.height:
        st.plotly_chart(charts.coverage_by_week_figure(coverage), width="stretch")
        pivot = (
            shown.filter(~pl.col("source_suppressed"))
            .with_columns(
                pl.struct("measure", "source")
                .map_elements(
                    lambda key: charts.coverage_series_name(key["measure"], key["source"]),
                    return_dtype=pl.String,
                )
                .alias("series")
            )
            .pivot(on="series", index=["week", "people", "person_days"], values="share")
            .sort("week")
        )
        st.dataframe(
            pivot,
            hide_index=True,
            column_config={
                "week": st.column_config.NumberColumn("Week", format="%d"),
                "people": st.column_config.NumberColumn("People"),
                "person_days": st.column_config.NumberColumn(
                    "Person-days", help="Elapsed person-days of the week."
                ),
                **{
                    name: st.column_config.NumberColumn(name, format="percent")
                    for name in pivot.columns
                    if name not in ("week", "people", "person_days")
                },
            },
        )
    else:
        st.info(
            f"Every program week so far describes {FEW_PEOPLE}: coverage is suppressed.",
            icon=icons.SUPPRESSED,
        )
    if hidden_weeks:
        st.caption(
            f"{icons.SUPPRESSED} Suppressed: week{'s' if len(hidden_weeks) > 1 else ''} "
            f"{', '.join(str(week) for week in hidden_weeks)} — {FEW_PEOPLE}, so not shown."
        )
    hidden_series = (
        shown.filter(pl.col("source_suppressed"))
        .group_by("measure", "source", maintain_order=True)
        .agg(pl.col("week").sort())
    )
    for measure, source, weeks in hidden_series.iter_rows():
        which = (
            "every week"
            if len(weeks) == shown["week"].n_unique()
            else f"week{'s' if len(weeks) > 1 else ''} {', '.join(map(str, weeks))}"
        )
        st.caption(
            f"{icons.SUPPRESSED} {charts.coverage_series_name(measure, source)}: {which} not shown — its data "
            f"comes from {FEW_PEOPLE}."
        )


def scorer_metrics_table(decision: dict) -> pl.DataFrame:
    """ROC AUC, precision at the top share and Brier score on the held-out cohorts: the model's
    beside the baseline rule's, as `models.disengagement_model` has them."""
    measures = {
        "roc_auc": "ROC AUC (higher is better)",
        "precision_top": f"Precision at the top {percent_text(decision['top_share'])} of risk "
        "(higher is better)",
        "brier": "Brier score (lower is better)",
    }
    return pl.DataFrame(
        {
            "measure": list(measures.values()),
            "model": [decision[f"{column}_model"] for column in measures],
            "baseline": [decision[f"{column}_baseline"] for column in measures],
        },
        schema={"measure": pl.String, "model": pl.Float64, "baseline": pl.Float64},
    )


def show_early_warning(viewer: User) -> None:
    st.subheader("Early warning of disengagement")
    decision = queries.early_warning_decision(viewer)
    if decision is None:
        st.info(
            "This snapshot has no early warning (`models.disengagement_model`): it was "
            "published by an older steadyback. The next run adds it.",
            icon=icons.NOTHING_YET,
        )
        return
    if decision["published"] == MODEL:
        st.success(
            f"**Model published** (logistic regression): {decision['reason']}.", icon=icons.RISK
        )
    else:
        below = percent_text(program_rules(viewer).rules.risk_baseline_adherence)
        st.warning(
            f"**Baseline kept** — the model is not published, and coaches' bands come from the "
            f"baseline rule (raised when a week's adherence was below {below}): "
            f"{decision['reason']}.",
            icon=icons.RISK,
        )
    figures = figure_row()
    figures.metric(
        "Published scorer",
        "model" if decision["published"] == MODEL else "baseline rule",
        help=f"`{decision['published']}` made every row of models.disengagement_risk.",
    )
    figures.metric(
        "Weeks scored",
        f"{decision['published_weeks']:,}",
        help="Rows of models.disengagement_risk: completed program weeks of people not yet "
        "disengaged.",
    )
    figures.metric(
        "People scored",
        FEW_PEOPLE if decision["people_suppressed"] else f"{decision['published_people']:,}",
        help="People with at least one scored week.",
    )
    if decision["roc_auc_model"] is not None:
        st.dataframe(
            scorer_metrics_table(decision),
            hide_index=True,
            column_config={
                "measure": st.column_config.TextColumn("On the held-out cohorts", width="medium"),
                "model": st.column_config.NumberColumn("Model", format="%.4f"),
                "baseline": st.column_config.NumberColumn("Baseline rule", format="%.4f"),
            },
        )
    st.caption(
        f"Trained on **{decision['train_cohorts'] or 'none'}** ({decision['train_weeks']:,} "
        f"labelled weeks, {decision['train_events']:,} followed by a disengagement spell); "
        f"measured on **{decision['test_cohorts'] or 'none'}** ({decision['test_weeks']:,} "
        f"weeks, {decision['test_events']:,} events) — cohorts the model was not trained on. "
        f"An event: a {decision['gap_days']}-day gap without a completed session under way "
        f"within {decision['horizon_days']} days of the week's end. The model is published only "
        "when it beats the baseline on both ROC AUC and Brier score (docs/models.md, “Early "
        "warning of disengagement”)."
    )
    calibration = queries.early_warning_calibration(viewer)
    if calibration.height:
        with st.expander("Calibration on the held-out weeks"):
            st.dataframe(
                calibration,
                hide_index=True,
                column_config={
                    "scorer": "Scorer",
                    "bin": st.column_config.NumberColumn("Bin", format="%d"),
                    "weeks": st.column_config.NumberColumn("Weeks"),
                    "events": st.column_config.NumberColumn("Events"),
                    "mean_predicted": st.column_config.NumberColumn(
                        "Mean predicted", format="%.3f"
                    ),
                    "observed_rate": st.column_config.NumberColumn("Observed", format="%.3f"),
                },
            )


def show_digest_deliveries(viewer: User) -> None:
    st.subheader("Coach digest deliveries")
    try:
        deliveries = queries.digest_deliveries(viewer)
    except DigestError as damaged:
        st.error(str(damaged), icon=icons.FAILED)
        return
    if deliveries.height == 0:
        st.info(
            "No weekly coach digest has been sent or tried yet (`steadyback digest`, or the "
            "coach_digest_schedule; docs/operations.md, “The weekly coach digest”).",
            icon=icons.DIGEST,
        )
        return
    failed = deliveries.filter(pl.col("status") == FAILED)
    sent = deliveries.filter(pl.col("status") == SENT)
    if failed.height:
        st.error(
            f"**{failed.height} digest{'s' if failed.height != 1 else ''} could not be sent.** "
            "The next tick of the schedule in that hour, or `steadyback digest`, tries again "
            "(attempts add up).",
            icon=icons.FAILED,
        )
        st.dataframe(
            failed.select("username", "coach_id", "week", "attempts", "last_attempt_at", "error"),
            key="failed_digests",
            hide_index=True,
            column_config={
                "username": "Coach",
                "coach_id": "Coach id",
                "week": "Week",
                "attempts": st.column_config.NumberColumn("Attempts", format="%d"),
                "last_attempt_at": "Last attempt (UTC)",
                "error": st.column_config.TextColumn("Error", width="large"),
            },
        )
    else:
        st.success("Every digest tried was sent.", icon=icons.ALL_CLEAR)
    figures = figure_row()
    figures.metric("Digests sent", sent.height, help="Coach-weeks recorded as sent.")
    figures.metric("Failed sends", failed.height, help="Coach-weeks whose last try failed.")
    figures.metric(
        "Latest week sent",
        sent["week"].max() if sent.height else "none",
        help="ISO week, in each coach's time zone.",
    )
    st.dataframe(
        deliveries.group_by("username", "coach_id")
        .agg(
            pl.col("week")
            .filter(pl.col("status") == SENT)
            .max()
            .fill_null("none yet")
            .alias("last_sent_week"),
            (pl.col("status") == SENT).sum().alias("weeks_sent"),
            pl.col("last_attempt_at").max(),
        )
        .sort("username"),
        hide_index=True,
        column_config={
            "username": "Coach",
            "coach_id": "Coach id",
            "last_sent_week": "Last week sent",
            "weeks_sent": st.column_config.NumberColumn("Weeks sent", format="%d"),
            "last_attempt_at": "Last attempt (UTC)",
        },
    )
    st.caption(
        "From the digest's ledger, `<data dir>/digest/deliveries.json` (one entry per coach and "
        "ISO week; no e-mail address, name or health value)."
    )


viewer, snapshot = session.open_page("data-health", "Data health", needs_snapshot=False)

show_runs(viewer, snapshot)
show_digest_deliveries(viewer)
if snapshot is None:
    st.info(
        "Freshness, quarantine, checks and coverage come from the published snapshot, and none "
        f"exists yet (`{snapshot_path()}`). A failed run above says why.",
        icon=icons.NOTHING_YET,
    )
    st.stop()
show_program_rules(viewer)
show_freshness(viewer, snapshot["as_of"])
show_quarantine(viewer)
show_checks(viewer)
show_early_warning(viewer)
show_coverage(viewer)
