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
analyst no person-level data. Cohort aggregates are computed only over whole atoms
of people and with small cells, small shares and excess precision removed in this layer
(`dashboards.disclosure`), not merely hidden by a page. Query values are always bound
parameters.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, MutableSet
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import polars as pl
import streamlit as st

from dashboards import disclosure
from dashboards.disclosure import MIN_CELL_SIZE
from pipelines.lib import audit
from pipelines.lib.identities import IdentitiesError, Identity, read_identities
from pipelines.lib.layout import DataDir, default_data_dir
from pipelines.lib.rules import AppliedRules, ProgramRules, read_recorded_rules
from pipelines.lib.statistics.contract import COHORT_SCHEMA, DOSE_RESPONSE_SCHEMA
from pipelines.lib.users import User

NO_SNAPSHOT_MESSAGE = (
    "No published data yet — run `steadyback run` to build and publish a snapshot "
    "(or `steadyback demo` for a generated cohort)."
)


PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "program_manager": ("cohort", "person"),
    "coach": ("caseload", "person"),
    "analyst": ("data-health", "cohort"),
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
        article = "an" if role[0] in "aeiou" else "a"
        return_to = ", ".join(PAGE_TITLES[p] for p in allowed) or "none"
        raise AccessDenied(
            f"The {PAGE_TITLES.get(page, page)} page is not available to {article} {role} "
            f"(your pages: {return_to})."
        )
    return viewer


def authorise_person(
    viewer: User | None, pid: str, snapshot: SnapshotIdentity | None = None
) -> dict[str, Any] | None:
    """The person's `marts.participants` row when the viewer may see it.

    Program managers may see anyone; a coach only people whose `coach_id` is
    theirs — anyone else, including an unknown pid, is "not in your caseload",
    so a coach cannot probe which pids exist. None: unknown pid (program managers).
    """
    viewer = authorise(viewer, "person")
    # a caller about to read passes the snapshot it will read, so the check and the read
    # cannot straddle a publish that moved the person to another coach
    snapshot = snapshot or snapshot_identity()
    row = None if snapshot is None else _participant(snapshot, pid)
    if viewer.role == "coach" and (
        row is None or viewer.coach_id is None or row["coach_id"] != viewer.coach_id
    ):
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


def program_rules(viewer: User | None) -> AppliedRules:
    """The program rules the current snapshot was built with (its `meta.rules`), for any
    logged-in viewer: the pages explain their numbers with them.

    A snapshot published by a version that did not record them reads as the defaults, with
    `recorded` false (the data-health page says so); so does "no snapshot yet".
    """
    if viewer is None:
        raise AccessDenied("Log in to see this page.")
    snapshot = snapshot_identity()
    if snapshot is None:
        return AppliedRules(recorded=False)
    return _program_rules(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _program_rules(snapshot: SnapshotIdentity) -> AppliedRules:
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        return read_recorded_rules(connection)
    finally:
        connection.close()


# --- cohort (program managers) ----------------------------------------------------------

# The cohort page's figures are computed for the people its filters select — resolved to whole
# atoms by `dashboards.disclosure` — and each shares one definition with the pipeline: a
# person's adherence is the mean of their completed weeks (as `models.dose_response`),
# dose–response bands and retention reuse `pipelines.lib.statistics`. Those modules load scipy
# (≈ 1 s), so they are imported on first use, not with this module. Thresholds are the
# snapshot's program rules (`program_rules`).

COHORT_EFFECT_TERMS = (
    "sleep_prev_night_h",
    "consistency_10pct",
    "steps_1000",
    "consistency_10pct_between",
    "steps_1000_between",
    "week",
)
"""`models.cohort_effects` terms in the order the forest plot lists them."""

PRINCIPLES: dict[str, str] = {
    "consistency": "Consistency",
    "gentle": "Gentle stretching",
    "breathing": "Guided breathing",
    "stability": "Stability follow-up",
    "activity": "Activity",
    "sleep_recovery": "Sleep and recovery",
    "confidence": "Movement confidence",
}
"""The seven `marts.principles` scores (0–1, 1 = target met in full) and their plain names."""
PRINCIPLE_COLUMNS = tuple(PRINCIPLES)
"""The seven `marts.principles` scores, in the order of the heat map's columns."""

HEATMAP_ROWS = {"cohort": "Cohort", "site": "Site", "cohort_site": "Cohort × site"}
"""How the principles heat map may group its rows."""

ALL_SELECTED = "All selected people"


class CohortSelection(NamedTuple):
    """The cohort page's filters; an empty tuple puts no limit on that field."""

    cohorts: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    enrolment_months: tuple[str, ...] = ()  # "YYYY-MM"


def _selection(selection: CohortSelection | None) -> CohortSelection:
    """A hashable selection (tuples, sorted) whatever sequences the page passed."""
    if selection is None:
        return CohortSelection()
    return CohortSelection(*(tuple(sorted(values)) for values in selection))


def cohort_scope(viewer: User | None, selection: CohortSelection | None = None) -> disclosure.Scope:
    """Whom the selection's figures describe: the roster cells of the atoms it covers in full.

    `people` is 0 or at least `MIN_CELL_SIZE`; `refused` when it is below (nobody, or the
    people the filters match are all in atoms they match only in part); `left_out` when some
    people the filters match are in such atoms. Every cohort panel is computed over this scope.
    """
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return disclosure.Scope((), 0, False)
    return _scope(snapshot, _selection(selection))


@st.cache_data(show_spinner=False, max_entries=256)
def _scope(snapshot: SnapshotIdentity, selection: CohortSelection) -> disclosure.Scope:
    return disclosure.resolve(
        _roster_atoms(snapshot), selection.cohorts, selection.sites, selection.enrolment_months
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _roster_atoms(snapshot: SnapshotIdentity) -> tuple[disclosure.Atom, ...]:
    cells = _read(
        snapshot,
        """
        select cohort, site, strftime(enrolled_on, '%Y-%m') as month, count(*) as people
        from marts.participants
        group by all
        """,
    )
    return disclosure.atoms({(c, s, m): n for c, s, m, n in cells.iter_rows()})


# Every cohort query starts from the people of the selection's scope: the roster cells of the
# atoms it covers, bound as lists (with each atom's heat-map row labels). An empty scope
# selects nobody.
_SELECTED_PEOPLE = """
with scope as (
    select
        unnest($scope_cohorts::varchar[]) as cohort,
        unnest($scope_sites::varchar[]) as site,
        unnest($scope_months::varchar[]) as month,
        unnest($scope_cohort_rows::varchar[]) as cohort_row,
        unnest($scope_site_rows::varchar[]) as site_row
),
selected as (
    select p.pid, p.cohort, p.site, p.enrolled_on, p.program_weeks, p.withdrawn_on,
           p.has_wearable, p.status, s.cohort_row, s.site_row
    from marts.participants as p
    join scope as s
      on p.cohort is not distinct from s.cohort
     and p.site is not distinct from s.site
     and strftime(p.enrolled_on, '%Y-%m') is not distinct from s.month
),
person_adherence as (
    -- a person's adherence: the mean of their completed weeks (as models.dose_response)
    select w.pid, avg(w.adherence) as mean_adherence
    from marts.participant_week as w
    join selected using (pid)
    where w.week_complete
    group by w.pid
    having count(w.adherence) > 0
)
"""


def _selected_params(scope: disclosure.Scope, **params: Any) -> dict[str, Any]:
    return {
        "scope_cohorts": [cell.cohort for cell in scope.cells],
        "scope_sites": [cell.site for cell in scope.cells],
        "scope_months": [cell.month for cell in scope.cells],
        "scope_cohort_rows": [cell.cohort_row for cell in scope.cells],
        "scope_site_rows": [cell.site_row for cell in scope.cells],
        **params,
    }


def _band_params(rules: ProgramRules) -> dict[str, Any]:
    from pipelines.lib.statistics.dose_response import bands

    adherence_bands = bands(rules)
    return {
        "band_orders": list(range(1, len(adherence_bands) + 1)),
        "band_lows": [band.low for band in adherence_bands],
        "band_highs": [band.high for band in adherence_bands],
    }


# The adherence band of each person with a completed week (`dose_response.bands`).
_PERSON_BAND = """,
bands as (
    select
        unnest($band_orders::bigint[]) as band_order,
        unnest($band_lows::double[]) as low,
        unnest($band_highs::double[]) as high
),
person_band as (
    select a.pid, b.band_order
    from person_adherence as a
    join bands as b on a.mean_adherence >= b.low and a.mean_adherence < b.high
)
"""


def _shown(count: int | None) -> bool:
    return count is not None and count >= MIN_CELL_SIZE


def _t_interval(mean: float, sd: float | None, n: int) -> tuple[float | None, float | None]:
    """95 % t-interval of a mean of n values (as models.dose_response); none below 2 values."""
    from scipy import stats

    if n < 2 or sd is None:
        return None, None
    half = float(stats.t.ppf(0.975, n - 1)) * sd / n**0.5
    return mean - half, mean + half


class _Reader:
    """One short-lived read-only connection for several queries: `with _Reader(s) as read:`.

    Opening the snapshot costs about 15 ms, a query on an open connection about 1 ms, so the
    cohort panels of one selection are read over a single connection.
    """

    def __init__(self, snapshot: SnapshotIdentity) -> None:
        self._snapshot = snapshot

    def __enter__(self) -> _Reader:
        self._connection = duckdb.connect(self._snapshot.path, read_only=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._connection.close()

    def __call__(self, sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        return self._connection.sql(sql, params=params).pl()


def _selection_panel(
    viewer: User | None,
    selection: CohortSelection | None,
    name: str,
    empty: Callable[[], pl.DataFrame],
) -> pl.DataFrame:
    """One of `_selection_panels` for an authorised viewer; `empty()` without a snapshot."""
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return empty()
    return _selection_panels(snapshot, _scope(snapshot, _selection(selection)))[name]


@st.cache_data(show_spinner=False, max_entries=64)
def _selection_panels(snapshot: SnapshotIdentity, scope: disclosure.Scope) -> dict[str, Any]:
    """Every cohort panel that depends on the selection alone, suppressed and rounded, by name.

    Keyed by the scope, not the filters: selections that cover the same atoms share it.
    """
    rules = _program_rules(snapshot).rules
    with _Reader(snapshot) as read:
        return {
            "headline": _cohort_headline(read, scope, rules),
            "adherence_by_week": _adherence_by_week(read, scope, rules),
            "pain_by_adherence_band": _pain_by_adherence_band(read, scope, rules),
            "dose_response": _dose_response(read, scope, rules),
            "retention_by_week": _retention_by_week(read, scope),
            "data_coverage": _data_coverage(read, scope),
        }


def cohort_filter_options(viewer: User | None) -> dict[str, list[str]]:
    """The values each filter offers: cohort, site, enrolment_month ("YYYY-MM"), sorted."""
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return {"cohort": [], "site": [], "enrolment_month": []}
    return _cohort_filter_options(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _cohort_filter_options(snapshot: SnapshotIdentity) -> dict[str, list[str]]:
    rows = _read(
        snapshot,
        """
        select
            list(distinct cohort order by cohort) filter (where cohort is not null) as cohort,
            list(distinct site order by site) filter (where site is not null) as site,
            list(distinct strftime(enrolled_on, '%Y-%m') order by strftime(enrolled_on, '%Y-%m'))
                filter (where enrolled_on is not null) as enrolment_month
        from marts.participants
        """,
    ).row(0, named=True)
    return {name: list(values or []) for name, values in rows.items()}


def cohort_headline(
    viewer: User | None, selection: CohortSelection | None = None
) -> dict[str, Any]:
    """The page's six headline figures for the selected people, with the people each describes.

    Keys: enrolled, active (head counts; active only when neither the active nor the other
    people are 1…4); adherent_this_week, median_adherence, responders,
    retention (shares 0–1, rounded to `disclosure.SHARE`), each with `<key>_people` (how many
    people it is computed over); retention_week (the program week the retention share is read
    at). A head count of 1…4 comes back as None, and so does a share computed over fewer than
    `MIN_CELL_SIZE` people or with 1…4 people on either side of it (`disclosure.share_shown`).
    """
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return dict.fromkeys(
            (
                "enrolled",
                "active",
                "adherent_this_week",
                "adherent_this_week_people",
                "median_adherence",
                "median_adherence_people",
                "responders",
                "responders_people",
                "retention",
                "retention_people",
                "retention_week",
            )
        )
    panels = _selection_panels(snapshot, _scope(snapshot, _selection(selection)))
    retention = panels["retention_by_week"]
    # the last week at least MIN_CELL_SIZE people were followed to; its share may still be
    # suppressed (1–4 people disengaged by then)
    latest = retention.filter(~pl.col("suppressed") & (pl.col("week") > 0)).tail(1)
    return {
        **panels["headline"],
        "retention": latest["still_engaged"][0] if latest.height else None,
        "retention_people": latest["at_risk"][0] if latest.height else None,
        "retention_week": latest["week"][0] if latest.height else None,
    }


def _cohort_headline(read: _Reader, scope: disclosure.Scope, rules: ProgramRules) -> dict[str, Any]:
    row = read(
        _SELECTED_PEOPLE
        + """,
        latest_completed_week as (
            -- each active person's most recent completed program week
            select w.pid, arg_max(w.adherence, w.week) as adherence
            from marts.participant_week as w
            join selected as s using (pid)
            where s.status = 'active' and w.week_complete and w.adherence is not null
            group by w.pid
        ),
        responder as (
            select o.pain_responder
            from marts.outcomes as o
            join selected using (pid)
            where o.pain_responder is not null
        )
        select
            (select count(*) from selected) as enrolled,
            (select count(*) from selected where status = 'active') as active,
            (select count(*) from latest_completed_week) as adherent_this_week_people,
            (select count(*) filter (where adherence >= $threshold) from latest_completed_week)
                as adherent_this_week_yes,
            (select count(*) from person_adherence) as median_adherence_people,
            (select median(mean_adherence) from person_adherence) as median_adherence,
            (select count(*) from responder) as responders_people,
            (select count(*) filter (where pain_responder) from responder) as responders_yes
        """,
        _selected_params(scope, threshold=rules.adherent_share),
    ).row(0, named=True)
    enrolled, active = row["enrolled"], row["active"]
    headline: dict[str, Any] = {
        "enrolled": disclosure.head_count(enrolled),
        # active of enrolled is a share of people: 38 of 40 would say 2 are not active
        "active": (
            active
            if disclosure.count_shown(active) and disclosure.count_shown(enrolled - active)
            else None
        ),
    }
    for share in ("adherent_this_week", "responders"):  # shares of people
        yes, people = row[f"{share}_yes"], row[f"{share}_people"]
        headline[share] = (
            disclosure.round_value(yes / people, disclosure.SHARE)
            if disclosure.share_shown(yes, people)
            else None
        )
        headline[f"{share}_people"] = people if _shown(people) else None
    # the middle person's adherence is not a share of people: it needs enough people only
    people = row["median_adherence_people"]
    headline["median_adherence"] = (
        disclosure.round_value(row["median_adherence"], disclosure.SHARE)
        if _shown(people)
        else None
    )
    headline["median_adherence_people"] = people if _shown(people) else None
    return headline


def adherence_by_week(
    viewer: User | None, selection: CohortSelection | None = None
) -> pl.DataFrame:
    """Weekly adherence across people, per program week, over completed weeks only.

    Columns: week, n_people, median, q25, q75, adherent_share, suppressed. Weeks
    with fewer than `MIN_CELL_SIZE` people keep their row (so a page can say which
    weeks are hidden) but carry nulls instead of numbers.
    """
    return _selection_panel(viewer, selection, "adherence_by_week", _empty_adherence_frame)


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


def _adherence_by_week(read: _Reader, scope: disclosure.Scope, rules: ProgramRules) -> pl.DataFrame:
    weeks = read(
        _SELECTED_PEOPLE
        + """,
        completed_weeks as (
            select w.week, w.adherence
            from marts.participant_week as w
            join selected using (pid)
            where w.week_complete and w.adherence is not null
        )
        select
            week::bigint as week,
            count(*) as n_people,
            median(adherence)::double as median,
            quantile_cont(adherence, 0.25)::double as q25,
            quantile_cont(adherence, 0.75)::double as q75,
            count(*) filter (where adherence >= $threshold) as adherent
        from completed_weeks
        group by week
        order by week
        """,
        _selected_params(scope, threshold=rules.adherent_share),
    )
    hidden = pl.col("n_people") < MIN_CELL_SIZE
    adherent_share = pl.struct("adherent", "n_people").map_elements(
        lambda week: (
            week["adherent"] / week["n_people"]
            if disclosure.share_shown(week["adherent"], week["n_people"])
            else None
        ),
        return_dtype=pl.Float64,
    )
    return disclosure.rounded(
        weeks.select(
            "week",
            *(
                pl.when(hidden).then(None).otherwise(pl.col(name)).alias(name)
                for name in ("n_people", "median", "q25", "q75")
            ),
            pl.when(hidden).then(None).otherwise(adherent_share).alias("adherent_share"),
            hidden.alias("suppressed"),
        ),
        dict.fromkeys(("median", "q25", "q75", "adherent_share"), disclosure.SHARE),
    ).cast(_empty_adherence_frame().schema)


def pain_by_adherence_band(
    viewer: User | None, selection: CohortSelection | None = None
) -> pl.DataFrame:
    """Weekly mean pain of each adherence band, per program week, with a 95 % t-interval.

    A person's band comes from their mean adherence over completed weeks (the
    dose–response bands). Each person-week counts once: its weekly mean pain, from a
    completed week with at least `baseline_min_checkins` check-ins (as in `marts.outcomes`).
    Columns: band_order,
    band, week, n_people, mean_pain, ci_low, ci_high, suppressed (fewer than
    `MIN_CELL_SIZE` people: numbers null).
    """
    return _selection_panel(viewer, selection, "pain_by_adherence_band", _empty_pain_by_band)


def _empty_pain_by_band() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "band_order": pl.Int64,
            "band": pl.String,
            "week": pl.Int64,
            "n_people": pl.Int64,
            "mean_pain": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "suppressed": pl.Boolean,
        }
    )


def _pain_by_adherence_band(
    read: _Reader, scope: disclosure.Scope, rules: ProgramRules
) -> pl.DataFrame:
    from pipelines.lib.statistics.dose_response import bands

    rows = read(
        _SELECTED_PEOPLE
        + _PERSON_BAND
        + """
        select
            b.band_order::bigint as band_order,
            w.week::bigint as week,
            count(*) as n_people,
            avg(w.mean_pain) as mean_pain,
            stddev_samp(w.mean_pain) as sd_pain
        from marts.participant_week as w
        join person_band as b using (pid)
        where w.week_complete and w.mean_pain is not null and w.checkin_days >= $min_checkins
        group by all
        order by band_order, week
        """,
        _selected_params(scope, min_checkins=rules.baseline_min_checkins, **_band_params(rules)),
    )
    out = []
    for row in rows.iter_rows(named=True):
        shown = _shown(row["n_people"])
        low, high = _t_interval(row["mean_pain"], row["sd_pain"], row["n_people"])
        out.append(
            {
                "band_order": row["band_order"],
                "band": bands(rules)[row["band_order"] - 1].label,
                "week": row["week"],
                "n_people": row["n_people"] if shown else None,
                "mean_pain": row["mean_pain"] if shown else None,
                "ci_low": low if shown else None,
                "ci_high": high if shown else None,
                "suppressed": not shown,
            }
        )
    return disclosure.rounded(
        pl.DataFrame(out, schema=_empty_pain_by_band().schema),
        dict.fromkeys(("mean_pain", "ci_low", "ci_high"), disclosure.POINTS),
    )


def principles_by_group(
    viewer: User | None, selection: CohortSelection | None = None, rows: str = "cohort"
) -> pl.DataFrame:
    """Mean principle scores over completed person-weeks, per group and for the whole selection.

    `rows`: a `HEATMAP_ROWS` key. A row is the cohort (site) of whole atoms: an atom that
    pools several cohorts (sites) is a row "several cohorts" ("several sites") of its own, so
    every row is a union of atoms like the selection itself. Columns: group (`ALL_SELECTED`
    first), principle (a `PRINCIPLE_COLUMNS` name), n_people (people with a score),
    mean_score (0–1, rounded to `disclosure.SHARE`), suppressed. Cells describing fewer than
    `MIN_CELL_SIZE` people carry nulls.
    """
    authorise(viewer, "cohort")
    if rows not in HEATMAP_ROWS:
        raise ValueError(f"rows must be one of {', '.join(HEATMAP_ROWS)}")
    snapshot = snapshot_identity()
    if snapshot is None:
        return _empty_principles()
    return _principles_by_group(snapshot, _scope(snapshot, _selection(selection)), rows)


def _empty_principles() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "group": pl.String,
            "principle": pl.String,
            "n_people": pl.Int64,
            "mean_score": pl.Float64,
            "suppressed": pl.Boolean,
        }
    )


@st.cache_data(show_spinner=False, max_entries=64)
def _principles_by_group(
    snapshot: SnapshotIdentity, scope: disclosure.Scope, rows: str
) -> pl.DataFrame:
    frame = _read(
        snapshot,
        _SELECTED_PEOPLE
        + """,
        weekly_scores as (
            select
                w.pid,
                case $rows
                    when 'cohort' then s.cohort_row
                    when 'site' then s.site_row
                    else s.cohort_row || ' · ' || s.site_row
                end as grp,
                w.consistency, w.gentle, w.breathing, w.stability, w.activity,
                w.sleep_recovery, w.confidence
            from marts.principles as w
            join selected as s using (pid)
            where w.week_complete
        ),
        scores as (
            unpivot weekly_scores
            on consistency, gentle, breathing, stability, activity, sleep_recovery, confidence
            into name principle value score
        ),
        -- per person first: people are counted without a count(distinct) over person-weeks
        per_person as (
            select pid, grp, principle, sum(score) as total, count(score) as weeks
            from scores
            where score is not null
            group by all
        ),
        cells as (
            select
                case when grouping(grp) = 1 then $all_selected else grp end as "group",
                grouping(grp) = 1 as is_total,
                principle,
                count(*) as n_people,
                sum(total) / sum(weeks) as mean_score
            from per_person
            group by grouping sets ((grp, principle), (principle))
        )
        select "group", principle, is_total, n_people::bigint as n_people,
               mean_score::double as mean_score
        from cells
        order by not is_total, "group", principle
        """,
        _selected_params(scope, rows=rows, all_selected=ALL_SELECTED),
    )
    frame = disclosure.rounded(_suppress_with_complements(frame), {"mean_score": disclosure.SHARE})
    order = {name: index for index, name in enumerate(PRINCIPLE_COLUMNS)}
    groups = frame["group"].unique(maintain_order=True).to_list()
    # a group or principle with no score at all still gets its (blank) cells
    grid = pl.DataFrame(
        [(g, p) for g in groups for p in PRINCIPLE_COLUMNS],
        schema={"group": pl.String, "principle": pl.String},
        orient="row",
    )
    return (
        grid.join(frame, on=["group", "principle"], how="left")
        .with_columns(
            pl.col("suppressed").fill_null(False),
            pl.col("group")
            .replace_strict({g: i for i, g in enumerate(groups)}, return_dtype=pl.Int64)
            .alias("_group_order"),
            pl.col("principle").replace_strict(order, return_dtype=pl.Int64).alias("_order"),
        )
        .sort("_group_order", "_order")
        .drop("_group_order", "_order")
        .select(_empty_principles().columns)
    )


def _suppress_with_complements(cells: pl.DataFrame) -> pl.DataFrame:
    """Blank every heat-map cell of fewer than MIN_CELL_SIZE people — and enough others that
    the blanks cannot be recovered by subtraction.

    Each principle's groups add up to its "all selected" row, so a single blank cell
    would be the total minus the others. Per principle, while fewer than two cells are
    blank or the blank ones hold fewer than MIN_CELL_SIZE people together, the smallest
    shown group is blanked too; if no group is left to blank, the total is.
    """
    suppressed: set[tuple[str, str]] = set()
    for (principle,), column in cells.group_by("principle"):
        groups = column.filter(~pl.col("is_total")).sort("n_people", "group")
        blank = [
            (g, n) for g, n in groups.select("group", "n_people").iter_rows() if n < MIN_CELL_SIZE
        ]
        if blank:
            shown = [
                (g, n)
                for g, n in groups.select("group", "n_people").iter_rows()
                if n >= MIN_CELL_SIZE
            ]
            while shown and (len(blank) < 2 or sum(n for _, n in blank) < MIN_CELL_SIZE):
                blank.append(shown.pop(0))
            if len(blank) < 2 or sum(n for _, n in blank) < MIN_CELL_SIZE:
                blank.append((ALL_SELECTED, 0))
        suppressed.update((group, principle) for group, _ in blank)
        total = column.filter(pl.col("is_total"))
        if total.height and total["n_people"][0] < MIN_CELL_SIZE:
            suppressed.add((ALL_SELECTED, principle))
    hidden = pl.struct("group", "principle").map_elements(
        lambda cell: (cell["group"], cell["principle"]) in suppressed, return_dtype=pl.Boolean
    )
    return cells.with_columns(hidden.alias("suppressed")).select(
        "group",
        "principle",
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col("n_people")).alias("n_people"),
        pl.when(pl.col("suppressed"))
        .then(None)
        .otherwise(pl.col("mean_score"))
        .alias("mean_score"),
        "suppressed",
    )


def dose_response(viewer: User | None, selection: CohortSelection | None = None) -> pl.DataFrame:
    """Mean pain change (latest − baseline) per adherence band, for the selected people.

    Recomputed with `pipelines.lib.statistics.dose_response` (the definition of
    `models.dose_response`) on the selection. Columns: band_order, band, n_people,
    mean_pain_change, ci_low, ci_high, suppressed (1 to `MIN_CELL_SIZE` − 1 people; a band
    with nobody keeps n_people 0 and null numbers).
    """
    return _selection_panel(viewer, selection, "dose_response", _empty_dose_response)


def _empty_dose_response() -> pl.DataFrame:
    return pl.DataFrame(schema={**DOSE_RESPONSE_SCHEMA, "suppressed": pl.Boolean})


def _dose_response(read: _Reader, scope: disclosure.Scope, rules: ProgramRules) -> pl.DataFrame:
    from pipelines.lib.statistics.dose_response import dose_response as fit_dose_response

    people = read(
        _SELECTED_PEOPLE
        + """
        select a.mean_adherence, o.pain_change
        from marts.outcomes as o
        join selected using (pid)
        join person_adherence as a using (pid)
        where o.pain_change is not null
        """,
        _selected_params(scope),
    )
    bands = fit_dose_response(people, rules)
    small = disclosure.too_few(pl.col("n_people"))
    return disclosure.rounded(
        bands.with_columns(
            *(
                pl.when(small).then(None).otherwise(pl.col(name)).alias(name)
                for name in ("n_people", "mean_pain_change", "ci_low", "ci_high")
            ),
            small.alias("suppressed"),
        ),
        dict.fromkeys(("mean_pain_change", "ci_low", "ci_high"), disclosure.POINTS_CHANGE),
    )


def retention_by_week(
    viewer: User | None, selection: CohortSelection | None = None
) -> pl.DataFrame:
    """Kaplan–Meier share of the selected people still engaged at the end of each program week.

    The selected people's rows of `marts.engagement_spells` through
    `pipelines.lib.statistics.retention.kaplan_meier`, as `models.retention` does for everyone.
    Columns: week (0 = enrolment), day (days since enrolment at the end of the week),
    at_risk (people still engaged and followed to the end of the week), still_engaged,
    ci_low, ci_high (rounded to `disclosure.SHARE`), suppressed (fewer than `MIN_CELL_SIZE`
    people at risk: that week and every later one carry nulls),
    share_suppressed (1 to `MIN_CELL_SIZE` − 1 people disengaged before the end of the week:
    the share and its interval are null — "83 % of 6" would be one person; `at_risk` stays).
    """
    return _selection_panel(viewer, selection, "retention_by_week", _empty_retention)


def _empty_retention() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "week": pl.Int64,
            "day": pl.Int64,
            "at_risk": pl.Int64,
            "still_engaged": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "suppressed": pl.Boolean,
            "share_suppressed": pl.Boolean,
        }
    )


def _retention_by_week(read: _Reader, scope: disclosure.Scope) -> pl.DataFrame:
    from pipelines.lib.statistics.retention import kaplan_meier

    # the selected people's rows of `marts.engagement_spells`, the spell rule's one definition
    spells = read(
        _SELECTED_PEOPLE
        + """
        select
            e.days,
            e.disengaged,
            (select max(program_weeks) from selected) as program_weeks
        from marts.engagement_spells as e
        semi join selected as s using (pid)
        """,
        _selected_params(scope),
    )
    if spells.is_empty():
        return _empty_retention()
    program_weeks = spells["program_weeks"][0]
    curve = kaplan_meier(spells)
    times = spells["days"].to_numpy()
    disengaged_on = spells.filter("disengaged")["days"].to_numpy()
    out = []
    hidden = False
    for week in range(program_weeks + 1):
        day = 7 * week
        # engaged through the end of the week: no disengagement starting before `day`
        before = curve.filter(pl.col("days_since_enrolment") < day).tail(1)
        at_risk = int((times >= day).sum())
        hidden = hidden or at_risk < MIN_CELL_SIZE
        # the share's two sides: who disengaged by the end of the week, and who is still
        # engaged and followed (people censored earlier are on neither side)
        disengaged = int((disengaged_on < day).sum())
        share_hidden = hidden or not disclosure.share_shown(disengaged, disengaged + at_risk)
        still, low, high = (
            (1.0, 1.0, 1.0)
            if before.is_empty()
            else (before["still_engaged"][0], before["ci_low"][0], before["ci_high"][0])
        )
        out.append(
            {
                "week": week,
                "day": day,
                "at_risk": None if hidden else at_risk,
                "still_engaged": None if share_hidden else still,
                "ci_low": None if share_hidden else low,
                "ci_high": None if share_hidden else high,
                "suppressed": hidden,
                "share_suppressed": share_hidden,
            }
        )
    return disclosure.rounded(
        pl.DataFrame(out, schema=_empty_retention().schema),
        dict.fromkeys(("still_engaged", "ci_low", "ci_high"), disclosure.SHARE),
    )


def data_coverage(viewer: User | None, selection: CohortSelection | None = None) -> pl.DataFrame:
    """Share of elapsed person-days with a check-in, a worn tracker, a recorded night, per week.

    Check-ins over everyone selected; tracker wear and sleep over the people with a
    tracker (`has_wearable`). Elapsed days are days not `unknown` (up to as of, before any
    withdrawal). Shares are of person-days, rounded to `disclosure.SHARE`. Columns: week,
    n_people, checkin_share, n_tracker_people, wear_share, sleep_share, suppressed (fewer than
    `MIN_CELL_SIZE` people: all null), tracker_suppressed (fewer than `MIN_CELL_SIZE` tracker
    wearers: wear and sleep null). n_tracker_people is also null when 1 to `MIN_CELL_SIZE` − 1
    of the week's people have no tracker (the two counts would tell how many).
    """
    return _selection_panel(viewer, selection, "data_coverage", _empty_coverage)


def _empty_coverage() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "week": pl.Int64,
            "n_people": pl.Int64,
            "checkin_share": pl.Float64,
            "n_tracker_people": pl.Int64,
            "wear_share": pl.Float64,
            "sleep_share": pl.Float64,
            "suppressed": pl.Boolean,
            "tracker_suppressed": pl.Boolean,
        }
    )


def _data_coverage(read: _Reader, scope: disclosure.Scope) -> pl.DataFrame:
    weeks = read(
        _SELECTED_PEOPLE
        + """,
        person_week as (
            select
                d.pid,
                d.program_week as week,
                any_value(s.has_wearable) as has_tracker,
                count(*) as days,
                count(d.pain) as checkin_days,
                count(*) filter (where d.wear_state = 'worn') as worn_days,
                count(d.sleep_minutes) as sleep_nights
            from marts.participant_day as d
            join selected as s using (pid)
            where d.day_state <> 'unknown'
            group by d.pid, d.program_week
        ),
        by_week as (
            select
                week,
                count(*) as n_people,
                sum(checkin_days) / sum(days) as checkin_share,
                count(*) filter (where has_tracker) as n_tracker_people,
                sum(worn_days) filter (where has_tracker) / sum(days) filter (where has_tracker)
                    as wear_share,
                sum(sleep_nights) filter (where has_tracker)
                    / sum(days) filter (where has_tracker) as sleep_share
            from person_week
            group by week
        )
        select week::bigint as week, n_people, checkin_share::double as checkin_share,
               n_tracker_people, wear_share::double as wear_share,
               sleep_share::double as sleep_share
        from by_week
        order by week
        """,
        _selected_params(scope),
    )
    hidden = pl.col("n_people") < MIN_CELL_SIZE
    tracker_hidden = hidden | (pl.col("n_tracker_people") < MIN_CELL_SIZE)
    # wearers of n_people is a share of people: its count is shown only when the people
    # without a tracker are not 1–4 either (the lines are shares of days and stay)
    wearers_shown = pl.struct("n_tracker_people", "n_people").map_elements(
        lambda week: disclosure.count_shown(week["n_people"] - week["n_tracker_people"]),
        return_dtype=pl.Boolean,
    )
    return disclosure.rounded(
        weeks.select(
            "week",
            pl.when(hidden).then(None).otherwise(pl.col("n_people")).alias("n_people"),
            pl.when(hidden).then(None).otherwise(pl.col("checkin_share")).alias("checkin_share"),
            pl.when(tracker_hidden | ~wearers_shown)
            .then(None)
            .otherwise(pl.col("n_tracker_people"))
            .alias("n_tracker_people"),
            *(
                pl.when(tracker_hidden).then(None).otherwise(pl.col(name)).alias(name)
                for name in ("wear_share", "sleep_share")
            ),
            hidden.alias("suppressed"),
            tracker_hidden.alias("tracker_suppressed"),
        ),
        dict.fromkeys(("checkin_share", "wear_share", "sleep_share"), disclosure.SHARE),
    ).cast(_empty_coverage().schema)


def cohort_effects(viewer: User | None) -> pl.DataFrame:
    """`models.cohort_effects` — fitted on the whole program; the page's filters do not apply.

    Columns: term, estimate, ci_low, ci_high, p_value, n_people, n_obs, unit, model, in the
    order of `COHORT_EFFECT_TERMS` (other terms after). Estimates and intervals are rounded
    to `disclosure.EFFECT`, p-values to `disclosure.P_VALUE`. A term resting on fewer than
    `MIN_CELL_SIZE` people has null numbers (suppressed).
    """
    authorise(viewer, "cohort")
    snapshot = snapshot_identity()
    if snapshot is None:
        return _empty_cohort_effects()
    return _cohort_effects(snapshot)


def _empty_cohort_effects() -> pl.DataFrame:
    return pl.DataFrame(schema={**COHORT_SCHEMA, "suppressed": pl.Boolean})


@st.cache_data(show_spinner=False, max_entries=16)
def _cohort_effects(snapshot: SnapshotIdentity) -> pl.DataFrame:
    with _Reader(snapshot) as read:
        tables = read(
            """
            select count(*) as n from information_schema.tables
            where table_schema = 'models' and table_name = 'cohort_effects'
            """
        )
        if not tables["n"][0]:  # a snapshot published without the statistics step
            return _empty_cohort_effects()
        effects = read(
            """
        select
            term,
            case when n_people >= $min_cell then estimate end::double as estimate,
            case when n_people >= $min_cell then ci_low end::double as ci_low,
            case when n_people >= $min_cell then ci_high end::double as ci_high,
            case when n_people >= $min_cell then p_value end::double as p_value,
            case when n_people >= $min_cell then n_people end::bigint as n_people,
            case when n_people >= $min_cell then n_obs end::bigint as n_obs,
            unit,
            model,
            coalesce(n_people < $min_cell, true) as suppressed
        from models.cohort_effects
        order by coalesce(list_position($terms::varchar[], term), 1000), term
        """,
            {"terms": list(COHORT_EFFECT_TERMS), "min_cell": MIN_CELL_SIZE},
        )
    return disclosure.rounded(
        effects,
        {
            **dict.fromkeys(("estimate", "ci_low", "ci_high"), disclosure.EFFECT),
            "p_value": disclosure.P_VALUE,
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


PAIN_ROLLING_DAYS = 7
PAIN_ROLLING_MIN_CHECKINS = 3
"""The daily pain chart's rolling mean: the last 7 days' check-ins, shown with ≥ 3 of them."""


PERSON_EFFECT_TERMS = ("sleep_prev_night_h", "consistency_10pct")

_PERSON_SQL: dict[str, str] = {
    "days": """
        select pid, day, program_day, program_week, day_state, stretch_sessions,
               stretch_minutes, max_discomfort, breathing_share, stability_followup,
               steps, active_minutes, wear_state, sleep_minutes, pain, sleep_quality,
               stress, movement_confidence
        from marts.participant_day
        where pid = $pid
        order by day
    """,
    "weeks": """
        select pid, week, week_start, days_elapsed, week_complete, sessions, prescribed,
               adherence, days_practised, gentle_share, aggressive_sessions, breathing_share,
               stability_followup_share, mean_steps, active_minutes, valid_wear_days,
               mean_sleep_minutes, mean_pain, checkin_days, data_coverage
        from marts.participant_week
        where pid = $pid
        order by week
    """,
    "principles": """
        select *
        from marts.principles
        where pid = $pid
        order by week
    """,
    # Completed, rated stretch sessions on elapsed program days: the sessions the `gentle`
    # principle counts (a session after a withdrawal does not).
    "discomfort": """
        select s.discomfort, count(*) as sessions
        from marts.sessions as s
        join marts.participant_day as d on d.pid = s.pid and d.day = s.day
        where s.pid = $pid and d.pid = $pid
          and s.kind = 'stretch' and s.completed and s.discomfort is not null
          and d.day_state <> 'unknown'
        group by s.discomfort
        order by s.discomfort
    """,
    "outcome": """
        select *
        from marts.outcomes
        where pid = $pid
    """,
}

_PERSON_EFFECTS_SQL = """
    select e.term, e.estimate, e.ci_low, e.ci_high, e.n_obs,
           c.estimate as cohort_estimate, c.ci_low as cohort_ci_low,
           c.ci_high as cohort_ci_high, c.n_people as cohort_n_people
    from models.person_effects as e
    left join models.cohort_effects as c using (term)
    where e.pid = $pid
    order by e.term
"""


def person_panels(viewer: User | None, pid: str) -> dict[str, Any]:
    """Everything the Person page shows about one person, read in one short connection.

    Keys: `days` (marts.participant_day), `weeks` (marts.participant_week), `principles`
    (marts.principles), `discomfort` (completed rated stretch sessions per rating 0–10),
    `outcome` (the marts.outcomes row or None), `effects` (models.person_effects rows with
    the cohort estimate of the same term), `models_published` (False when the snapshot
    has no pain models) and `rules` (the snapshot's `ProgramRules`, read in the same
    connection). Every query is filtered by the bound pid.
    """
    snapshot = snapshot_identity()
    authorise_person(viewer, pid, snapshot)
    if snapshot is None:
        return {
            "days": pl.DataFrame(),
            "weeks": pl.DataFrame(),
            "principles": pl.DataFrame(),
            "discomfort": pl.DataFrame(schema={"discomfort": pl.Int32, "sessions": pl.Int64}),
            "outcome": None,
            "effects": pl.DataFrame(),
            "models_published": False,
            "rules": ProgramRules(),
        }
    return _person_panels(snapshot, pid)


@st.cache_data(show_spinner=False, max_entries=256)
def _person_panels(snapshot: SnapshotIdentity, pid: str) -> dict[str, Any]:
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        panels: dict[str, Any] = {
            name: connection.sql(sql, params={"pid": pid}).pl() for name, sql in _PERSON_SQL.items()
        }
        ((models_published,),) = connection.sql(
            """
            select count(*) = 2 from information_schema.tables
            where table_schema = 'models' and table_name in ('person_effects', 'cohort_effects')
            """
        ).fetchall()
        panels["models_published"] = bool(models_published)
        panels["effects"] = (
            connection.sql(_PERSON_EFFECTS_SQL, params={"pid": pid}).pl()
            if panels["models_published"]
            else pl.DataFrame()
        )
        panels["rules"] = read_recorded_rules(connection).rules
    finally:
        connection.close()
    outcome = panels["outcome"]
    panels["outcome"] = outcome.row(0, named=True) if outcome.height else None
    return panels


def person_days(viewer: User | None, pid: str) -> pl.DataFrame:
    """The person's `marts.participant_day` rows (one per program day), in order."""
    return person_panels(viewer, pid)["days"]


def person_weeks(viewer: User | None, pid: str) -> pl.DataFrame:
    """The person's `marts.participant_week` rows, in program-week order."""
    return person_panels(viewer, pid)["weeks"]


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


def longest_streak(days: pl.DataFrame, as_of: date) -> int:
    """The most consecutive `done` days up to `as_of`; a missed or unknown day ends a run."""
    longest = run = 0
    for state in days.filter(pl.col("day") <= as_of).sort("day")["day_state"].to_list():
        run = run + 1 if state == "done" else 0
        longest = max(longest, run)
    return longest


def elapsed_days(days: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Program days that happened and count: up to `as_of` and not unknown (not after withdrawal)."""
    if not days.height:
        return days
    return days.filter((pl.col("day") <= as_of) & (pl.col("day_state") != "unknown")).sort("day")


def wear_summary(days: pl.DataFrame, as_of: date) -> dict[str, int]:
    """Elapsed days by tracker state (worn / not worn / no data) and nights with sleep."""
    elapsed = elapsed_days(days, as_of)
    states = elapsed["wear_state"].to_list() if elapsed.height else []
    return {
        "days": elapsed.height,
        "worn": states.count("worn"),
        "not_worn": states.count("not_worn"),
        "no_data": states.count("no_data"),
        "sleep_nights": int(elapsed["sleep_minutes"].is_not_null().sum()) if elapsed.height else 0,
    }


def pain_trend(days: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Daily pain on elapsed days with the rolling mean of the last `PAIN_ROLLING_DAYS` days.

    Columns: day, program_week, pain, rolling_checkins, rolling_mean. The rolling mean is the
    mean of the check-ins in the 7 days ending that day (the day itself included), shown only
    with at least `PAIN_ROLLING_MIN_CHECKINS` of them; days without a check-in stay null.
    """
    elapsed = elapsed_days(days, as_of)
    if not elapsed.height:
        return pl.DataFrame(
            schema={
                "day": pl.Date,
                "program_week": pl.Int32,
                "pain": pl.Int32,
                "rolling_checkins": pl.UInt32,
                "rolling_mean": pl.Float64,
            }
        )
    window = f"{PAIN_ROLLING_DAYS}d"
    trend = elapsed.select("day", "program_week", "pain").with_columns(
        pl.col("pain")
        .is_not_null()
        .cast(pl.UInt32)
        .rolling_sum_by("day", window)
        .alias("rolling_checkins"),
        pl.col("pain").fill_null(0).cast(pl.Float64).rolling_sum_by("day", window).alias("_sum"),
    )
    return trend.with_columns(
        pl.when(pl.col("rolling_checkins") >= PAIN_ROLLING_MIN_CHECKINS)
        .then(pl.col("_sum") / pl.col("rolling_checkins"))
        .otherwise(None)
        .alias("rolling_mean")
    ).drop("_sum")


def weekly_pain(days: pl.DataFrame, as_of: date, rules: ProgramRules) -> pl.DataFrame:
    """Weekly mean pain as `marts.outcomes` uses it: elapsed days, weeks with at least
    `baseline_min_checkins` check-ins.

    Columns: program_week, week_start (first day), week_mid (day 4), mean_pain, checkin_days.
    """
    elapsed = elapsed_days(days, as_of)
    schema = {
        "program_week": pl.Int32,
        "week_start": pl.Date,
        "week_mid": pl.Date,
        "mean_pain": pl.Float64,
        "checkin_days": pl.UInt32,
    }
    if not elapsed.height:
        return pl.DataFrame(schema=schema)
    first_day = days.select(pl.col("day").min()).item()
    return (
        elapsed.group_by("program_week")
        .agg(
            pl.col("pain").mean().alias("mean_pain"),
            pl.col("pain").count().alias("checkin_days"),
        )
        .filter(pl.col("checkin_days") >= rules.baseline_min_checkins)
        .with_columns(
            week_start=pl.lit(first_day) + pl.duration(days=(pl.col("program_week") - 1) * 7),
        )
        .with_columns(week_mid=pl.col("week_start") + pl.duration(days=3))
        .select(list(schema))
        .cast(schema)
        .sort("program_week")
    )


def responder_threshold(pain_baseline: float | None, rules: ProgramRules) -> float | None:
    """The weekly mean pain at or below which a person is a pain responder.

    `pain_responder` needs a drop of at least `responder_pain_points` **and** at least
    `responder_pain_share` of baseline, so the line is
    baseline − max(responder_pain_points, responder_pain_share × baseline).
    """
    if pain_baseline is None:
        return None
    return pain_baseline - max(
        rules.responder_pain_points, rules.responder_pain_share * pain_baseline
    )


def effect_evidence(days: pl.DataFrame, weeks: pl.DataFrame, as_of: date) -> dict[str, Any]:
    """How much data a person has for each own-effect estimate, as the pain models count it.

    `paired_days`: elapsed days with both a pain check-in and the night's sleep (daily model);
    `model_weeks`: started weeks with weekly mean pain, adherence and mean steps (weekly
    model). `*_varies`: whether sleep / adherence differ at all across those rows.
    """
    elapsed = elapsed_days(days, as_of)
    if elapsed.height:
        paired = elapsed.filter(
            pl.col("pain").is_not_null() & pl.col("sleep_minutes").is_not_null()
        )
    else:
        paired = pl.DataFrame(schema={"sleep_minutes": pl.Int32})
    if weeks.height:
        model_weeks = weeks.filter(
            (pl.col("days_elapsed") > 0)
            & pl.col("mean_pain").is_not_null()
            & pl.col("adherence").is_not_null()
            & pl.col("mean_steps").is_not_null()
        )
    else:
        model_weeks = pl.DataFrame(schema={"adherence": pl.Float64})
    return {
        "paired_days": paired.height,
        "sleep_varies": paired["sleep_minutes"].n_unique() > 1,
        "model_weeks": model_weeks.height,
        "adherence_varies": model_weeks["adherence"].n_unique() > 1,
    }


# --- caseload (coaches) --------------------------------------------------------------------

SEVERITY_ORDER = ("alert", "warning", "info")
"""Flag severities, most urgent first (docs/metrics.md, Flags)."""

CASELOAD_ORDER_TEXT = (
    "most open alerts first, then most open warnings, then most open info flags; "
    "ties: active people first, then the longest since their last practice (never practised "
    "first), then pid"
)


def caseload(viewer: User | None) -> pl.DataFrame:
    """The coach's own participants, one row each, most in need of attention first.

    Only people whose `marts.participants.coach_id` is the viewer's coach id: the
    filter is a bound parameter here, so no page can ask for another coach's rows.
    Order: `CASELOAD_ORDER_TEXT`. Columns: pid, status, program_week_now,
    program_weeks, open_flags, alerts, warnings, infos, top_severity, flags (list of
    {flag, severity, since, evidence}, most severe first), last_practice, days_since_practice,
    weekly_adherence (completed weeks, in order), pain_baseline(_week), pain_latest(_week),
    pain_change, weekly_pain (weekly mean pain of weeks with at least `baseline_min_checkins`
    check-ins, in order).
    """
    viewer = authorise(viewer, "caseload")
    snapshot = snapshot_identity()
    if snapshot is None or viewer.coach_id is None:
        return pl.DataFrame(schema={"pid": pl.String, "status": pl.String})
    return _caseload(snapshot, viewer.coach_id)


@st.cache_data(show_spinner=False, max_entries=64)
def _caseload(snapshot: SnapshotIdentity, coach_id: str) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        with people as (
            select pid, status, program_week_now, program_weeks
            from marts.participants
            where coach_id = $coach_id
        ),
        open_flags as (
            select
                f.pid,
                count(*) as open_flags,
                count(*) filter (where f.severity = 'alert') as alerts,
                count(*) filter (where f.severity = 'warning') as warnings,
                count(*) filter (where f.severity = 'info') as infos,
                list(
                    {'flag': f.flag, 'severity': f.severity, 'since': f.since,
                     'evidence': f.evidence}
                    order by list_position($severities, f.severity), f.since, f.flag
                ) as flags
            from marts.flags as f
            join people using (pid)
            where f.is_open
            group by f.pid
        ),
        practice as (
            select d.pid, max(d.day) filter (where d.day_state = 'done') as last_practice
            from marts.participant_day as d
            join people using (pid)
            group by d.pid
        ),
        weeks as (
            select
                w.pid,
                list(w.adherence order by w.week)
                    filter (where w.week_complete and w.adherence is not null)
                    as weekly_adherence,
                list(w.mean_pain order by w.week)
                    filter (where w.mean_pain is not null and w.checkin_days >= $min_checkins)
                    as weekly_pain
            from marts.participant_week as w
            join people using (pid)
            group by w.pid
        ),
        joined as (
            select
                p.pid,
                p.status,
                p.program_week_now,
                p.program_weeks,
                coalesce(f.open_flags, 0) as open_flags,
                coalesce(f.alerts, 0) as alerts,
                coalesce(f.warnings, 0) as warnings,
                coalesce(f.infos, 0) as infos,
                case
                    when f.alerts > 0 then 'alert'
                    when f.warnings > 0 then 'warning'
                    when f.infos > 0 then 'info'
                end as top_severity,
                coalesce(f.flags, []) as flags,
                pr.last_practice,
                (select as_of from meta.snapshot) - pr.last_practice as days_since_practice,
                coalesce(w.weekly_adherence, []) as weekly_adherence,
                o.pain_baseline,
                o.pain_baseline_week,
                o.pain_latest,
                o.pain_latest_week,
                o.pain_change,
                coalesce(w.weekly_pain, []) as weekly_pain
            from people as p
            left join open_flags as f using (pid)
            left join practice as pr using (pid)
            left join weeks as w using (pid)
            left join marts.outcomes as o using (pid)
        )
        select * from joined
        order by alerts desc, warnings desc, infos desc, (status = 'active') desc,
                 days_since_practice desc nulls first, pid
        """,
        {
            "coach_id": coach_id,
            "severities": list(SEVERITY_ORDER),
            "min_checkins": _program_rules(snapshot).rules.baseline_min_checkins,
        },
    )


# --- identities (coaches: who each pid is) ------------------------------------------------

REVEAL_SETTING = "STEADYBACK_REVEAL_IDENTITIES_TO"
"""Environment variable: the roles besides coaches that see participant ids on the Person page.

Unset (the default): nobody but each person's own coach. The only role it may name is
`program_manager` (analysts have no page about one person).
"""
REVEALABLE_ROLES = ("program_manager",)

REVEALED_KEY = "identities_revealed"
"""Session-state key of the set the pages pass as `revealed` (emptied by logging out)."""


class IdentitiesUnavailable(Exception):
    """Participant ids cannot be shown now; the page shows pids only, with this message."""


def caseload_identities(
    viewer: User | None, revealed: MutableSet[tuple[str, Identity]]
) -> dict[str, Identity]:
    """pid → participant id and display name of each person in the coach's own caseload.

    Coaches only. Each person passes `authorise_person` first, and an identity is
    returned only when the identities file names the viewer as that person's coach
    too (a file left from an earlier run never shows someone to their former coach).
    Every identity returned is in the audit log (`_audit_reveal`).
    """
    viewer = authorise(viewer, "caseload")
    snapshot = snapshot_identity()
    if snapshot is None or viewer.coach_id is None:
        return {}
    pids = _caseload(snapshot, viewer.coach_id)["pid"].to_list()
    known = _identities()
    shown = {}
    for pid in pids:
        authorise_person(viewer, pid, snapshot)
        identity = known.get(pid)
        if identity is not None and identity.coach_id == viewer.coach_id:
            shown[pid] = identity
    _audit_reveal(viewer, "caseload", shown, revealed)
    return shown


def person_identity(
    viewer: User | None, pid: str, revealed: MutableSet[tuple[str, Identity]]
) -> Identity | None:
    """The person's participant id and display name, for their own coach; audited.

    None for an unknown pid, a person the identities file does not name, and any
    viewer who is not the person's coach — unless `REVEAL_SETTING` gives their
    role the ids.
    """
    snapshot = snapshot_identity()
    row = authorise_person(viewer, pid, snapshot)
    if row is None:
        return None
    if viewer.role != "coach" and viewer.role not in _revealed_to_roles():
        return None
    identity = _identities().get(pid)
    if identity is None or (viewer.role == "coach" and identity.coach_id != viewer.coach_id):
        return None
    _audit_reveal(viewer, "person", {pid: identity}, revealed)
    return identity


def search_caseload(
    people: pl.DataFrame, identities: Mapping[str, Identity], text: str
) -> pl.DataFrame:
    """The rows of `people` whose pid, participant id or display name contains `text`.

    Ignores case and surrounding blanks; an empty text keeps every row. It looks only
    at the rows it is given — a coach's own caseload — so a search for someone else
    finds nobody, exactly as for someone who does not exist.
    """
    needle = text.strip().casefold()
    if not needle:
        return people

    def found(pid: str) -> bool:
        identity = identities.get(pid)
        words = [pid] + ([identity.participant_id, identity.display_name or ""] if identity else [])
        return any(needle in word.casefold() for word in words)

    return people.filter(pl.col("pid").is_in([pid for pid in people["pid"] if found(pid)]))


def _revealed_to_roles() -> frozenset[str]:
    setting = os.environ.get(REVEAL_SETTING, "")
    roles = frozenset(role.strip() for role in setting.split(",") if role.strip())
    if not roles <= set(REVEALABLE_ROLES):
        raise IdentitiesUnavailable(
            f"Participant ids are not shown: {REVEAL_SETTING}={setting!r} may name only "
            f"{', '.join(REVEALABLE_ROLES)} (coaches always see their own caseload's). "
            "Ask an administrator to correct it."
        )
    return roles


def _identities() -> dict[str, Identity]:
    """The identities file, re-read only when it changed (path, mtime, size)."""
    path = DataDir.at(data_dir()).identities
    try:
        stat = path.stat()
        return _read_identities(str(path), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError as error:
        raise IdentitiesUnavailable(
            "Participant ids are not available yet: the next publishing run "
            "(`steadyback run`) writes them to access/identities.json in the data directory."
        ) from error
    except (OSError, IdentitiesError) as error:
        raise IdentitiesUnavailable(f"Participant ids cannot be shown: {error}") from error


@st.cache_data(show_spinner=False, max_entries=2)
def _read_identities(path: str, mtime_ns: int, size: int) -> dict[str, Identity]:
    return read_identities(Path(path))


def _audit_reveal(
    viewer: User,
    page: str,
    shown: Mapping[str, Identity],
    revealed: MutableSet[tuple[str, Identity]],
) -> None:
    """Log each identity this session has not been shown yet (`identity_shown`), then note it.

    Written before the page gets the identities: if the audit log cannot be written,
    nothing is shown. `revealed` is the session's memory, so reruns and coming back
    to a page log nothing new; a changed identity (say, a corrected display name) is
    logged again.
    """
    new = [(pid, identity) for pid, identity in shown.items() if (pid, identity) not in revealed]
    if not new:
        return
    try:
        audit.record_each(
            data_dir(),
            user=viewer.username,
            role=viewer.role,
            page=page,
            pids=[pid for pid, _ in new],
            outcome="identity_shown",
        )
    except OSError as error:
        raise IdentitiesUnavailable(
            f"Participant ids are not shown: the audit log cannot be written ({error})."
        ) from error
    revealed.update(new)


# --- data health (analysts) ----------------------------------------------------------------

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
    authorise(viewer, "data-health")
    return _run_history(str(DataDir.at(data_dir()).root), limit)


def forget_run_history(viewer: User | None) -> None:
    """Drop the cached run list so the next read sees runs that just finished."""
    authorise(viewer, "data-health")
    _run_history.clear()


@st.cache_data(show_spinner=False, ttl=RUN_HISTORY_TTL_S, max_entries=8)
def _run_history(root: str, limit: int):
    from dashboards.run_history import read_run_history

    return read_run_history(root, limit)


def _data_health_read(viewer: User | None, reader, *args) -> pl.DataFrame:
    authorise(viewer, "data-health")
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


@st.cache_data(show_spinner=False, max_entries=16)
def _source_files_by_source(snapshot: SnapshotIdentity) -> pl.DataFrame:
    files = _read(
        snapshot,
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
        """,
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


@st.cache_data(show_spinner=False, max_entries=16)
def _latest_data_days(snapshot: SnapshotIdentity) -> pl.DataFrame:
    streams = _read(
        snapshot,
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
        """,
        _source_people_params(stale=STALE_AFTER_DAYS),
    )
    return _hide_small_sources(streams, ("latest_day", "days_behind", "stale"))


def quarantined_files(viewer: User | None) -> pl.DataFrame:
    """Landing files that could not be read at all (`meta.source_files` status ≠ loaded)."""
    return _data_health_read(viewer, _quarantined_files)


@st.cache_data(show_spinner=False, max_entries=16)
def _quarantined_files(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select source, entity, file, status, error, rows_read, modified_at
        from meta.source_files
        where status <> 'loaded'
        order by source, file
        """,
    )


def ingest_issue_summary(viewer: User | None) -> pl.DataFrame:
    """`marts.ingest_issues` counted by source, action and severity (errors first)."""
    return _data_health_read(viewer, _ingest_issue_summary)


@st.cache_data(show_spinner=False, max_entries=16)
def _ingest_issue_summary(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select source, action, severity, count(*) as rows, count(distinct file) as files
        from marts.ingest_issues
        group by source, action, severity
        order by severity = 'error' desc, action, source
        """,
    )


def ingest_issues(viewer: User | None, limit: int = ISSUE_ROWS_SHOWN) -> pl.DataFrame:
    """The first `limit` rows of `marts.ingest_issues`: quarantined files and rows first,
    errors before warnings, then by source, file and line. Identifier values are
    already pseudonyms (the pipeline replaced them)."""
    return _data_health_read(viewer, _ingest_issues, limit)


@st.cache_data(show_spinner=False, max_entries=16)
def _ingest_issues(snapshot: SnapshotIdentity, limit: int) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select source, entity, file, line, field, value, reason, severity, action
        from marts.ingest_issues
        order by action in ('file quarantined', 'row quarantined') desc,
                 severity = 'error' desc, source, file, line, field
        limit $limit
        """,
        {"limit": limit},
    )


def check_results(viewer: User | None) -> pl.DataFrame:
    """`meta.check_results`: failures first (blocking before warnings), then by asset."""
    return _data_health_read(viewer, _check_results)


@st.cache_data(show_spinner=False, max_entries=16)
def _check_results(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return _read(
        snapshot,
        """
        select asset, check_name, passed, blocking, failing_rows, description
        from meta.check_results
        order by passed, blocking desc, asset, check_name
        """,
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


@st.cache_data(show_spinner=False, max_entries=16)
def _coverage_by_week(snapshot: SnapshotIdentity) -> pl.DataFrame:
    cells = _read(
        snapshot,
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
        """,
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
