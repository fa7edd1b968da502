"""The Person page's reads (program managers, and coaches for their own caseload).

Every read passes `dashboards.access.authorise_person` first and is filtered by the bound pid.
"""

from __future__ import annotations

from collections.abc import MutableSet
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from dashboards.access import authorise, authorise_person
from dashboards.queries.early_warning import (
    CURRENT_RISK_COLUMNS,
    _current_risk,
    _history,
    _scorer,
)
from dashboards.queries.identities import _audit_reveal, _known_identities, _revealed_to_roles
from dashboards.snapshot import PARTICIPANT_COLUMNS, SnapshotIdentity, read_sql, snapshot_identity
from pipelines.lib.identities import Identity
from pipelines.lib.rules import ProgramRules, read_recorded_rules
from pipelines.lib.users import User

PAGE = "person"


def people(viewer: User | None) -> pl.DataFrame:
    """The people the viewer may open: everyone for a program manager, a coach's caseload.

    One row per person: pid, cohort, site, coach_id, enrolled_on, status, program_week_now…
    """
    viewer = authorise(viewer, PAGE)
    snapshot = snapshot_identity()
    if snapshot is None:
        return pl.DataFrame()  # a person's columns are known only from the snapshot
    everyone = _people(snapshot)
    if viewer.role == "coach":
        return everyone.filter(pl.col("coach_id") == viewer.coach_id)
    return everyone


_PEOPLE_SQL = f"""
select {PARTICIPANT_COLUMNS}
from marts.participants
order by cohort, coach_id, pid
"""


@st.cache_data(show_spinner=False, max_entries=16)
def _people(snapshot: SnapshotIdentity) -> pl.DataFrame:
    return read_sql(
        snapshot,
        _PEOPLE_SQL,
    )


def person(viewer: User | None, pid: str) -> dict[str, Any] | None:
    """The person's `marts.participants` row, or None for an unknown pid (see authorise_person)."""
    return authorise_person(viewer, pid)


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
    has no pain models), `rules` (the snapshot's `ProgramRules`, read in the same
    connection), and the early warning: `risk` (the person's current prediction,
    `queries.early_warning.CURRENT_RISK_COLUMNS`, risk_* null without one), `risk_history`
    (their `models.disengagement_risk` weeks, in order) and `risk_decision` ({published,
    reason} of `models.disengagement_model`; None when the snapshot has no early warning).
    Every query is filtered by the bound pid.
    """
    snapshot = snapshot_identity()
    authorise_person(viewer, pid, snapshot)
    if snapshot is None:
        return {
            "days": pl.DataFrame(),
            "weeks": pl.DataFrame(),
            "principles": pl.DataFrame(),
            "discomfort": pl.DataFrame(),
            "outcome": None,
            "effects": pl.DataFrame(),
            "models_published": False,
            "rules": ProgramRules(),
            "risk": dict.fromkeys(CURRENT_RISK_COLUMNS) | {"pid": pid},
            "risk_history": pl.DataFrame(),
            "risk_decision": None,
        }
    return _person_panels(snapshot, pid)


_MODELS_PUBLISHED_SQL = """
select count(*) = 2 from information_schema.tables
where table_schema = 'models' and table_name in ('person_effects', 'cohort_effects')
"""


@st.cache_data(show_spinner=False, max_entries=256)
def _person_panels(snapshot: SnapshotIdentity, pid: str) -> dict[str, Any]:
    connection = duckdb.connect(snapshot.path, read_only=True)
    try:
        panels: dict[str, Any] = {
            name: connection.sql(sql, params={"pid": pid}).pl() for name, sql in _PERSON_SQL.items()
        }
        ((models_published,),) = connection.sql(_MODELS_PUBLISHED_SQL).fetchall()
        panels["models_published"] = bool(models_published)
        panels["effects"] = (
            connection.sql(_PERSON_EFFECTS_SQL, params={"pid": pid}).pl()
            if panels["models_published"]
            else pl.DataFrame()
        )
        panels["rules"] = read_recorded_rules(connection).rules

        def read(sql: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
            return connection.sql(sql, params=params).pl()

        panels["risk"] = _current_risk(read, [pid]).row(0, named=True)
        panels["risk_history"] = _history(read, pid)
        panels["risk_decision"] = _scorer(read)
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
    identity = _known_identities().get(pid)
    if identity is None or (viewer.role == "coach" and identity.coach_id != viewer.coach_id):
        return None
    _audit_reveal(viewer, "person", {pid: identity}, revealed)
    return identity
