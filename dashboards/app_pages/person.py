"""One participant for their coach (or a program manager): practice, pain, sleep and activity.

`/person?pid=…`. A coach sees only their own caseload; anyone else's pid — by URL or
otherwise — is "not in your caseload" and nothing about that person is read. Every person
shown, refused or reported on is written to the audit log. Their coach also sees the
program's participant id and display name (`queries.person_identity`, audited); the
printable report names the person by pid only.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import polars as pl
import streamlit as st

from dashboards import access, charts, icons, person_metrics, report, risk_bands, session
from dashboards import chart_style as style
from dashboards.figures import figure_row
from dashboards.person_summary import Wear, person_summary
from dashboards.principles import PRINCIPLES
from dashboards.queries import person as queries
from dashboards.queries.identities import REVEAL_SETTING, REVEALED_KEY, IdentitiesUnavailable
from dashboards.snapshot import data_dir
from pipelines.lib import audit
from pipelines.lib.rules import ProgramRules, percent_text
from pipelines.lib.statistics.early_warning import BANDS, LOW
from pipelines.lib.users import User

PID_KEY = "person_pid"
# Characters that make markdown of text; a roster's display name is shown as plain text.
MARKDOWN_SYNTAX = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$=])")
URL_PID_KEY = "_person_url_pid"
EFFECT_LABELS = {
    "sleep_prev_night_h": "Sleep +1 h → next-day pain",
    "consistency_10pct": "Practice +10 % → weekly pain",
}


def _literal(text: str) -> str:
    return MARKDOWN_SYNTAX.sub(r"\\\1", text)


def _record_report(viewer: User, pid: str) -> None:
    """Download callback: the report was handed out (on top of the view already logged)."""
    audit.record(
        data_dir(),
        user=viewer.username,
        role=viewer.role,
        page="person",
        pid=pid,
        outcome="report",
    )


def _effect_sentence(row: dict[str, Any]) -> str:
    estimate, low, high = row["estimate"], row["ci_low"], row["ci_high"]
    direction = "lower" if estimate < 0 else "higher"
    if row["term"] == "sleep_prev_night_h":
        sentence = (
            f"**Sleep and next-day pain.** On days after a night with one hour more sleep than "
            f"usual for them, their pain was **{abs(estimate):.2f} points {direction}** "
            f"(95 % interval {low:+.2f} to {high:+.2f}; {row['n_obs']} days with both a "
            "check-in and a recorded night)."
        )
    else:
        sentence = (
            f"**Practice and weekly pain.** In weeks when they completed 10 percentage points "
            f"more of their prescribed sessions than usual, their weekly pain was "
            f"**{abs(estimate):.2f} points {direction}** (95 % interval {low:+.2f} to "
            f"{high:+.2f}; {row['n_obs']} weeks with pain, practice and steps)."
        )
    if low <= 0 <= high:
        sentence += " The interval includes no change at all, so this may be chance."
    cohort = row["cohort_estimate"]
    if cohort is not None and abs(cohort - estimate) < 1e-9:
        sentence += (
            " This equals the whole program's estimate: the model found no differences between "
            "people worth estimating, so everyone gets the program's answer."
        )
    elif cohort is not None:
        sentence += f" Whole program: {cohort:+.2f}."
    return sentence


def _missing_effect_reason(
    term: str, evidence: dict[str, Any], models_published: bool, rules: ProgramRules
) -> str:
    if not models_published:
        return "The pain models are not in this snapshot (the statistics step did not run)."
    if term == "sleep_prev_night_h":
        have, need = evidence["paired_days"], rules.person_min_paired_days
        what = "days with both a pain check-in and a recorded night's sleep"
        varies = evidence["sleep_varies"]
        name, varied = "Sleep and next-day pain", "sleep"
    else:
        have, need = evidence["model_weeks"], rules.person_min_weeks
        what = "weeks with a weekly pain mean, practice and a worn tracker (steps)"
        varies = evidence["adherence_varies"]
        name, varied = "Practice and weekly pain", "weekly practice"
    if have < need:
        return f"**{name}:** not enough data yet — needs at least {need} {what}; has {have}."
    if not varies:
        return f"**{name}:** {have} {what}, but their {varied} did not vary, so there is nothing to compare."
    return (
        f"**{name}:** {have} {what}, but the model gave no estimate for this person in this run "
        "(for example when the cohort model could not be fitted)."
    )


def show_risk(
    risk: dict[str, Any],
    history: pl.DataFrame,
    decision: dict[str, Any] | None,
    rules: ProgramRules,
) -> None:
    """The current early-warning band with its reasons and date, and the band of every week."""
    st.subheader("Risk of stopping")
    band = risk["risk_band"]
    if band is not None:
        st.markdown(
            f":{style.RISK_BAND_THEME[band]}-badge[{icons.RISK} {band} risk] · computed "
            f"{risk_bands.computed_text(risk)}"
        )
        if risk["risk_reasons"]:
            st.markdown(f"**Why:** {risk['risk_reasons']}")
        elif band == LOW:
            st.markdown("No reasons are given for a low band.")
        else:
            st.markdown("No single reason stood out.")
    else:
        why = risk_bands.no_prediction_text(risk, rules, decision is not None)
        st.info(f"No current risk band: {why}.", icon=icons.RISK)
    if history.height:
        st.dataframe(
            history.select(
                "week",
                "as_of",
                pl.concat_list("band").alias("band"),
                "probability",
                pl.col("reasons").fill_null(""),
            ),
            key="risk_history",
            hide_index=True,
            column_config={
                "week": st.column_config.NumberColumn("Week", format="%d"),
                "as_of": st.column_config.DateColumn(
                    "Computed", help="The last day of the program week.", format="D MMM YYYY"
                ),
                "band": st.column_config.MultiselectColumn(
                    "Band",
                    options=list(BANDS),
                    color=[style.RISK_BAND_THEME[b] for b in BANDS],
                ),
                "probability": st.column_config.NumberColumn(
                    "Probability",
                    help=f"Of {risk_bands.predicted_text(rules)}. Under the baseline rule: the "
                    "share of the weeks of its group (adherence below or above its threshold) "
                    "that led to such a gap.",
                    format="percent",
                ),
                "reasons": st.column_config.TextColumn("Reasons", width="large"),
            },
        )
    st.caption(
        "One row per completed program week the early warning followed (it stops at the first "
        f"{rules.disengagement_gap_days}-day gap without practice). "
        + risk_bands.scorer_text(decision, rules)
    )


def wear_text(wear: Wear, rules: ProgramRules) -> str:
    """The Steps and sleep caption, whose day counts add up to the elapsed days."""
    partly = (
        f", {wear.partial} worn less than {rules.valid_wear_minutes} minutes — too little for "
        "the day's steps to count"
        if wear.partial
        else ""
    )
    return (
        f"Tracker worn on **{wear.worn} of {wear.days} days** so far ({wear.not_worn} not worn, "
        f"{wear.no_data} with no tracker data{partly}); sleep recorded on {wear.sleep_nights} "
        "nights. Steps are shown only for worn days — a day the tracker was off has no bar (its "
        "steps are unknown, not zero) and shows in the strip below the chart. Sleep is assigned "
        "to the day it ended."
    )


# A role without person pages (an analyst) asking for a person by URL is refused by open_page;
# the attempt is audited first.
# A pid from the URL is whatever the visitor typed: cut it short for the audit log, and only
# echo it on the page when it looks like a pid (no markdown smuggled into the message).
requested = st.query_params.get("pid")
if requested is not None:
    requested = requested[:64]
asker = session.current_viewer()
if requested and asker is not None:
    try:
        access.authorise(asker, "person")
    except access.AccessDenied:
        session.audit_person_view(asker, "person", requested, outcome="denied")

viewer, snapshot = session.open_page("person", "Person")

everyone = queries.people(viewer)
pids = everyone["pid"].to_list()
labels = {
    row["pid"]: f"{row['pid']} · {row['cohort']} · coach {row['coach_id']} · {row['status']}"
    for row in everyone.iter_rows(named=True)
}

if requested is not None and requested not in labels:
    try:
        known = access.authorise_person(viewer, requested)
    except access.AccessDenied as denied:
        session.audit_person_view(viewer, "person", requested, outcome="denied")
        st.error(str(denied), icon=icons.REFUSED)
        st.stop()
    if known is None:
        shown = f"`{requested}`" if re.fullmatch(r"[A-Za-z0-9_.-]+", requested) else "(malformed)"
        st.error(
            f"No participant with pid {shown} in the published snapshot.", icon=icons.NOT_FOUND
        )

# The selectbox keeps its identity across reruns (a key, not an index that follows the URL,
# which would reset a fresh choice); a pid arriving in the URL is copied into it instead.
if requested in labels and (
    st.session_state.get(PID_KEY) is None or st.session_state.get(URL_PID_KEY) != requested
):
    st.session_state[PID_KEY] = requested
st.session_state[URL_PID_KEY] = requested
chosen = st.selectbox(
    "Participant",
    pids,
    index=None,
    format_func=labels.get,
    placeholder="Choose a participant",
    help="Coaches see their own caseload only." if viewer.role == "coach" else None,
    key=PID_KEY,
)
if chosen is None:
    st.info("Choose a participant to see their program calendar.")
    st.stop()
if chosen != requested:
    st.query_params["pid"] = chosen
    st.session_state[URL_PID_KEY] = chosen

try:
    participant = queries.person(viewer, chosen)
except access.AccessDenied as denied:
    session.audit_person_view(viewer, "person", chosen, outcome="denied")
    st.error(str(denied), icon=icons.REFUSED)
    st.stop()
if participant is None:  # the snapshot was replaced and this person is no longer in it
    st.error(f"No participant with pid `{chosen}` in the published snapshot.", icon=icons.NOT_FOUND)
    st.stop()
session.audit_person_view(viewer, "person", chosen)
try:
    identity = queries.person_identity(
        viewer, chosen, st.session_state.setdefault(REVEALED_KEY, set())
    )
except IdentitiesUnavailable as unavailable:
    identity = None
    st.caption(f"{icons.IDENTITY} {unavailable}")
if identity is not None:
    st.subheader(
        " · ".join(_literal(part) for part in identity[:2] if part),
        anchor=False,
        help="The program's participant id and the roster's display name, shown to "
        + (
            "you as their coach"
            if viewer.role == "coach"
            else f"{viewer.role.replace('_', ' ')}s by the {REVEAL_SETTING} setting"
        )
        + f". Showing them is recorded in the audit log. Pseudonymous id: {chosen}.",
    )
as_of = snapshot["as_of"]
panels = queries.person_panels(viewer, chosen)
days, weeks, principles = panels["days"], panels["weeks"], panels["principles"]
outcome = panels["outcome"]
rules: ProgramRules = panels["rules"]  # the snapshot's: the page explains numbers with them
elapsed = person_metrics.elapsed_days(days, as_of)
summary = person_summary(days, weeks, outcome, as_of, rules)  # the report's headline too

week_now = participant["program_week_now"]
st.caption(
    f"Cohort **{participant['cohort']}** · site {participant['site']} · coach "
    f"{participant['coach_id']} · enrolled {participant['enrolled_on']} · "
    f"{participant['prescribed_sessions_per_week']} stretch sessions a week prescribed · "
    f"{participant['status'].replace('_', ' ')}"
    + (f" · program week {week_now} of {participant['program_weeks']}" if week_now else "")
)

st.download_button(
    "Download progress report",
    data=report.progress_report_html(participant, panels, snapshot, datetime.now(UTC)),
    file_name=f"progress-report-{chosen}-{as_of}.html",
    mime="text/html",
    on_click=_record_report,
    args=(viewer, chosen),
    icon=":material/print:",
    help=(
        "A one-page summary (calendar, sessions, pain, principles) to print or save as PDF "
        "from any browser. It names the person by pseudonymous ID only. Downloading it is "
        "recorded in the audit log."
    ),
)

figures = figure_row()
figures.metric(
    "Days done",
    summary.days_done,
    help="Program days up to today with at least one completed stretch session.",
)
figures.metric(
    "Days missed",
    summary.days_missed,
    help="Program days up to today without a completed stretch session (the app is the "
    "record of practice).",
)
figures.metric(
    "Days unknown",
    summary.days_unknown,
    help="Days that have happened but cannot be judged — after a withdrawal. Never counted as "
    "missed or done.",
)
figures.metric(
    "Current streak",
    f"{summary.current_streak} d",
    help="Consecutive days done up to the latest day; today does not break it until it is "
    "over. A missed or unknown day ends a streak.",
)
figures.metric(
    "Longest streak",
    f"{summary.longest_streak} d",
    help="The most consecutive days done so far in the program. A missed or unknown day ends "
    "a run; a day without data never counts as done.",
)
figures.metric(
    "Adherent weeks",
    f"{summary.adherent_weeks} of {summary.complete_weeks}",
    help=f"Completed program weeks with at least {percent_text(rules.adherent_share)} of the "
    "prescribed stretch sessions, of all completed weeks (the week in progress counts once it "
    "ends).",
)

show_risk(
    panels["risk"] | {"status": participant["status"]},
    panels["risk_history"],
    panels["risk_decision"],
    rules,
)

st.subheader("Program calendar")
if days.height:
    st.caption(
        "One row per program week, one column per day of it (program weeks start on the "
        "enrolment weekday). Green: stretched; orange-red: no stretching; grey: no data "
        f"(after a withdrawal); light: after {as_of}. Hover a day for its sessions and pain."
    )
    st.plotly_chart(charts.calendar_figure(days, as_of), width="stretch", key="calendar")
else:
    st.info("No program days for this participant yet.")

st.subheader("Sessions per week")
if weeks.height and weeks.filter(weeks["days_elapsed"] > 0).height:
    st.caption(
        "Completed stretch sessions per program week (bars; the week in progress lighter) "
        "against the prescribed number (dark mark). A week is adherent at "
        f"{percent_text(rules.adherent_share)} of the prescription or more."
    )
    st.plotly_chart(charts.weekly_sessions_figure(weeks), width="stretch", key="sessions")
else:
    st.info("The program has not started for this participant.")

st.subheader("Discomfort while stretching")
discomfort = panels["discomfort"]
rated = int(discomfort["sessions"].sum()) if discomfort.height else 0
if rated:
    gentle = int(
        discomfort.filter(discomfort["discomfort"] <= rules.gentle_max_discomfort)["sessions"].sum()
    )
    aggressive = int(
        discomfort.filter(discomfort["discomfort"] >= rules.aggressive_min_discomfort)[
            "sessions"
        ].sum()
    )
    st.caption(
        f"Peak discomfort of each completed stretch session (0–10). Of {rated} rated sessions, "
        f"**{gentle / rated:.0%} were gentle** (≤ {rules.gentle_max_discomfort}, the program's "
        f"aim) and **{aggressive} aggressive** (≥ {rules.aggressive_min_discomfort}). Sessions "
        "without a rating (e.g. a watch workout) are not counted."
    )
    st.plotly_chart(
        charts.discomfort_figure(
            discomfort, rules.gentle_max_discomfort, rules.aggressive_min_discomfort
        ),
        width="stretch",
        key="discomfort",
    )
else:
    st.info("No completed stretch session with a discomfort rating yet.")

st.subheader("Breathing and stability")
started_principles = (
    principles.filter(principles["days_elapsed"] > 0) if principles.height else principles
)
if started_principles.height:
    st.caption(
        "Per started week: the share of completed stretch sessions done with guided breathing "
        "(sessions whose breathing was not recorded are left out), and the share of practice "
        "days followed by stability work. No bar: nothing to count that week (not a zero)."
    )
    st.plotly_chart(
        charts.breathing_stability_figure(principles), width="stretch", key="breathing_stability"
    )
else:
    st.info("The program has not started for this participant.")

st.subheader("Steps and sleep")
wear = summary.wear
if wear.any:
    st.caption(wear_text(wear, rules))
    st.plotly_chart(charts.activity_sleep_figure(elapsed), width="stretch", key="activity_sleep")
elif days.height and participant["has_wearable"]:
    st.info("A tracker is linked, but it has sent no worn day or night of sleep yet.")
else:
    st.info(
        "No activity tracker linked for this participant, so steps and sleep are not recorded "
        "(they are unknown, never counted as zero)."
    )

st.subheader("Pain")
trend = person_metrics.pain_trend(days, as_of)
weekly = person_metrics.weekly_pain(days, as_of, rules)
baseline, threshold = summary.pain_baseline, summary.responder_threshold
pain_figures = figure_row()
pain_figures.metric(
    "Baseline pain",
    "—" if baseline is None else f"{baseline:.1f}",
    help=f"Mean daily pain (0–10) of program week 1, or week 2 when week 1 has fewer than "
    f"{rules.baseline_min_checkins} check-ins.",
)
latest = summary.pain_latest
pain_figures.metric(
    "Latest weekly pain",
    "—" if latest is None else f"{latest:.1f}",
    help=f"Mean pain of the most recent week after the baseline week with at least "
    f"{rules.baseline_min_checkins} check-ins"
    + (f" (week {summary.pain_latest_week})." if latest is not None else "."),
)
change = summary.pain_change
pain_figures.metric(
    "Change",
    "—" if change is None else f"{change:+.1f}",
    help="Latest minus baseline weekly mean pain; below 0 = less pain.",
)
pain_figures.metric(
    "Pain responder",
    summary.responder_text,
    help=f"Latest weekly mean at least {rules.responder_pain_points:g} points and at least "
    f"{percent_text(rules.responder_pain_share)} below baseline — at or below the "
    "dotted threshold line.",
)
if trend.height and trend["pain"].is_not_null().any():
    st.caption(
        "Dots: daily check-ins (0–10). Line: mean of the last 7 days' check-ins (shown with at "
        f"least {person_metrics.PAIN_ROLLING_MIN_CHECKINS}). Diamonds: weekly means with at least "
        f"{rules.baseline_min_checkins} check-ins — baseline, latest and responder use "
        "these. "
        + (
            f"Dashed: baseline {baseline:.1f}; dotted: responder threshold {threshold:.1f} "
            f"(baseline − max({rules.responder_pain_points:g}, "
            f"{percent_text(rules.responder_pain_share)} of baseline))."
            if baseline is not None and threshold is not None
            else "No baseline yet, so no responder threshold."
        )
    )
    st.plotly_chart(
        charts.pain_figure(
            trend,
            weekly,
            baseline,
            summary.pain_baseline_week,
            threshold,
            rules.baseline_min_checkins,
        ),
        width="stretch",
        key="pain",
    )
else:
    st.info("No pain check-ins yet.")

st.subheader("The seven principles")
if started_principles.height:
    st.caption(
        "Each week's score per principle, 0–100 % (100 % = target met in full). A blank cell "
        "means no data that week — never a zero. * = week in progress (scored on the days so "
        "far). Hover a cell for what the score is made of; definitions in docs/metrics.md."
    )
    st.plotly_chart(
        charts.principles_figure(principles, PRINCIPLES), width="stretch", key="principles"
    )
else:
    st.info("No started week yet, so no principle scores.")

st.subheader("What goes with their pain")
effects = panels["effects"]
evidence = person_metrics.effect_evidence(days, weeks, as_of)
if effects.height:
    st.caption(
        "The person's own associations from the program's pain models, each with a 95 % "
        "interval; the open diamond is the whole program. They compare the person with "
        "themselves, but are associations, not proof that changing sleep or practice changes "
        "pain. A person with little data is pulled toward the program's estimate."
    )
    st.plotly_chart(charts.effects_figure(effects, EFFECT_LABELS), width="stretch", key="effects")
    for row in effects.iter_rows(named=True):
        st.markdown(_effect_sentence(row))
shown_terms = set(effects["term"].to_list()) if effects.height else set()
missing = [term for term in queries.PERSON_EFFECT_TERMS if term not in shown_terms]
if missing:
    st.info(
        "\n\n".join(
            _missing_effect_reason(term, evidence, panels["models_published"], rules)
            for term in missing
        ),
        icon=icons.RULES,
    )
