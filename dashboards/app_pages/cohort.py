"""Cohort overview for program managers and analysts: how the selected people practise, feel and
stay engaged. Selections cover whole atoms of people and small numbers are suppressed
(`dashboards.disclosure`, applied in `dashboards.queries`)."""

from __future__ import annotations

from datetime import date

import polars as pl
import streamlit as st

from dashboards import charts, disclosure, icons, session
from dashboards.figures import figure_row
from dashboards.principles import PRINCIPLE_COLUMNS, PRINCIPLES
from dashboards.queries import cohort as queries
from dashboards.queries.program_rules import program_rules
from pipelines.lib.rules import percent_text
from pipelines.lib.users import User

MIN_CELL = disclosure.MIN_CELL_SIZE
SUPPRESSED = "suppressed"

NOBODY = "Nobody on the roster matches these filters: widen them to see figures."
POOLED_ONLY = (
    f"The people these filters match are in groups of fewer than {MIN_CELL} people (by cohort "
    "× site × enrolment month) that are pooled with people the filters leave out, so no figure "
    "can be shown for them alone. Widen the filters — whole cohorts, sites or months — to see "
    "figures."
)
LEFT_OUT = (
    "Some people these filters match are left out of the figures below: their cohort × site × "
    f"enrolment-month group has fewer than {MIN_CELL} people and is pooled with people the "
    "filters leave out. A pool counts only when the filters take it in whole, so that no two "
    f"selections differ by fewer than {MIN_CELL} people."
)
PRIVACY_NOTE = (
    f"Privacy: figures cover whole groups of at least {MIN_CELL} people (a cohort × site × "
    "enrolment month, or a pool of smaller ones), so no two selections differ by fewer than "
    f"{MIN_CELL} people. A number describing 1–{MIN_CELL - 1} people is suppressed (head counts "
    f"show “< {MIN_CELL}”; shares with 1–{MIN_CELL - 1} people on either side, chart points and "
    "heat-map cells are left out), and every number is rounded as shown — in the CSVs too."
)


def _people_count(count: int | None) -> str:
    return f"< {MIN_CELL}" if count is None else f"{count:,}"


def _share(value: float | None) -> str:
    return SUPPRESSED if value is None else f"{value:{disclosure.SHARE.format}}"


def _month_label(month: str) -> str:
    return f"{date.fromisoformat(f'{month}-01'):%B %Y}"


def _csv_button(frame: pl.DataFrame, name: str) -> None:
    """Download of exactly the table a panel shows (after suppression; never a pid)."""
    st.download_button(
        "Download this table (CSV)",
        frame.write_csv().encode(),
        file_name=f"cohort-{name}.csv",
        mime="text/csv",
        key=f"csv-{name}",
        on_click="ignore",
        icon=":material/download:",
    )


def _suppressed_note(count: int, what: str) -> None:
    if count:
        st.caption(
            f"{icons.SUPPRESSED} {count} {what} left out: fewer than {MIN_CELL} people, so not shown."
        )


viewer, snapshot = session.open_page("cohort", "Cohort")
# the rules the snapshot was built with: every definition below is written with them
rules = program_rules(viewer).rules

# --- filters -----------------------------------------------------------------------------

options = queries.cohort_filter_options(viewer)
cohort_column, site_column, month_column = st.columns(3)
selection = queries.CohortSelection(
    cohorts=tuple(
        cohort_column.multiselect(
            "Cohort",
            options["cohort"],
            placeholder="All cohorts",
            help="Leave empty to see every cohort together.",
            key="cohort_filter",
        )
    ),
    sites=tuple(
        site_column.multiselect(
            "Site",
            options["site"],
            placeholder="All sites",
            help="Leave empty for every site.",
            key="site_filter",
        )
    ),
    enrolment_months=tuple(
        month_column.multiselect(
            "Enrolment month",
            options["enrolment_month"],
            format_func=_month_label,
            placeholder="All months",
            help="The month people enrolled in. Leave empty for every month.",
            key="month_filter",
        )
    ),
)

# --- headline ----------------------------------------------------------------------------


def _over(headline: dict, key: str, who: str) -> str:
    people = headline[f"{key}_people"]
    if people is None:
        return f" Suppressed: fewer than {MIN_CELL} {who} in this selection."
    return f" Computed over {people:,} {who}."


def _retention_definition(headline: dict) -> str:
    week, people = headline["retention_week"], headline["retention_people"]
    if week is None:
        return (
            "Estimated share still engaged (Kaplan–Meier): not enough people followed to the "
            f"end of a program week — fewer than {MIN_CELL}."
        )
    definition = (
        f"Estimated share still engaged at the end of program week {week} (Kaplan–Meier, see "
        f"the retention chart): someone disengages when {rules.disengagement_gap_days} days in "
        "a row pass without any completed session. "
        f"{people:,} people were still followed at that point."
    )
    if headline["retention"] is None:
        definition += (
            f" Suppressed: fewer than {MIN_CELL} people on one side of this share (disengaged, "
            "or still engaged)."
        )
    return definition


def show_headline(viewer: User, selection: queries.CohortSelection) -> None:
    headline = queries.cohort_headline(viewer, selection)
    headline_rows = [
        (
            "Enrolled",
            _people_count(headline["enrolled"]),
            headline["enrolled"],
            "People on the program roster in this selection, whatever their status "
            "(active, completed, withdrawn or not started yet).",
        ),
        (
            "Active",
            SUPPRESSED if headline["active"] is None else f"{headline['active']:,}",
            headline["active"],
            "People in their program now: enrolled, not withdrawn, and with program days still "
            f"to come. Suppressed when 1 to {MIN_CELL - 1} of the selected people are active, "
            "or are not.",
        ),
        (
            "Adherent this week",
            _share(headline["adherent_this_week"]),
            headline["adherent_this_week_people"],
            f"Share of active people whose latest completed program week had at least "
            f"{percent_text(rules.adherent_share)} of their prescribed stretching sessions. Program weeks "
            "start on "
            "each person's enrolment weekday; the week in progress counts once it ends."
            + _over(headline, "adherent_this_week", "active people with a completed week"),
        ),
        (
            "Median adherence",
            _share(headline["median_adherence"]),
            headline["median_adherence_people"],
            "The middle person's adherence, where a person's adherence is the mean over their "
            "completed program weeks of sessions done ÷ prescribed (capped at 100 %)."
            + _over(headline, "median_adherence", "people with a completed week"),
        ),
        (
            "Pain responders",
            _share(headline["responders"]),
            headline["responders_people"],
            f"Share of people whose weekly pain fell by at least {rules.responder_pain_points:g} "
            f"points and at least {percent_text(rules.responder_pain_share)} from their "
            "baseline week to their latest week (each a weekly mean of ≥ "
            f"{rules.baseline_min_checkins} check-ins)."
            + _over(headline, "responders", "people with both a baseline and a latest pain week"),
        ),
        (
            "Retention",
            _share(headline["retention"]),
            headline["retention_people"],
            _retention_definition(headline),
        ),
    ]
    figures = figure_row()
    for label, value, _, definition in headline_rows:
        figures.metric(label, value, help=definition)
    _csv_button(
        pl.DataFrame(
            {
                "measure": [label for label, *_ in headline_rows],
                "value": [value for _, value, _, _ in headline_rows],
                "people": [people for _, _, people, _ in headline_rows],
                "definition": [definition for *_, definition in headline_rows],
            },
            schema={
                "measure": pl.String,
                "value": pl.String,
                "people": pl.Int64,
                "definition": pl.String,
            },
        ),
        "headline",
    )
    st.caption(PRIVACY_NOTE)


# --- adherence by week -------------------------------------------------------------------


def show_adherence_by_week(viewer: User, selection: queries.CohortSelection) -> None:
    st.subheader("Adherence by program week")
    st.caption(
        "Each person's weekly adherence is completed stretch sessions ÷ prescribed, capped at "
        "100 %. The line is the median person, the band the middle half of people (25th–75th "
        f"percentile); the dashed line marks an adherent week ({percent_text(rules.adherent_share)}). "
        "Only completed weeks count — the week in progress is left out until it ends."
    )
    weeks = queries.adherence_by_week(viewer, selection)
    hidden_weeks = weeks.filter(weeks["suppressed"])["week"].to_list()
    if weeks.filter(~weeks["suppressed"]).height:
        st.plotly_chart(
            charts.adherence_by_week_figure(weeks, rules.adherent_share), width="stretch"
        )
    else:
        st.info(
            "Not enough completed weeks to show: every program week so far describes fewer "
            f"than {MIN_CELL} people in this selection.",
            icon=icons.SUPPRESSED,
        )
    if hidden_weeks:
        st.caption(
            f"{icons.SUPPRESSED} Suppressed: week{'s' if len(hidden_weeks) > 1 else ''} "
            f"{', '.join(str(week) for week in hidden_weeks)} — fewer than "
            f"{MIN_CELL} people have completed them, so they are not shown."
        )
    _csv_button(weeks, "adherence-by-week")


# --- pain by adherence band --------------------------------------------------------------


def show_pain_by_adherence_band(viewer: User, selection: queries.CohortSelection) -> None:
    from pipelines.lib.statistics.dose_response import bands

    st.subheader("Pain by adherence band")
    st.caption(
        "People are grouped by their mean adherence over completed weeks "
        f"({', '.join(band.label for band in bands(rules))}). Each point is the band's mean "
        "weekly pain (0–10) in that program week, with its 95 % confidence interval; a "
        "person-week counts when the week is complete and has at least "
        f"{rules.baseline_min_checkins} pain check-ins. Descriptive: people choose how much "
        "they practise, so this is not proof that practice lowers pain."
    )
    pain_bands = queries.pain_by_adherence_band(viewer, selection)
    if pain_bands.filter(~pl.col("suppressed")).height:
        st.plotly_chart(charts.pain_by_band_figure(pain_bands), width="stretch")
    else:
        st.info(
            f"No band has a program week with {MIN_CELL} or more people's weekly pain in this "
            "selection yet.",
            icon=icons.SUPPRESSED,
        )
    _suppressed_note(pain_bands["suppressed"].sum(), "band-weeks")
    _csv_button(pain_bands, "pain-by-adherence-band")


# --- the seven principles ----------------------------------------------------------------


def show_principles(viewer: User, selection: queries.CohortSelection) -> None:
    st.subheader("The seven principles")
    st.caption(
        "Each principle is scored 0–100 % per person-week (100 % = the target met in full); a "
        "cell is the mean over the completed weeks of the people in that row. Grey cells: "
        f"suppressed (fewer than {MIN_CELL} people) or no data — hover to see which. Rows are "
        "whole groups of the selection: people whose small groups are pooled across cohorts or "
        "sites are a row “several cohorts” or “several sites” of their own."
    )
    rows = st.radio(
        "Rows",
        list(queries.HEATMAP_ROWS),
        format_func=queries.HEATMAP_ROWS.get,
        horizontal=True,
        key="principles_rows",
    )
    principles = queries.principles_by_group(viewer, selection, rows)
    names = {column: PRINCIPLES.get(column, column) for column in PRINCIPLE_COLUMNS}
    if principles.filter(pl.col("mean_score").is_not_null()).height:
        st.plotly_chart(
            charts.principles_by_group_figure(principles, names, MIN_CELL), width="stretch"
        )
    else:
        st.info(
            f"No principle score describes {MIN_CELL} or more people with a completed week in "
            "this selection yet.",
            icon=icons.SUPPRESSED,
        )
    _suppressed_note(principles["suppressed"].sum(), "cells")
    _csv_button(
        principles.with_columns(
            pl.col("principle")
            .replace_strict(names, return_dtype=pl.String)
            .alias("principle_name")
        ).select("group", "principle", "principle_name", "n_people", "mean_score", "suppressed"),
        "principles",
    )


# --- dose-response and retention ---------------------------------------------------------


def show_dose_response_and_retention(viewer: User, selection: queries.CohortSelection) -> None:
    dose_column, retention_column = st.columns(2)
    with dose_column:
        st.subheader("Dose–response")
        st.caption(
            "Mean change in weekly pain from each person's baseline week to their latest week "
            "(below 0 = less pain), by mean adherence over completed weeks, with 95 % confidence "
            "intervals. Descriptive, not causal."
        )
        dose = queries.dose_response(viewer, selection)
        if dose.filter(pl.col("mean_pain_change").is_not_null()).height:
            st.plotly_chart(charts.dose_response_figure(dose), width="stretch")
        else:
            st.info(
                f"No adherence band has {MIN_CELL} or more people with a pain change in this "
                "selection.",
                icon=icons.SUPPRESSED,
            )
        _suppressed_note(dose["suppressed"].sum(), "bands")
        _csv_button(dose, "dose-response")

    with retention_column:
        st.subheader("Retention")
        st.caption(
            "Estimated share of people still engaged at the end of each program week "
            "(Kaplan–Meier, with its 95 % band). Someone disengages on the first of "
            f"{rules.disengagement_gap_days} days in a row without any completed session; people "
            "are followed until their program ends, they withdraw, or the data date."
        )
        retention = queries.retention_by_week(viewer, selection)
        if retention.filter(pl.col("still_engaged").is_not_null()).height:
            st.plotly_chart(charts.retention_figure(retention), width="stretch")
        else:
            st.info(
                f"Fewer than {MIN_CELL} people in this selection have started.",
                icon=icons.SUPPRESSED,
            )
        hidden_shares = retention.filter(~pl.col("suppressed") & pl.col("share_suppressed"))
        if hidden_shares.height:
            weeks = hidden_shares["week"].to_list()
            st.caption(
                f"{icons.SUPPRESSED} Week{'s' if len(weeks) > 1 else ''} {', '.join(map(str, weeks))}: the share "
                f"is not shown — fewer than {MIN_CELL} people on one side of it (disengaged, or "
                "still engaged)."
            )
        hidden_retention = retention.filter(pl.col("suppressed"))["week"].to_list()
        if hidden_retention:
            st.caption(
                f"{icons.SUPPRESSED} From week {hidden_retention[0]} on, fewer than {MIN_CELL} people are still "
                "followed, so the curve stops there."
            )
        _csv_button(retention, "retention")


# --- data coverage -----------------------------------------------------------------------


def show_data_coverage(viewer: User, selection: queries.CohortSelection) -> None:
    st.subheader("Data coverage")
    st.caption(
        "Share of elapsed program days (up to the data date, before any withdrawal) with a "
        "daily check-in, and — among people with a tracker — with the tracker worn and a night "
        "of sleep recorded. Low coverage makes every other chart rest on fewer people."
    )
    coverage = queries.data_coverage(viewer, selection)
    if coverage.filter(~pl.col("suppressed")).height:
        st.plotly_chart(charts.data_coverage_figure(coverage), width="stretch")
    else:
        st.info(
            f"Fewer than {MIN_CELL} people in this selection have started.", icon=icons.SUPPRESSED
        )
    _suppressed_note(coverage["suppressed"].sum(), "weeks")
    _suppressed_note(
        (coverage["tracker_suppressed"] & ~coverage["suppressed"]).sum(),
        "weeks of tracker data (too few tracker wearers)",
    )
    _csv_button(coverage, "data-coverage")


# --- the selection ---------------------------------------------------------------------

scope = queries.cohort_scope(viewer, selection)
if scope.refused:
    st.warning(POOLED_ONLY if scope.left_out else NOBODY, icon=icons.NOT_FOUND)
else:
    if scope.left_out:
        st.info(LEFT_OUT, icon=icons.SUPPRESSED)
    show_headline(viewer, selection)
    show_adherence_by_week(viewer, selection)
    show_pain_by_adherence_band(viewer, selection)
    show_principles(viewer, selection)
    show_dose_response_and_retention(viewer, selection)
    show_data_coverage(viewer, selection)

# --- cohort effects (whole program) ------------------------------------------------------

st.subheader("What goes with less pain — whole program")
st.caption(
    "**Whole program — the filters above do not apply.** Estimates of the program's pain "
    "models (`models.cohort_effects`) with 95 % confidence intervals. “Than usual” compares a "
    "person with their own average; “people who…” compares people with each other, which "
    "other differences between them can also explain. Associations, not proof of cause."
)
effects = queries.cohort_effects(viewer)
effects = effects.with_columns(
    pl.struct("term", "estimate", "unit")
    .map_elements(
        lambda row: charts.effect_sentence(row["term"], row["estimate"], row["unit"]),
        return_dtype=pl.String,
    )
    .alias("sentence")
)
if effects.filter(pl.col("estimate").is_not_null()).height:
    st.plotly_chart(charts.cohort_effects_figure(effects), width="stretch")
else:
    st.info(
        "The pain models have no estimates in this snapshot (too little data to fit them).",
        icon=icons.NOTHING_YET,
    )
not_estimated = effects.filter(pl.col("estimate").is_null())["sentence"].to_list()
if not_estimated:
    st.caption(
        f"{'; '.join(not_estimated)} — too little data to fit, or fewer than {MIN_CELL} people."
    )
_csv_button(
    effects.select(
        "term", "sentence", "estimate", "ci_low", "ci_high", "p_value", "n_people", "n_obs", "unit"
    ),
    "cohort-effects",
)
