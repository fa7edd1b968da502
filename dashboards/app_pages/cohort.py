"""Cohort overview for program managers: how consistently a cohort stretches, week by week."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, queries, session


def _people_count(count: int | None) -> str:
    return f"< {queries.MIN_CELL_SIZE}" if count is None else f"{count:,}"


viewer, snapshot = session.open_page("cohort", "Cohort")

all_cohorts = queries.cohort_filters(viewer)
selected = st.multiselect(
    "Cohort",
    all_cohorts,
    placeholder="All cohorts",
    help="Leave empty to see every cohort together.",
)
cohorts = selected or all_cohorts

headline = queries.cohort_headline(viewer, cohorts)
participants_column, active_column, adherent_column = st.columns(3)
participants_column.metric("Participants", _people_count(headline["participants"]))
active_column.metric("Active", _people_count(headline["active"]))
share = headline["adherent_week_share"]
adherent_column.metric(
    "Adherent weeks",
    "suppressed" if share is None else f"{share:.0%}",
    help=(
        f"Share of completed person-weeks with at least {queries.ADHERENT_WEEK_THRESHOLD:.0%} "
        "of the prescribed stretching sessions."
    ),
)

st.subheader("Adherence by program week")
st.caption(
    "Each person's weekly adherence is completed stretch sessions ÷ prescribed, capped at 100 %. "
    "The line is the median person, the band the middle half of people (25th–75th percentile); "
    f"the dashed line marks an adherent week ({queries.ADHERENT_WEEK_THRESHOLD:.0%}). "
    "Only completed weeks count — the week in progress is left out until it ends."
)

weeks = queries.adherence_by_week(viewer, cohorts)
shown = weeks.filter(~weeks["suppressed"])
hidden_weeks = weeks.filter(weeks["suppressed"])["week"].to_list()

if shown.height:
    st.plotly_chart(
        charts.adherence_by_week_figure(weeks, queries.ADHERENT_WEEK_THRESHOLD),
        width="stretch",
    )
else:
    st.info(
        f"Not enough completed weeks to show: every program week so far describes fewer than "
        f"{queries.MIN_CELL_SIZE} people in this selection.",
        icon="🔒",
    )

if hidden_weeks:
    st.caption(
        f"🔒 Suppressed: week{'s' if len(hidden_weeks) > 1 else ''} "
        f"{', '.join(str(week) for week in hidden_weeks)} — fewer than "
        f"{queries.MIN_CELL_SIZE} people have completed them, so they are not shown."
    )
st.caption(
    f"Privacy: any number describing fewer than {queries.MIN_CELL_SIZE} people is suppressed "
    "on this page."
)
