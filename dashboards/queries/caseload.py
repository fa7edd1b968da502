"""The Caseload page's reads (coaches): their own participants, and who each of them is."""

from __future__ import annotations

from collections.abc import Mapping, MutableSet

import polars as pl
import streamlit as st

from dashboards.access import authorise, authorise_person
from dashboards.queries.early_warning import _current_risk, _scorer
from dashboards.queries.identities import _audit_reveal, _known_identities
from dashboards.snapshot import Reader, SnapshotIdentity, recorded_rules, snapshot_identity
from pipelines.lib.identities import Identity
from pipelines.lib.statistics.early_warning import BANDS
from pipelines.lib.users import User

PAGE = "caseload"

SEVERITY_ORDER = ("alert", "warning", "info")
"""Flag severities, most urgent first (docs/metrics.md, Flags)."""

CASELOAD_ORDER_TEXT = (
    "most open alerts first, then most open warnings, then most open info flags; "
    "ties: active people first, then the longest since their last practice (never practised "
    "first), then pid"
)
RISK_ORDER_TEXT = (
    f"highest risk of stopping first: the {', then '.join(BANDS)} band, each by its "
    "probability (highest first); people without a current prediction last; ties in the flags "
    "order"
)
ORDERS = {"flags": CASELOAD_ORDER_TEXT, "risk": RISK_ORDER_TEXT}
"""The caseload's orders (`caseload(..., order=)`), each as the page names it."""


def caseload(viewer: User | None, order: str = "flags") -> pl.DataFrame:
    """The coach's own participants, one row each, most in need of attention first.

    Only people whose `marts.participants.coach_id` is the viewer's coach id: the
    filter is a bound parameter here, so no page can ask for another coach's rows.
    Order: `ORDERS[order]` — "flags" (`CASELOAD_ORDER_TEXT`) or "risk" (`RISK_ORDER_TEXT`,
    the bands in `early_warning.BANDS` order). Columns: pid, status, program_week_now,
    program_weeks, open_flags, alerts, warnings, infos, top_severity, flags (list of
    {flag, severity, since, evidence}, most severe first), last_practice, days_since_practice,
    weekly_adherence (completed weeks, in order), pain_baseline(_week), pain_latest(_week),
    pain_change, weekly_pain (weekly mean pain of weeks with at least `baseline_min_checkins`
    check-ins, in order), then the current early warning (`queries.early_warning.
    CURRENT_RISK_COLUMNS`: risk_band, risk_probability, risk_reasons, risk_as_of, risk_week,
    risk_model, risk_rank — null without a current prediction — latest_complete_week,
    disengaged_on).
    """
    viewer = authorise(viewer, PAGE)
    if order not in ORDERS:
        raise ValueError(f"caseload order {order!r}: one of {', '.join(ORDERS)}")
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()  # its columns are known only from the snapshot
    # a coach without a coach id gets the same query's no rows (`coach_id = null` matches none)
    people = _caseload(snapshot, viewer.coach_id)
    if order == "risk":
        # a stable sort: people of the same band and probability keep the flags order
        people = people.sort(
            ["risk_rank", "risk_probability"],
            descending=[False, True],
            nulls_last=True,
            maintain_order=True,
        )
    return people


def risk_decision(viewer: User | None) -> dict[str, str] | None:
    """Which scorer made the snapshot's risk bands and why: {"published": "logistic_regression"
    or "baseline_rule", "reason": a sentence} (`models.disengagement_model`); None when the
    snapshot has no early warning (or nothing was published)."""
    authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return None
    return _risk_decision(snapshot)


@st.cache_data(show_spinner=False, max_entries=16)
def _risk_decision(snapshot: SnapshotIdentity) -> dict[str, str] | None:
    with Reader(snapshot) as read:
        return _scorer(read)


_CASELOAD_SQL = """
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
"""


@st.cache_data(show_spinner=False, max_entries=64)
def _caseload(snapshot: SnapshotIdentity, coach_id: str | None) -> pl.DataFrame:
    min_checkins = recorded_rules(snapshot).rules.baseline_min_checkins
    with Reader(snapshot) as read:
        people = read(
            _CASELOAD_SQL,
            {
                "coach_id": coach_id,
                "severities": list(SEVERITY_ORDER),
                "min_checkins": min_checkins,
            },
        )
        risk = _current_risk(read, people["pid"].to_list())
    return people.join(risk, on="pid", how="left", maintain_order="left")


def caseload_identities(
    viewer: User | None, revealed: MutableSet[tuple[str, Identity]]
) -> dict[str, Identity]:
    """pid → participant id and display name of each person in the coach's own caseload.

    Coaches only. Each person passes `authorise_person` first, and an identity is
    returned only when the identities file names the viewer as that person's coach
    too (a file left from an earlier run never shows someone to their former coach).
    Every identity returned is in the audit log (`identities._audit_reveal`).
    """
    viewer = authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None or viewer.coach_id is None:
        return {}
    pids = _caseload(snapshot, viewer.coach_id)["pid"].to_list()
    known = _known_identities()
    shown = {}
    for pid in pids:
        authorise_person(viewer, pid, snapshot)
        identity = known.get(pid)
        if identity is not None and identity.coach_id == viewer.coach_id:
            shown[pid] = identity
    _audit_reveal(viewer, "caseload", shown, revealed)
    return shown


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
