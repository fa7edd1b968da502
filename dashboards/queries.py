"""Read the published snapshot for the dashboards — the only module that touches data.

Every read opens a short-lived, read-only DuckDB connection to
`<data_dir>/published/current.duckdb` and closes it before returning, so a
dashboard never holds the file open across reruns and never blocks a publish.
Results are cached with `st.cache_data`, keyed by the snapshot's identity
(path, mtime, size): when a run swaps in a new snapshot the next rerun reads it,
no restart needed.

Access is enforced here, not by the pages: every public function takes the
logged-in `viewer` (a `pipelines.lib.users.User`) and refuses with `AccessDenied`
what the viewer's role may not read — a coach gets only their own caseload, an
analyst no person-level data. Cohort aggregates come with cells of fewer than
`MIN_CELL_SIZE` people suppressed in this layer, not merely hidden by a page.
Query values are always bound parameters.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import streamlit as st

from pipelines.lib.layout import DataDir, default_data_dir
from pipelines.lib.users import User

MIN_CELL_SIZE = 5
"""Aggregates describing fewer people than this are suppressed."""

ADHERENT_WEEK_THRESHOLD = 0.8
"""A week is adherent at ≥ 80 % of prescribed stretching sessions."""

NO_SNAPSHOT_MESSAGE = (
    "No published data yet — run `steadyback run` to build and publish a snapshot "
    "(or `steadyback demo` for a generated cohort)."
)


PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "program_manager": ("cohort", "person"),
    "coach": ("caseload", "person"),
    "analyst": ("cohort", "data-health"),
}
"""Which pages each role may open; the first is where they land after logging in."""

PAGE_TITLES = {
    "cohort": "Cohort",
    "caseload": "Caseload",
    "person": "Person",
    "data-health": "Data health",
}

NOT_IN_CASELOAD = "This participant is not in your caseload."


class AccessDenied(PermissionError):
    """The viewer may not see this; the message is shown to them as it is."""


def authorise(viewer: User | None, page: str) -> User:
    """The viewer, when their role may open `page`; AccessDenied otherwise."""
    if viewer is None:
        raise AccessDenied("Log in to see this page.")
    allowed = PAGES_BY_ROLE.get(viewer.role, ())
    if page not in allowed:
        role = viewer.role.replace("_", " ")
        return_to = ", ".join(PAGE_TITLES[p] for p in allowed) or "none"
        raise AccessDenied(
            f"The {PAGE_TITLES.get(page, page)} page is not available to a {role} "
            f"(your pages: {return_to})."
        )
    return viewer


def authorise_person(viewer: User | None, pid: str) -> dict[str, Any] | None:
    """The person's `marts.participants` row when the viewer may see it.

    Program managers may see anyone; a coach only people whose `coach_id` is
    theirs — anyone else, including an unknown pid, is "not in your caseload",
    so a coach cannot probe which pids exist. None: unknown pid (program managers).
    """
    viewer = authorise(viewer, "person")
    snapshot = snapshot_identity()
    row = None if snapshot is None else _participant(snapshot, pid)
    if viewer.role == "coach" and (row is None or row["coach_id"] != viewer.coach_id):
        raise AccessDenied(NOT_IN_CASELOAD)
    return row


@st.cache_data(show_spinner=False, max_entries=1024)
def _participant(snapshot: SnapshotIdentity, pid: str) -> dict[str, Any] | None:
    rows = _read(
        snapshot,
        """
        select pid, cohort, site, coach_id, enrolled_on, program_weeks,
               prescribed_sessions_per_week, withdrawn_on, has_wearable,
               program_week_now, status
        from marts.participants
        where pid = $pid
        """,
        {"pid": pid},
    )
    return rows.row(0, named=True) if rows.height else None


class SnapshotIdentity(NamedTuple):
    """What makes one published snapshot different from the next: the cache key."""

    path: str
    mtime_ns: int
    size: int


def data_dir() -> Path:
    return default_data_dir()


def snapshot_path() -> Path:
    return DataDir.at(data_dir()).snapshot


def snapshot_identity() -> SnapshotIdentity | None:
    """The current snapshot's identity, or None when nothing was published yet."""
    path = snapshot_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return SnapshotIdentity(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def _read(
    snapshot: SnapshotIdentity, sql: str, params: dict[str, Any] | None = None
) -> pl.DataFrame:
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        return connection.sql(sql, params=params).pl()
    finally:
        connection.close()


def _cohort_list(viewer: User | None, cohorts: list[str] | tuple[str, ...] | None) -> list[str]:
    """An empty or missing selection means every cohort."""
    return list(cohorts) if cohorts else cohort_filters(viewer)


def suppress_small(count: int | None) -> int | None:
    """None for a count of 1…4 people: too few to show a program manager."""
    if count is None or 0 < count < MIN_CELL_SIZE:
        return None
    return count


# --- snapshot ---------------------------------------------------------------------------


def snapshot_info() -> dict[str, Any] | None:
    """The `meta.snapshot` row (run_id, published_at, as_of, …) or None without a snapshot."""
    snapshot = snapshot_identity()
    if snapshot is None:
        return None
    return _snapshot_info(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _snapshot_info(snapshot: SnapshotIdentity) -> dict[str, Any] | None:
    rows = _read(
        snapshot,
        "select run_id, published_at, as_of, landing_files, code_version from meta.snapshot",
    )
    return rows.row(0, named=True) if rows.height else None


# --- cohort (program managers) ----------------------------------------------------------


def cohort_filters(viewer: User | None) -> list[str]:
    """All cohort names, sorted; empty without a snapshot."""
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return []
    return _cohort_filters(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _cohort_filters(snapshot: SnapshotIdentity) -> list[str]:
    rows = _read(
        snapshot,
        "select distinct cohort from marts.participants where cohort is not null order by cohort",
    )
    return rows["cohort"].to_list()


def cohort_headline(
    viewer: User | None, cohorts: list[str] | None = None
) -> dict[str, int | float | None]:
    """Participants, active participants and the share of adherent completed person-weeks.

    Counts of 1…4 people and shares computed over fewer than `MIN_CELL_SIZE` people
    come back as None (suppressed).
    """
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return {"participants": None, "active": None, "adherent_week_share": None}
    return _cohort_headline(snapshot, tuple(_cohort_list(viewer, cohorts)))


@st.cache_data(show_spinner=False, max_entries=64)
def _cohort_headline(
    snapshot: SnapshotIdentity, cohorts: tuple[str, ...]
) -> dict[str, int | float | None]:
    rows = _read(
        snapshot,
        """
        with selected as (
            select pid, status from marts.participants where list_contains($cohorts, cohort)
        ),
        completed_weeks as (
            select w.pid, w.adherence
            from marts.participant_week as w
            join selected using (pid)
            where w.week_complete and w.adherence is not null
        )
        select
            (select count(*) from selected) as participants,
            (select count(*) from selected where status = 'active') as active,
            (select count(distinct pid) from completed_weeks) as people_with_completed_weeks,
            (select avg(case when adherence >= $threshold then 1.0 else 0.0 end)
               from completed_weeks) as adherent_week_share
        """,
        {"cohorts": list(cohorts), "threshold": ADHERENT_WEEK_THRESHOLD},
    ).row(0, named=True)
    share_is_shown = rows["people_with_completed_weeks"] >= MIN_CELL_SIZE
    return {
        "participants": suppress_small(rows["participants"]),
        "active": suppress_small(rows["active"]),
        "adherent_week_share": rows["adherent_week_share"] if share_is_shown else None,
    }


def adherence_by_week(viewer: User | None, cohorts: list[str] | None = None) -> pl.DataFrame:
    """Weekly adherence across people, per program week, over completed weeks only.

    Columns: week, n_people, median, q25, q75, adherent_share, suppressed. Weeks
    with fewer than `MIN_CELL_SIZE` people keep their row (so a page can say which
    weeks are hidden) but carry nulls instead of numbers.
    """
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return _empty_adherence_frame()
    return _adherence_by_week(snapshot, tuple(_cohort_list(viewer, cohorts)))


def _empty_adherence_frame() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "week": pl.Int64,
            "n_people": pl.Int64,
            "median": pl.Float64,
            "q25": pl.Float64,
            "q75": pl.Float64,
            "adherent_share": pl.Float64,
            "suppressed": pl.Boolean,
        }
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _adherence_by_week(snapshot: SnapshotIdentity, cohorts: tuple[str, ...]) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        with completed_weeks as (
            select w.week, w.adherence
            from marts.participant_week as w
            join marts.participants as p using (pid)
            where list_contains($cohorts, p.cohort)
              and w.week_complete
              and w.adherence is not null
        ),
        by_week as (
            select
                week,
                count(*) as n_people,
                median(adherence) as median,
                quantile_cont(adherence, 0.25) as q25,
                quantile_cont(adherence, 0.75) as q75,
                avg(case when adherence >= $threshold then 1.0 else 0.0 end) as adherent_share
            from completed_weeks
            group by week
        ),
        final as (
            select
                week::bigint as week,
                case when n_people >= $min_cell then n_people end::bigint as n_people,
                case when n_people >= $min_cell then median end::double as median,
                case when n_people >= $min_cell then q25 end::double as q25,
                case when n_people >= $min_cell then q75 end::double as q75,
                case when n_people >= $min_cell then adherent_share end::double as adherent_share,
                n_people < $min_cell as suppressed
            from by_week
        )
        select * from final order by week
        """,
        {
            "cohorts": list(cohorts),
            "threshold": ADHERENT_WEEK_THRESHOLD,
            "min_cell": MIN_CELL_SIZE,
        },
    )


# --- person (coaches) ---------------------------------------------------------------------


def people(viewer: User | None) -> pl.DataFrame:
    """The people the viewer may open: everyone for a program manager, a coach's caseload.

    One row per person: pid, cohort, site, coach_id, enrolled_on, status, program_week_now…
    """
    viewer = authorise(viewer, "person")
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame(schema={"pid": pl.String, "cohort": pl.String, "coach_id": pl.String})
    everyone = _people(snapshot)
    if viewer.role == "coach":
        return everyone.filter(pl.col("coach_id") == viewer.coach_id)
    return everyone


@st.cache_data(show_spinner=False, max_entries=16)
def _people(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select pid, cohort, site, coach_id, enrolled_on, program_weeks,
               prescribed_sessions_per_week, withdrawn_on, has_wearable,
               program_week_now, status
        from marts.participants
        order by cohort, coach_id, pid
        """,
    )


def person(viewer: User | None, pid: str) -> dict[str, Any] | None:
    """The person's `marts.participants` row, or None for an unknown pid (see authorise_person)."""
    return authorise_person(viewer, pid)


def person_days(viewer: User | None, pid: str) -> pl.DataFrame:
    """The person's `marts.participant_day` rows (one per program day), in order."""
    authorise_person(viewer, pid)
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()
    return _person_days(snapshot, pid)


@st.cache_data(show_spinner=False, max_entries=256)
def _person_days(snapshot: SnapshotIdentity, pid: str) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select pid, day, program_day, program_week, day_state, stretch_sessions,
               stretch_minutes, max_discomfort, breathing_share, stability_followup,
               steps, active_minutes, sleep_minutes, pain, sleep_quality, stress,
               movement_confidence
        from marts.participant_day
        where pid = $pid
        order by day
        """,
        {"pid": pid},
    )


def person_weeks(viewer: User | None, pid: str) -> pl.DataFrame:
    """The person's `marts.participant_week` rows, in program-week order."""
    authorise_person(viewer, pid)
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()
    return _person_weeks(snapshot, pid)


@st.cache_data(show_spinner=False, max_entries=256)
def _person_weeks(snapshot: SnapshotIdentity, pid: str) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select pid, week, week_start, days_elapsed, week_complete, sessions, prescribed,
               adherence, days_practised, gentle_share, breathing_share, mean_pain,
               data_coverage
        from marts.participant_week
        where pid = $pid
        order by week
        """,
        {"pid": pid},
    )


def day_counts(days: pl.DataFrame, as_of: date) -> dict[str, int]:
    """Days done / missed / unknown up to `as_of`, and the days still to come after it.

    Unknown means no data for a day that has happened; days after `as_of` are
    `upcoming`, not unknown, so they do not read as gaps.
    """
    elapsed = days.filter(pl.col("day") <= as_of)
    states = elapsed["day_state"].to_list()
    return {
        "done": states.count("done"),
        "missed": states.count("missed"),
        "unknown": states.count("unknown"),
        "upcoming": days.height - elapsed.height,
    }


def current_streak(days: pl.DataFrame, as_of: date) -> int:
    """Consecutive `done` days ending at the latest day up to `as_of`.

    The latest day (usually today) may still be in progress: if it is not done
    yet, counting starts from the day before. A missed or unknown day ends the
    streak — a day without data is never counted as done.
    """
    states = days.filter(pl.col("day") <= as_of).sort("day")["day_state"].to_list()
    if states and states[-1] != "done":
        states = states[:-1]
    streak = 0
    for state in reversed(states):
        if state != "done":
            break
        streak += 1
    return streak


# --- caseload (coaches) --------------------------------------------------------------------


# --- data health (analysts) ----------------------------------------------------------------
