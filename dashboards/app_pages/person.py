"""One participant for their coach: which days they stretched, and how each week compares."""

from __future__ import annotations

import streamlit as st

from dashboards import charts, queries, session

viewer, snapshot = session.open_page("person", "Person")

everyone = queries.people(viewer)
pids = everyone["pid"].to_list()
labels = {
    row["pid"]: f"{row['pid'][:12]} · {row['cohort']} · coach {row['coach_id']} · {row['status']}"
    for row in everyone.iter_rows(named=True)
}

requested = st.query_params.get("pid")
if requested is not None and requested not in labels:
    try:
        known = queries.authorise_person(viewer, requested)
    except queries.AccessDenied as denied:
        session.audit_person_view(viewer, "person", requested, outcome="denied")
        st.error(str(denied), icon="🚫")
        st.stop()
    if known is None:
        st.error(f"No participant with pid `{requested}` in the published snapshot.", icon="🔎")

chosen = st.selectbox(
    "Participant",
    pids,
    index=pids.index(requested) if requested in labels else None,
    format_func=labels.get,
    placeholder="Choose a participant",
)
if chosen is None:
    st.info("Choose a participant to see their program calendar.")
    st.stop()
if chosen != requested:
    st.query_params["pid"] = chosen

try:
    participant = queries.person(viewer, chosen)
except queries.AccessDenied as denied:
    session.audit_person_view(viewer, "person", chosen, outcome="denied")
    st.error(str(denied), icon="🚫")
    st.stop()
session.audit_person_view(viewer, "person", chosen)
as_of = snapshot["as_of"]
days = queries.person_days(viewer, chosen)
weeks = queries.person_weeks(viewer, chosen)

week_now = participant["program_week_now"]
st.caption(
    f"Cohort **{participant['cohort']}** · site {participant['site']} · coach "
    f"{participant['coach_id']} · enrolled {participant['enrolled_on']} · "
    f"{participant['status'].replace('_', ' ')}"
    + (f" · program week {week_now} of {participant['program_weeks']}" if week_now else "")
)

counts = queries.day_counts(days, as_of)
done_column, missed_column, unknown_column, streak_column = st.columns(4)
done_column.metric("Days done", counts["done"], help="At least one completed stretch session.")
missed_column.metric("Days missed", counts["missed"], help="Data for the day, but no stretching.")
unknown_column.metric(
    "Days unknown",
    counts["unknown"],
    help="Days that have happened but have no data; never counted as missed.",
)
streak_column.metric(
    "Current streak",
    f"{queries.current_streak(days, as_of)} d",
    help="Consecutive days done up to the latest day; today does not break it until it is over.",
)

st.subheader("Program calendar")
if days.height:
    st.caption(
        "One row per program week, one column per day of it (program weeks start on the "
        "enrolment weekday). Green: stretched; orange-red: data but no stretching; grey: no "
        f"data; light: after {as_of}. Hover a day for its sessions and pain."
    )
    st.plotly_chart(charts.calendar_figure(days, as_of), width="stretch")
else:
    st.info("No program days for this participant yet.")

st.subheader("Sessions per week")
if weeks.filter(weeks["days_elapsed"] > 0).height:
    st.plotly_chart(charts.weekly_sessions_figure(weeks), width="stretch")
else:
    st.info("The program has not started for this participant.")
