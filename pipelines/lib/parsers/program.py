"""The program's own exports: roster, app sessions, daily check-ins, REDCap questionnaires.

Formats: ../shared/spec/program-exports.md (the contract with the program).
"""

from __future__ import annotations

from .source import Source, spec_source
from .spec import Entity, Field

SESSION_KINDS = ("stretch", "stability", "breathing", "walk", "other")
REDCAP_EVENTS = ("baseline_arm_1", "week_4_arm_1", "week_8_arm_1", "week_12_arm_1")

ROSTER = Entity(
    name="roster",
    source="roster",
    patterns=("roster/*.csv",),
    key=("participant_id",),
    description="Program roster: one row per enrolment",
    version="2",  # 2: display_name
    fields=(
        Field("participant_id", required=True, identifier=True),
        Field("cohort", required=True),
        Field("site"),
        Field("coach_id", required=True),
        Field("enrolled_on", "date", required=True),
        Field("program_weeks", "int", low=1, high=104),
        Field("prescribed_sessions_per_week", "int", low=0, high=21),
        Field("timezone", "timezone", required=True),
        Field("withdrawn_on", "date"),
        Field("fitbit_id", identifier=True),
        # how the coach knows the person: kept in the warehouse for the coach's identities
        # file (pipelines/lib/identities.py), never in a mart
        Field("display_name", identifier=True),
    ),
)

APP_SESSIONS = Entity(
    name="app_sessions",
    source="app",
    patterns=("app/sessions*.csv", "app/sessions*.jsonl"),
    key=("session_id",),
    description="Practice sessions logged by the program's app",
    fields=(
        Field("session_id", required=True),
        Field("participant_id", required=True, identifier=True),
        Field("started_at", "timestamp_tz", required=True),
        Field("duration_s", "int", required=True, low=0),
        Field("kind", "enum", required=True, values=SESSION_KINDS),
        Field("target"),
        Field("discomfort", "int", low=0, high=10),
        Field("guided_breathing", "bool"),
        Field("completed", "bool"),
        Field("app_version"),
    ),
)

APP_CHECKINS = Entity(
    name="app_checkins",
    source="app",
    patterns=("app/checkins*.csv",),
    key=("participant_id", "date"),
    description="Daily check-ins: pain, sleep quality, stress, movement confidence",
    fields=(
        Field("participant_id", required=True, identifier=True),
        Field("date", "date", required=True),
        Field("pain", "int", required=True, low=0, high=10),
        Field("sleep_quality", "int", low=0, high=10),
        Field("stress", "int", low=0, high=10),
        Field("movement_confidence", "int", low=0, high=10),
        Field("submitted_at", "timestamp_tz"),
    ),
)

PROM = Entity(
    name="prom",
    source="prom",
    patterns=("prom/*.csv",),
    key=("record_id", "redcap_event_name"),
    description="REDCap questionnaires: Oswestry (ODI), Tampa kinesiophobia (TSK-11), PSQI",
    ignored=("redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"),
    fields=(
        Field("record_id", required=True, identifier=True),
        Field("redcap_event_name", "enum", required=True, values=REDCAP_EVENTS),
        Field("prom_date", "date"),
        *(Field(f"odi_{i}", "int", low=0, high=5) for i in range(1, 11)),
        Field("oswestry_complete", "int", low=0, high=2),
        *(Field(f"tsk_{i}", "int", low=1, high=4) for i in range(1, 12)),
        Field("tsk_complete", "int", low=0, high=2),
        Field("psqi_total", "int", low=0, high=21),
    ),
)

# each checked field by field against its spec
ENTITIES: tuple[Entity, ...] = (ROSTER, APP_SESSIONS, APP_CHECKINS, PROM)
SOURCES: tuple[Source, ...] = tuple(spec_source(e) for e in ENTITIES)
