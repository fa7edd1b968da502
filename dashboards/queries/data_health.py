"""The Data health page's reads (analysts): runs, freshness, quarantine, checks, coverage, the
early warning's published decision and the coach digest's deliveries.

A landing source's figures are shown only when it describes at least `MIN_CELL_SIZE` people.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboards import disclosure
from dashboards.access import authorise
from dashboards.disclosure import MIN_CELL_SIZE
from dashboards.queries.early_warning import _calibration, _decision
from dashboards.snapshot import Reader, SnapshotIdentity, data_dir, read_sql, snapshot_identity
from pipelines.lib.digest.ledger import FAILED, read_deliveries
from pipelines.lib.layout import DataDir
from pipelines.lib.users import User

PAGE = "data-health"

RUN_HISTORY_TTL_S = 30
"""Runs change without the snapshot changing: the run list is re-read at most this often."""

RUN_HISTORY_LIMIT = 25
ISSUE_ROWS_SHOWN = 2000
STALE_AFTER_DAYS = 3
"""A daily data stream whose latest day lies this many days or more before as of is stale."""

# Who each landing source describes, counted before any of its figures is shown: a source of
# 1 to MIN_CELL_SIZE − 1 people shows "fewer than 5 people" instead of its rows, latest day or
# coverage. A person counts for a source when the snapshot holds anything of theirs from it:
# a per-person folder or file name (shown by the person's pseudonym), a linked Fitabase Id,
# sessions, steps or sleep attributed to it, app check-ins, questionnaire answers; the roster
# describes everyone on it.
_SOURCE_PEOPLE = """
with source_person as (
    select distinct source, pid from (
        select source, regexp_extract(file, $pseudonym_pattern) as pid from meta.source_files
        union all
        select 'roster', pid from marts.participants
        union all
        select 'fitabase', pid from marts.participants where has_wearable
        union all
        select source, pid from marts.sessions
        union all
        select 'app', pid from marts.participant_day
        where pain is not null or sleep_quality is not null or stress is not null
           or movement_confidence is not null
        union all
        select steps_source, pid from marts.participant_day where steps_source is not null
        union all
        select sleep_source, pid from marts.participant_day where sleep_source is not null
        union all
        select 'prom', pid from marts.outcomes
        where coalesce(odi_baseline_on, odi_latest_on, tsk_baseline_on, tsk_latest_on) is not null
    )
    where source is not null and pid is not null and pid <> ''
),
source_people as (
    select source, count(*) as people from source_person group by source
)
"""


def _source_people_params(**params: Any) -> dict[str, Any]:
    from pipelines.lib.pseudonym import PSEUDONYM_HEX_CHARS

    return {"pseudonym_pattern": f"p_[0-9a-f]{{{PSEUDONYM_HEX_CHARS}}}", **params}


def _hide_small_sources(
    frame: pl.DataFrame, figures: tuple[str, ...], also: pl.Expr | None = None
) -> pl.DataFrame:
    """`figures` and `people` null, `suppressed` true, where `people` or `source_people` (when
    the frame has it, then dropped) is 1 to MIN_CELL_SIZE − 1, or where `also` holds."""
    small = disclosure.too_few(pl.col("people"))
    if "source_people" in frame.columns:
        small = small | disclosure.too_few(pl.col("source_people"))
    if also is not None:
        small = small | also
    return frame.with_columns(
        *(pl.when(small).then(None).otherwise(pl.col(name)).alias(name) for name in figures),
        pl.when(small).then(None).otherwise(pl.col("people")).alias("people"),
        small.alias("suppressed"),
    ).drop("source_people", strict=False)


def run_history(viewer: User | None, limit: int = RUN_HISTORY_LIMIT):
    """The data dir's Dagster runs, newest first (`dashboards.run_history.RunHistory`).

    Not in the snapshot — read from `<data dir>/.dagster`, so it works before
    anything was published; cached for `RUN_HISTORY_TTL_S` seconds.
    """
    authorise(viewer, PAGE)
    return _run_history(str(DataDir.at(data_dir()).root), limit)


def forget_run_history(viewer: User | None) -> None:
    """Drop the cached run list so the next read sees runs that just finished."""
    authorise(viewer, PAGE)
    _run_history.clear()


@st.cache_data(show_spinner=False, ttl=RUN_HISTORY_TTL_S, max_entries=8)
def _run_history(root: str, limit: int):
    from dashboards.run_history import read_run_history

    return read_run_history(root, limit)


def _data_health_read(viewer: User | None, reader, *args) -> pl.DataFrame:
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()
    return reader(snapshot, *args)


def source_files_by_source(viewer: User | None) -> pl.DataFrame:
    """Per landing source (`meta.source_files`): people, files, quarantined files, newest file,
    rows.

    Columns: source, people, files, files_quarantined, newest_file_at, rows_read, rows_landed,
    rows_quarantined, suppressed — a source describing 1 to `MIN_CELL_SIZE` − 1 people keeps
    its name with every other column null.
    """
    return _data_health_read(viewer, _source_files_by_source)


_SOURCE_FILES_SQL = (
    _SOURCE_PEOPLE
    + """
select
    f.source,
    coalesce(any_value(p.people), 0) as people,
    count(*) as files,
    count(*) filter (where f.status <> 'loaded') as files_quarantined,
    max(f.modified_at) as newest_file_at,
    sum(f.rows_read)::bigint as rows_read,
    sum(f.rows_landed)::bigint as rows_landed,
    sum(f.rows_quarantined)::bigint as rows_quarantined
from meta.source_files as f
left join source_people as p using (source)
group by f.source
order by f.source
"""
)


@st.cache_data(show_spinner=False, max_entries=16)
def _source_files_by_source(snapshot: SnapshotIdentity) -> pl.DataFrame:
    files = read_sql(
        snapshot,
        _SOURCE_FILES_SQL,
        _source_people_params(),
    )
    return _hide_small_sources(
        files,
        (
            "files",
            "files_quarantined",
            "newest_file_at",
            "rows_read",
            "rows_landed",
            "rows_quarantined",
        ),
    )


def latest_data_days(viewer: User | None) -> pl.DataFrame:
    """The latest day with data of each stream, and how many days it lies before as of.

    Columns: source, data, people (with data in the stream), daily, latest_day, days_behind,
    stale, suppressed — only a daily stream (sessions, check-ins, steps, sleep) can be stale:
    `STALE_AFTER_DAYS` or more days behind, or no data at all; workouts and questionnaires
    are occasional. A stream, or a source, of 1 to `MIN_CELL_SIZE` − 1 people has its people,
    day, days behind and staleness null (suppressed). Streams: app sessions
    (`marts.sessions`, source app) and wearable workouts (other sources); app
    check-ins, steps of valid wear days (by `steps_source`) and sleep (by
    `sleep_source`) from `marts.participant_day`; questionnaires (answer dates in
    `marts.outcomes`).
    """
    return _data_health_read(viewer, _latest_data_days)


_LATEST_DATA_DAYS_SQL = (
    _SOURCE_PEOPLE
    + """,
streams as (
    select 'app' as source, 'sessions' as data, true as daily, max(day) as latest_day,
           count(distinct pid) as people
    from marts.sessions where source = 'app'
    union all
    select source, 'workouts', false, max(day), count(distinct pid)
    from marts.sessions where source <> 'app' group by source
    union all
    select 'app', 'daily check-ins', true, max(day), count(distinct pid)
    from marts.participant_day
    where pain is not null or sleep_quality is not null or stress is not null
       or movement_confidence is not null
    union all
    select steps_source, 'steps (valid wear days)', true, max(day), count(distinct pid)
    from marts.participant_day
    where steps is not null and steps_source is not null group by steps_source
    union all
    select sleep_source, 'sleep', true, max(day), count(distinct pid)
    from marts.participant_day
    where sleep_minutes is not null and sleep_source is not null group by sleep_source
    union all
    select 'prom', 'questionnaires', false,
           max(greatest(odi_baseline_on, odi_latest_on, tsk_baseline_on, tsk_latest_on)),
           count(distinct pid) filter (
               where coalesce(odi_baseline_on, odi_latest_on, tsk_baseline_on,
                              tsk_latest_on) is not null)
    from marts.outcomes
),
behind as (
    select source, data, daily, latest_day, streams.people,
           coalesce(p.people, 0) as source_people,
           (s.as_of - latest_day)::bigint as days_behind
    from streams
    left join source_people as p using (source)
    cross join meta.snapshot as s
)
select source, data, people, daily, latest_day, days_behind,
       daily and coalesce(days_behind >= $stale, true) as stale, source_people
from behind
order by source, data
"""
)


@st.cache_data(show_spinner=False, max_entries=16)
def _latest_data_days(snapshot: SnapshotIdentity) -> pl.DataFrame:
    streams = read_sql(
        snapshot,
        _LATEST_DATA_DAYS_SQL,
        _source_people_params(stale=STALE_AFTER_DAYS),
    )
    return _hide_small_sources(streams, ("latest_day", "days_behind", "stale"))


def quarantined_files(viewer: User | None) -> pl.DataFrame:
    """Landing files that could not be read at all (`meta.source_files` status ≠ loaded)."""
    return _data_health_read(viewer, _quarantined_files)


_QUARANTINED_FILES_SQL = """
select source, entity, file, status, error, rows_read, modified_at
from meta.source_files
where status <> 'loaded'
order by source, file
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _quarantined_files(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return read_sql(
        snapshot,
        _QUARANTINED_FILES_SQL,
    )


def ingest_issue_summary(viewer: User | None) -> pl.DataFrame:
    """`marts.ingest_issues` counted by source, action and severity (errors first)."""
    return _data_health_read(viewer, _ingest_issue_summary)


_INGEST_ISSUE_SUMMARY_SQL = """
select source, action, severity, count(*) as rows, count(distinct file) as files
from marts.ingest_issues
group by source, action, severity
order by severity = 'error' desc, action, source
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _ingest_issue_summary(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return read_sql(
        snapshot,
        _INGEST_ISSUE_SUMMARY_SQL,
    )


def ingest_issues(viewer: User | None, limit: int = ISSUE_ROWS_SHOWN) -> pl.DataFrame:
    """The first `limit` rows of `marts.ingest_issues`: quarantined files and rows first,
    errors before warnings, then by source, file and line. Identifier values are
    already pseudonyms (the pipeline replaced them)."""
    return _data_health_read(viewer, _ingest_issues, limit)


_INGEST_ISSUES_SQL = """
select source, entity, file, line, field, value, reason, severity, action
from marts.ingest_issues
order by action in ('file quarantined', 'row quarantined') desc,
         severity = 'error' desc, source, file, line, field
limit $limit
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _ingest_issues(snapshot: SnapshotIdentity, limit: int) -> pl.DataFrame:
    return read_sql(
        snapshot,
        _INGEST_ISSUES_SQL,
        {"limit": limit},
    )


def check_results(viewer: User | None) -> pl.DataFrame:
    """`meta.check_results`: failures first (blocking before warnings), then by asset."""
    return _data_health_read(viewer, _check_results)


_CHECK_RESULTS_SQL = """
select asset, check_name, passed, blocking, failing_rows, description
from meta.check_results
order by passed, blocking desc, asset, check_name
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _check_results(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return read_sql(
        snapshot,
        _CHECK_RESULTS_SQL,
    )


def coverage_by_week(viewer: User | None) -> pl.DataFrame:
    """Per program week and data stream, the share of elapsed person-days that have it.

    Elapsed person-days: `marts.participant_day` rows whose state is not unknown
    (up to as of and up to a withdrawal). Streams: `check-in` (app: any daily
    check-in answer), `steps` per `steps_source` (a valid wear day), `sleep` per
    `sleep_source`. Columns: week, measure, source, people, person_days,
    days_with, share, suppressed, source_suppressed — weeks describing fewer than
    `MIN_CELL_SIZE` people keep their rows with null numbers (suppressed); a stream whose
    source describes 1 to `MIN_CELL_SIZE` − 1 people, or whose data that week comes from
    1 to `MIN_CELL_SIZE` − 1 people, has days_with and share null (source_suppressed).
    """
    return _data_health_read(viewer, _coverage_by_week)


_COVERAGE_BY_WEEK_SQL = (
    _SOURCE_PEOPLE
    + """,
elapsed as (
    select
        pid, program_week as week, steps, steps_source, sleep_minutes, sleep_source,
        pain is not null or sleep_quality is not null or stress is not null
            or movement_confidence is not null as checked_in
    from marts.participant_day
    where day_state <> 'unknown'
),
weeks as (
    select week, count(distinct pid) as people, count(*) as person_days
    from elapsed group by week
),
hits as (
    select week, 'check-in' as measure, 'app' as source, count(*) as days_with,
           count(distinct pid) as stream_people
    from elapsed where checked_in group by week
    union all
    select week, 'steps', steps_source, count(*), count(distinct pid)
    from elapsed where steps is not null group by week, steps_source
    union all
    select week, 'sleep', sleep_source, count(*), count(distinct pid)
    from elapsed where sleep_minutes is not null group by week, sleep_source
),
streams as (
    select 'check-in' as measure, 'app' as source
    union
    select distinct measure, source from hits
),
grid as (
    select w.week, s.measure, coalesce(s.source, 'unknown') as source, w.people,
           w.person_days, coalesce(h.days_with, 0) as days_with,
           coalesce(h.stream_people, 0) as stream_people,
           coalesce(sp.people, 0) as source_people
    from weeks as w
    cross join streams as s
    left join hits as h
      on h.week = w.week and h.measure = s.measure
     and h.source is not distinct from s.source
    left join source_people as sp on sp.source = s.source
)
select week::bigint as week, measure, source, people, person_days, days_with,
       (days_with / person_days)::double as share, stream_people, source_people
from grid
order by week, list_position(['check-in', 'steps', 'sleep'], measure), source
"""
)


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_by_week(snapshot: SnapshotIdentity) -> pl.DataFrame:
    cells = read_sql(
        snapshot,
        _COVERAGE_BY_WEEK_SQL,
        _source_people_params(),
    )
    week_hidden = pl.col("people") < MIN_CELL_SIZE
    source_hidden = (
        week_hidden
        | disclosure.too_few(pl.col("stream_people"))
        | disclosure.too_few(pl.col("source_people"))
    )
    return cells.select(
        "week",
        "measure",
        "source",
        *(
            pl.when(week_hidden).then(None).otherwise(pl.col(name)).alias(name)
            for name in ("people", "person_days")
        ),
        *(
            pl.when(source_hidden).then(None).otherwise(pl.col(name)).alias(name)
            for name in ("days_with", "share")
        ),
        week_hidden.alias("suppressed"),
        source_hidden.alias("source_suppressed"),
    )


def early_warning_decision(viewer: User | None) -> dict[str, Any] | None:
    """The `models.disengagement_model` row: which scorer this run published (`published`:
    logistic_regression or baseline_rule) and why, both scorers' ROC AUC, precision at the top
    `top_share` and Brier score on the held-out cohorts (null when not validated), the train and
    test cohorts with their weeks and events, and what was published (`published_weeks`,
    `published_people` — null, with `people_suppressed`, for 1 to `MIN_CELL_SIZE` − 1 people).
    None when the snapshot has no early warning."""
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return None
    return _early_warning_decision(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _early_warning_decision(snapshot: SnapshotIdentity) -> dict[str, Any] | None:
    with Reader(snapshot) as read:
        decision = _decision(read)
    if decision is None:
        return None
    suppressed = not disclosure.count_shown(decision["published_people"])
    return decision | {
        "published_people": None if suppressed else decision["published_people"],
        "people_suppressed": suppressed,
    }


def early_warning_calibration(viewer: User | None) -> pl.DataFrame:
    """`models.disengagement_calibration` on the held-out weeks (scorer, bin, weeks, events,
    mean_predicted, observed_rate), the model's bins first; empty when not validated."""
    return _data_health_read(viewer, _early_warning_calibration)


@st.cache_data(show_spinner=False, max_entries=16)
def _early_warning_calibration(snapshot: SnapshotIdentity) -> pl.DataFrame:
    with Reader(snapshot) as read:
        return _calibration(read)


DELIVERY_COLUMNS = {
    "username": pl.String,
    "coach_id": pl.String,
    "week": pl.String,
    "status": pl.String,
    "attempts": pl.Int64,
    "first_attempt_at": pl.String,
    "last_attempt_at": pl.String,
    "error": pl.String,
    "snapshot_as_of": pl.String,
}


def digest_deliveries(viewer: User | None) -> pl.DataFrame:
    """Every coach-week of the weekly digest's ledger (`<data dir>/digest/deliveries.json`):
    DELIVERY_COLUMNS, failed sends first, then the newest week first. Not in the snapshot: read
    at every call (the file is small and a send may have just failed). Empty when nothing was
    ever sent; `DigestError` (with the file and what to do) for a damaged ledger."""
    authorise(viewer, PAGE)
    entries = read_deliveries(DataDir.at(data_dir()))
    rows = [{name: entry.get(name) for name in DELIVERY_COLUMNS} for entry in entries.values()]
    return pl.DataFrame(rows, schema=DELIVERY_COLUMNS, orient="row").sort(
        pl.col("status") != FAILED, "week", "username", descending=[False, True, False]
    )
