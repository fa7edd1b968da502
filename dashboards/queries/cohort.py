"""The Cohort page's reads (program managers and analysts): aggregates over whole atoms.

Cohort aggregates are computed only over whole atoms of people and with small cells, small
shares and excess precision removed in this module (`dashboards.disclosure`), not merely
hidden by a page. Query values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import polars as pl
import streamlit as st

from dashboards import disclosure
from dashboards.access import authorise
from dashboards.disclosure import MIN_CELL_SIZE
from dashboards.principles import PRINCIPLE_COLUMNS
from dashboards.snapshot import (
    Reader,
    SnapshotIdentity,
    read_sql,
    recorded_rules,
    snapshot_identity,
)
from pipelines.lib.rules import ProgramRules
from pipelines.lib.statistics.contract import (
    COHORT_SCHEMA,
    DOSE_RESPONSE_SCHEMA,
    RETENTION_SCHEMA,
)
from pipelines.lib.users import User

PAGE = "cohort"

# The cohort page's figures are computed for the people its filters select — resolved to whole
# atoms by `dashboards.disclosure` — and each shares one definition with the pipeline: a
# person's adherence is the mean of their completed weeks (as `models.dose_response`),
# dose–response bands and retention reuse `pipelines.lib.statistics`. Those modules load scipy
# (≈ 1 s), so they are imported on first use, not with this module. Thresholds are the
# snapshot's program rules (`snapshot.recorded_rules`).

COHORT_EFFECT_TERMS = (
    "sleep_prev_night_h",
    "consistency_10pct",
    "steps_1000",
    "consistency_10pct_between",
    "steps_1000_between",
    "week",
)
"""`models.cohort_effects` terms in the order the forest plot lists them."""

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
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return disclosure.Scope((), 0, False)
    return _scope(snapshot, _selection(selection))


@st.cache_data(show_spinner=False, max_entries=256)
def _scope(snapshot: SnapshotIdentity, selection: CohortSelection) -> disclosure.Scope:
    return disclosure.resolve(
        _roster_atoms(snapshot), selection.cohorts, selection.sites, selection.enrolment_months
    )


_ROSTER_CELLS_SQL = """
select cohort, site, strftime(enrolled_on, '%Y-%m') as month, count(*) as people
from marts.participants
group by all
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _roster_atoms(snapshot: SnapshotIdentity) -> tuple[disclosure.Atom, ...]:
    cells = read_sql(
        snapshot,
        _ROSTER_CELLS_SQL,
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


def _selection_panel(
    viewer: User | None,
    selection: CohortSelection | None,
    name: str,
    empty: Callable[[], pl.DataFrame] = pl.DataFrame,
) -> pl.DataFrame:
    """One of `_selection_panels` for an authorised viewer; `empty()` without a snapshot.

    A panel's columns come from its computation over the snapshot (its SQL, on zero rows too).
    Without a snapshot, a panel of `models.*` columns is empty with the contract's columns
    (`pipelines.lib.statistics.contract`); any other is an empty frame without columns.
    """
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return empty()
    return _selection_panels(snapshot, _scope(snapshot, _selection(selection)))[name]


@st.cache_data(show_spinner=False, max_entries=64)
def _selection_panels(snapshot: SnapshotIdentity, scope: disclosure.Scope) -> dict[str, Any]:
    """Every cohort panel that depends on the selection alone, suppressed and rounded, by name.

    Keyed by the scope, not the filters: selections that cover the same atoms share it.
    """
    rules = recorded_rules(snapshot).rules
    with Reader(snapshot) as read:
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
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return {"cohort": [], "site": [], "enrolment_month": []}
    return _cohort_filter_options(snapshot)


_FILTER_OPTIONS_SQL = """
select
    list(distinct cohort order by cohort) filter (where cohort is not null) as cohort,
    list(distinct site order by site) filter (where site is not null) as site,
    list(distinct strftime(enrolled_on, '%Y-%m') order by strftime(enrolled_on, '%Y-%m'))
        filter (where enrolled_on is not null) as enrolment_month
from marts.participants
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _cohort_filter_options(snapshot: SnapshotIdentity) -> dict[str, list[str]]:
    rows = read_sql(
        snapshot,
        _FILTER_OPTIONS_SQL,
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
    authorise(viewer, PAGE)
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


_HEADLINE_SQL = (
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
"""
)


def _cohort_headline(read: Reader, scope: disclosure.Scope, rules: ProgramRules) -> dict[str, Any]:
    row = read(
        _HEADLINE_SQL,
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
    return _selection_panel(viewer, selection, "adherence_by_week")


_ADHERENCE_BY_WEEK_SQL = (
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
"""
)


def _adherence_by_week(read: Reader, scope: disclosure.Scope, rules: ProgramRules) -> pl.DataFrame:
    weeks = read(
        _ADHERENCE_BY_WEEK_SQL,
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
    )


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
    return _selection_panel(viewer, selection, "pain_by_adherence_band")


_PAIN_BY_BAND_SQL = (
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
"""
)


def _pain_by_adherence_band(
    read: Reader, scope: disclosure.Scope, rules: ProgramRules
) -> pl.DataFrame:
    from pipelines.lib.statistics.dose_response import bands

    rows = read(
        _PAIN_BY_BAND_SQL,
        _selected_params(scope, min_checkins=rules.baseline_min_checkins, **_band_params(rules)),
    )
    intervals = [
        _t_interval(mean, sd, n)
        for mean, sd, n in rows.select("mean_pain", "sd_pain", "n_people").iter_rows()
    ]
    labels = {order: band.label for order, band in enumerate(bands(rules), start=1)}
    shown = pl.col("n_people") >= MIN_CELL_SIZE
    return disclosure.rounded(
        rows.with_columns(
            # an interval has the type of the mean it is around
            pl.Series("ci_low", [low for low, _ in intervals], dtype=rows.schema["mean_pain"]),
            pl.Series("ci_high", [high for _, high in intervals], dtype=rows.schema["mean_pain"]),
        ).select(
            "band_order",
            pl.col("band_order").replace_strict(labels, return_dtype=pl.String).alias("band"),
            "week",
            *(
                pl.when(shown).then(pl.col(name)).alias(name)
                for name in ("n_people", "mean_pain", "ci_low", "ci_high")
            ),
            (~shown).alias("suppressed"),
        ),
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
    authorise(viewer, PAGE)
    if rows not in HEATMAP_ROWS:
        raise ValueError(f"rows must be one of {', '.join(HEATMAP_ROWS)}")
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()
    return _principles_by_group(snapshot, _scope(snapshot, _selection(selection)), rows)


_PRINCIPLES_BY_GROUP_SQL = (
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
"""
)


@st.cache_data(show_spinner=False, max_entries=64)
def _principles_by_group(
    snapshot: SnapshotIdentity, scope: disclosure.Scope, rows: str
) -> pl.DataFrame:
    frame = read_sql(
        snapshot,
        _PRINCIPLES_BY_GROUP_SQL,
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
        .select(frame.columns)
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


_DOSE_RESPONSE_PEOPLE_SQL = (
    _SELECTED_PEOPLE
    + """
select a.mean_adherence, o.pain_change
from marts.outcomes as o
join selected using (pid)
join person_adherence as a using (pid)
where o.pain_change is not null
"""
)


def _dose_response(read: Reader, scope: disclosure.Scope, rules: ProgramRules) -> pl.DataFrame:
    from pipelines.lib.statistics.dose_response import dose_response as fit_dose_response

    people = read(
        _DOSE_RESPONSE_PEOPLE_SQL,
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


_RETENTION_BY_WEEK_SCHEMA = {
    "week": pl.Int64,
    "day": RETENTION_SCHEMA["days_since_enrolment"],
    **{name: RETENTION_SCHEMA[name] for name in ("at_risk", "still_engaged", "ci_low", "ci_high")},
    "suppressed": pl.Boolean,
    "share_suppressed": pl.Boolean,
}
"""The program-week grid's own columns, and `models.retention`'s read at the end of each week."""


def _empty_retention() -> pl.DataFrame:
    return pl.DataFrame(schema=_RETENTION_BY_WEEK_SCHEMA)


_RETENTION_SPELLS_SQL = (
    _SELECTED_PEOPLE
    + """
select
    e.days,
    e.disengaged,
    (select max(program_weeks) from selected) as program_weeks
from marts.engagement_spells as e
semi join selected as s using (pid)
"""
)


def _retention_by_week(read: Reader, scope: disclosure.Scope) -> pl.DataFrame:
    from pipelines.lib.statistics.retention import kaplan_meier

    # the selected people's rows of `marts.engagement_spells`, the spell rule's one definition
    spells = read(
        _RETENTION_SPELLS_SQL,
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
        pl.DataFrame(out, schema=_RETENTION_BY_WEEK_SCHEMA),
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
    return _selection_panel(viewer, selection, "data_coverage")


_DATA_COVERAGE_SQL = (
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
"""
)


def _data_coverage(read: Reader, scope: disclosure.Scope) -> pl.DataFrame:
    weeks = read(
        _DATA_COVERAGE_SQL,
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
    )


def cohort_effects(viewer: User | None) -> pl.DataFrame:
    """`models.cohort_effects` — fitted on the whole program; the page's filters do not apply.

    Columns: term, estimate, ci_low, ci_high, p_value, n_people, n_obs, unit, model, in the
    order of `COHORT_EFFECT_TERMS` (other terms after). Estimates and intervals are rounded
    to `disclosure.EFFECT`, p-values to `disclosure.P_VALUE`. A term resting on fewer than
    `MIN_CELL_SIZE` people has null numbers (suppressed).
    """
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return _empty_cohort_effects()
    return _cohort_effects(snapshot)


def _empty_cohort_effects() -> pl.DataFrame:
    return pl.DataFrame(schema={**COHORT_SCHEMA, "suppressed": pl.Boolean})


_COHORT_EFFECTS_PUBLISHED_SQL = """
select count(*) as n from information_schema.tables
where table_schema = 'models' and table_name = 'cohort_effects'
"""


_COHORT_EFFECTS_SQL = """
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
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _cohort_effects(snapshot: SnapshotIdentity) -> pl.DataFrame:
    with Reader(snapshot) as read:
        tables = read(_COHORT_EFFECTS_PUBLISHED_SQL)
        if not tables["n"][0]:  # a snapshot published without the statistics step
            return _empty_cohort_effects()
        effects = read(
            _COHORT_EFFECTS_SQL,
            {"terms": list(COHORT_EFFECT_TERMS), "min_cell": MIN_CELL_SIZE},
        )
    return disclosure.rounded(
        effects,
        {
            **dict.fromkeys(("estimate", "ci_low", "ci_high"), disclosure.EFFECT),
            "p_value": disclosure.P_VALUE,
        },
    )
