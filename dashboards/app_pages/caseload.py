"""Caseload for coaches: their own participants, most in need of attention first.

Beside each pseudonymous pid the coach sees the program's participant id and display name
(read through `queries.caseload_identities`, which audits them) and can search by either. Each
person's risk of stopping (the early warning's band of their latest completed week, its reasons
and date) is a column the caseload can be ordered by.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboards import access, icons, risk_bands, session
from dashboards import chart_style as style
from dashboards.figures import figure_row
from dashboards.queries import caseload as queries
from dashboards.queries.identities import REVEALED_KEY, IdentitiesUnavailable
from dashboards.queries.program_rules import program_rules
from dashboards.snapshot import data_dir
from pipelines.lib import audit
from pipelines.lib.identities import Identity
from pipelines.lib.rules import ProgramRules
from pipelines.lib.statistics.early_warning import BANDS, LOW

SEVERITY_MEANING = {  # most urgent first
    "alert": "contact the person now",
    "warning": "raise it at the next contact",
    "info": "worth a look at the next review",
}
FLAG_LABELS = {
    "missed_days": "Missed days",
    "boom_bust": "Boom and bust",
    "too_intense": "Too intense",
    "no_breathing": "No guided breathing",
    "no_stability": "No stability work",
    "short_sleep": "Short sleep",
    "pain_rising": "Pain rising",
    "no_wearable_data": "No wearable data",
}
PERSON_PAGE = "app_pages/person.py"
TABLE_KEY = "caseload_table"
SEARCH_KEY = "caseload_search"
ORDER_KEY = "caseload_order"
ORDER_LABELS = {"flags": "Most urgent flags", "risk": "Risk of stopping"}
SEARCH_AUDITED_KEY = "_caseload_search_audited"
ROW_HEIGHT_PX = 35  # st.dataframe's default row height
MAX_TABLE_HEIGHT_PX = 740


def severity_tags(severity: str | None) -> list[str]:
    """The "Most urgent" cell: one tag, coloured by severity (`chart_style.SEVERITY_THEME`)."""
    return [severity] if severity else []


def flags_text(flags: list[dict]) -> str:
    """Every open flag as "Label (severity): evidence", most severe first."""
    return "  ·  ".join(
        f"{FLAG_LABELS.get(f['flag'], f['flag'])} ({f['severity']}): {f['evidence']}" for f in flags
    )


def pain_text(row: dict) -> str:
    """Baseline → latest weekly mean pain (0–10), with the direction of the change."""
    baseline, latest = row["pain_baseline"], row["pain_latest"]
    if baseline is None:
        return "no baseline yet"
    if latest is None:
        return f"{baseline:.1f} (baseline only)"
    change = row["pain_change"]
    if round(change, 1) == 0:
        arrow = "→ same"
    elif change < 0:
        arrow = f"↓ {-change:.1f} better"
    else:
        arrow = f"↑ {change:.1f} worse"
    return f"{baseline:.1f} → {latest:.1f} ({arrow})"


def week_text(row: dict) -> str | None:
    if row["program_week_now"] is None:
        return None
    return f"{row['program_week_now']} of {row['program_weeks']}"


def caseload_table(
    people: pl.DataFrame,
    identities: dict[str, Identity] | None,
    rules: ProgramRules,
    has_early_warning: bool,
) -> pl.DataFrame:
    """The coach's view of each person: plain-language columns, in the caseload order.

    With `identities` (None: not available) the program's participant id and the display
    name follow the pid. `rules` and `has_early_warning` (the snapshot has one) explain a
    missing risk band.
    """
    rows = people.to_dicts()
    who = {}
    if identities is not None:
        found = [identities.get(r["pid"]) for r in rows]
        who = {
            "Participant ID": [i.participant_id if i else None for i in found],
            # blank, not a null Streamlit would print as "None" (a name, to the eye)
            "Name": [(i.display_name or "") if i else "" for i in found],
        }
    return pl.DataFrame(
        {
            "Participant": [r["pid"] for r in rows],
            **who,
            "Status": [r["status"].replace("_", " ") for r in rows],
            "Week": [week_text(r) for r in rows],
            "Most urgent": [severity_tags(r["top_severity"]) for r in rows],
            "Open flags": [r["open_flags"] for r in rows],
            "Risk of stopping": [[r["risk_band"]] if r["risk_band"] else [] for r in rows],
            "Risk computed": [risk_bands.computed_text(r) or "" for r in rows],
            "Last practice": [r["last_practice"] for r in rows],
            "Days since": [r["days_since_practice"] for r in rows],
            "Weekly adherence": [r["weekly_adherence"] for r in rows],
            "Pain": [pain_text(r) for r in rows],
            "Weekly pain": [r["weekly_pain"] for r in rows],
            # Last: the sentences are long, and the short columns should stay in view.
            "Why this risk": [risk_bands.why_text(r, rules, has_early_warning) for r in rows],
            "What's flagged": [flags_text(r["flags"]) for r in rows],
        },
        schema_overrides={
            "Weekly adherence": pl.List(pl.Float64),
            "Weekly pain": pl.List(pl.Float64),
            "Most urgent": pl.List(pl.String),
            "Risk of stopping": pl.List(pl.String),
            "Risk computed": pl.String,
            "Last practice": pl.Date,
            "Days since": pl.Int64,
            "Week": pl.String,
            "Participant ID": pl.String,
            "Name": pl.String,
        },
    )


def audit_search(viewer, text: str) -> None:
    """One `searched` event per new search text (not per rerun); the text itself is not kept."""
    if not text.strip():
        st.session_state.pop(SEARCH_AUDITED_KEY, None)
        return
    if st.session_state.get(SEARCH_AUDITED_KEY) == text:
        return
    try:
        audit.record(
            data_dir(),
            user=viewer.username,
            role=viewer.role,
            page="caseload",
            outcome="searched",
        )
    except OSError as error:
        st.error(f"Searching is off: the audit log cannot be written ({error}).")
        st.stop()
    st.session_state[SEARCH_AUDITED_KEY] = text


viewer, snapshot = session.open_page("caseload", "Caseload")
rules = program_rules(viewer).rules  # the snapshot's: the columns explain their numbers with them
# the snapshot's rule for a weekly mean pain, as its caseload column uses it
min_checkins = rules.baseline_min_checkins
decision = queries.risk_decision(viewer)

people = queries.caseload(viewer)
if people.height == 0:
    st.info(
        f"Nobody is assigned to your coach id (**{viewer.coach_id or 'not set'}**) in the "
        "published data. If that is wrong, the program's roster lists another coach id for your "
        "participants — ask an administrator to check your account's coach id.",
        icon=icons.NOTHING_YET,
    )
    st.stop()

try:
    identities = queries.caseload_identities(
        viewer, st.session_state.setdefault(REVEALED_KEY, set())
    )
except IdentitiesUnavailable as unavailable:
    identities = None
    st.info(
        f"{unavailable} Until then the caseload shows pseudonymous pids only.", icon=icons.IDENTITY
    )

active = people.filter(pl.col("status") == "active")
figures = figure_row()
figures.metric("Participants", people.height, help="Everyone the roster assigns to your coach id.")
figures.metric(
    "Active",
    active.height,
    help="Enrolled, not withdrawn, and the program has not ended yet.",
)
figures.metric(
    "Contact now",
    people.filter(pl.col("alerts") > 0).height,
    help="People with at least one open alert flag: contact the person now.",
)
figures.metric(
    "Any open flag",
    people.filter(pl.col("open_flags") > 0).height,
    help="People with at least one flag still running at the data date (alert, warning or info).",
)
figures.metric(
    "Risk raised or high",
    people.filter(pl.col("risk_band").is_not_null() & (pl.col("risk_band") != LOW)).height,
    help="People whose latest completed week the early warning put in the raised or high band. "
    + risk_bands.scorer_text(decision, rules),
)

search_column, toggle_column = st.columns([2, 1], vertical_alignment="bottom")
search = search_column.text_input(
    "Search your caseload",
    key=SEARCH_KEY,
    placeholder="Participant ID, name or pid",
    help="Part of a participant ID, a name or a pid, in any case. Only your own caseload is "
    "searched. Each search is recorded in the audit log (not what you typed).",
)
only_flagged = toggle_column.toggle(
    "Only people with open flags", help="Hide people without any open flag."
)
order = st.radio(
    "Order",
    options=list(queries.ORDERS),
    format_func=ORDER_LABELS.get,
    key=ORDER_KEY,
    horizontal=True,
    help="Most urgent flags: " + queries.CASELOAD_ORDER_TEXT + ". Risk of stopping: "
    f"{queries.RISK_ORDER_TEXT}.",
)
if order != "flags":
    people = queries.caseload(viewer, order)
audit_search(viewer, search)
found = queries.search_caseload(people, identities or {}, search)
if found.height == 0:
    st.warning(access.NOT_IN_CASELOAD, icon=icons.NOT_FOUND)
    st.stop()
shown = found.filter(pl.col("open_flags") > 0) if only_flagged else found
if shown.height == 0:
    st.success(
        "No open flags among the people found."
        if search.strip()
        else "No open flags in your caseload right now.",
        icon=icons.ALL_CLEAR,
    )
    st.stop()

st.caption(f"**Order**: {queries.ORDERS[order]}. Click a row to open that person's page.")
table = caseload_table(shown, identities, rules, decision is not None)
event = st.dataframe(
    table,
    key=TABLE_KEY,
    hide_index=True,
    height=min(ROW_HEIGHT_PX * (table.height + 1) + 3, MAX_TABLE_HEIGHT_PX),
    on_select="rerun",
    selection_mode="single-row",
    column_config={
        "Participant": st.column_config.TextColumn(
            "Participant",
            help="Pseudonymous id; click the row to open the person page.",
            pinned=True,
        ),
        "Participant ID": st.column_config.TextColumn(
            "Participant ID",
            help="The program's own id for this person (from the roster). Shown to you as "
            "their coach only; showing it is recorded in the audit log.",
            pinned=True,
        ),
        "Name": st.column_config.TextColumn(
            "Name",
            help="The roster's display name, when it has one. Shown to you as their coach only.",
            pinned=True,
        ),
        "Week": st.column_config.TextColumn(
            "Week", help="Program week containing the data date, of the prescribed weeks."
        ),
        "Most urgent": st.column_config.MultiselectColumn(
            "Most urgent",
            help="The most severe open flag: "
            + "; ".join(
                f"{icons.severity_mark(s)} {s} — {SEVERITY_MEANING[s]}" for s in SEVERITY_MEANING
            )
            + ". Empty: no open flag.",
            options=list(SEVERITY_MEANING),
            color=[style.SEVERITY_THEME[s] for s in SEVERITY_MEANING],
        ),
        "Open flags": st.column_config.NumberColumn(
            "Open flags", help="Flags still running at the data date.", format="%d"
        ),
        "Risk of stopping": st.column_config.MultiselectColumn(
            "Risk of stopping",
            help="The early warning's band for the person's latest completed program week: "
            f"{risk_bands.predicted_text(rules)}. Empty: no current prediction (Why this risk "
            "says why).",
            options=list(BANDS),
            color=[style.RISK_BAND_THEME[band] for band in BANDS],
        ),
        "Risk computed": st.column_config.TextColumn(
            "Risk computed",
            help="The last day of the week the band was computed for, and the program week.",
        ),
        "Why this risk": st.column_config.TextColumn(
            "Why this risk",
            help="What raised the risk most, in plain words (a low band has no reasons); for "
            "someone without a band, why there is none.",
            width="large",
        ),
        "What's flagged": st.column_config.TextColumn(
            "What's flagged",
            help="The evidence sentence of each open flag, most severe first. "
            "Hover or widen the column to read it all.",
            width="large",
        ),
        "Last practice": st.column_config.DateColumn(
            "Last practice",
            help="Latest day with a completed stretch session (the person's local day).",
            format="D MMM YYYY",
        ),
        "Days since": st.column_config.NumberColumn(
            "Days since",
            help="Days from the last practice to the data date; empty when never practised.",
            format="%d",
        ),
        "Weekly adherence": st.column_config.BarChartColumn(
            "Weekly adherence",
            help="One bar per completed program week: stretch sessions done ÷ prescribed, "
            "capped at 100 %. The week in progress is left out until it ends.",
            y_min=0,
            y_max=1,
            color=style.THEME_DONE,
        ),
        "Pain": st.column_config.TextColumn(
            "Pain (baseline → latest)",
            help="Weekly mean pain (0–10) of the baseline week (week 1, or 2) and of the latest "
            f"week with at least {min_checkins} check-ins; lower is better.",
        ),
        "Weekly pain": st.column_config.LineChartColumn(
            "Weekly pain",
            help=f"Weekly mean pain (0–10) of each week with at least {min_checkins} check-ins, "
            "in order.",
            y_min=0,
            y_max=10,
            color=style.THEME_PRIMARY,
        ),
    },
)
selected_rows = event.selection.rows if event is not None else []
if selected_rows:
    st.switch_page(PERSON_PAGE, query_params={"pid": table["Participant"][selected_rows[0]]})

st.caption(
    f"{icons.RISK} **Risk of stopping** (docs/models.md): {risk_bands.scorer_text(decision, rules)}"
)
st.caption(
    "Flags (docs/metrics.md): "
    + "; ".join(
        f"{icons.severity_mark(s)} **{s}** — {SEVERITY_MEANING[s]}" for s in SEVERITY_MEANING
    )
    + ". An open flag's severity grows as it lasts. Everything is as of the data date above; "
    "a day without a logged session counts as missed."
)
