"""Field specs of every Fitabase `*_merged.csv` file type.

One text `Entity` per file type: `spec.validate` checks each field and
quarantines a broken row with its line, field and reason before any value is
converted. The specs accept the real 2016 export exactly as written: full
single-precision floats (`1.87999999523163`), `True`/`False`, an empty `Fat`,
times as `4/12/2016 2:47:30 AM` in the participant's local clock.
"""

from __future__ import annotations

from ..spec import Entity, Field

FOLDER = "fitabase"

_ID = Field("Id", required=True, identifier=True)


def _pattern(file_type: str) -> tuple[str, ...]:
    return (f"{FOLDER}/**/{file_type}_merged.csv",)


def _minutes(name: str) -> Field:
    return Field(name, "int", low=0, high=1440)


def _distance(name: str) -> Field:
    return Field(name, "decimal", low=0)


def _count(name: str, required: bool = False) -> Field:
    return Field(name, "int", required=required, low=0)


DAILY_ACTIVITY = Entity(
    name="fitabase_daily_activity",
    source=FOLDER,
    patterns=_pattern("dailyActivity"),
    key=("Id", "ActivityDate"),
    description="Fitabase daily activity: steps, distances, intensity minutes, calories",
    fields=(
        _ID,
        Field("ActivityDate", "us_date", required=True),
        _count("TotalSteps", required=True),
        _distance("TotalDistance"),
        _distance("TrackerDistance"),
        _distance("LoggedActivitiesDistance"),
        _distance("VeryActiveDistance"),
        _distance("ModeratelyActiveDistance"),
        _distance("LightActiveDistance"),
        _distance("SedentaryActiveDistance"),
        _minutes("VeryActiveMinutes"),
        _minutes("FairlyActiveMinutes"),
        _minutes("LightlyActiveMinutes"),
        _minutes("SedentaryMinutes"),
        _count("Calories"),
    ),
)

DAILY_STEPS = Entity(
    name="fitabase_daily_steps",
    source=FOLDER,
    patterns=_pattern("dailySteps"),
    key=("Id", "ActivityDay"),
    description="Fitabase daily step totals",
    fields=(_ID, Field("ActivityDay", "us_date", required=True), _count("StepTotal", True)),
)

DAILY_INTENSITIES = Entity(
    name="fitabase_daily_intensities",
    source=FOLDER,
    patterns=_pattern("dailyIntensities"),
    key=("Id", "ActivityDay"),
    description="Fitabase daily minutes and distances per activity intensity",
    fields=(
        _ID,
        Field("ActivityDay", "us_date", required=True),
        _minutes("SedentaryMinutes"),
        _minutes("LightlyActiveMinutes"),
        _minutes("FairlyActiveMinutes"),
        _minutes("VeryActiveMinutes"),
        _distance("SedentaryActiveDistance"),
        _distance("LightActiveDistance"),
        _distance("ModeratelyActiveDistance"),
        _distance("VeryActiveDistance"),
    ),
)

# Read by no source (no canonical metric); kept so the format stays documented and checked.
DAILY_CALORIES = Entity(
    name="fitabase_daily_calories",
    source=FOLDER,
    patterns=_pattern("dailyCalories"),
    key=("Id", "ActivityDay"),
    description="Fitabase daily energy expenditure (kcal); not used",
    fields=(_ID, Field("ActivityDay", "us_date", required=True), _count("Calories")),
)

HOURLY_STEPS = Entity(
    name="fitabase_hourly_steps",
    source=FOLDER,
    patterns=_pattern("hourlySteps"),
    key=("Id", "ActivityHour"),
    description="Fitabase steps per local clock hour",
    fields=(
        _ID,
        Field("ActivityHour", "us_datetime", required=True),
        _count("StepTotal", required=True),
    ),
)

MINUTE_STEPS_NARROW = Entity(
    name="fitabase_minute_steps_narrow",
    source=FOLDER,
    patterns=_pattern("minuteStepsNarrow"),
    key=("Id", "ActivityMinute"),
    description="Fitabase steps per local clock minute, one row per minute",
    fields=(
        _ID,
        Field("ActivityMinute", "us_datetime", required=True),
        _count("Steps", required=True),
    ),
)

MINUTE_STEPS_WIDE = Entity(
    name="fitabase_minute_steps_wide",
    source=FOLDER,
    patterns=_pattern("minuteStepsWide"),
    key=("Id", "ActivityHour"),
    description="Fitabase steps per local clock minute, one row per hour (Steps00..Steps59)",
    fields=(
        _ID,
        Field("ActivityHour", "us_datetime", required=True),
        *(_count(f"Steps{minute:02d}") for minute in range(60)),
    ),
)

HEARTRATE_SECONDS = Entity(
    name="fitabase_heartrate",
    source=FOLDER,
    patterns=_pattern("heartrate_seconds"),
    key=("Id", "Time"),
    description="Fitabase heart rate samples (every few seconds while worn)",
    fields=(
        _ID,
        Field("Time", "us_datetime", required=True),
        Field("Value", "int", required=True, low=20, high=250),
    ),
)

SLEEP_DAY = Entity(
    name="fitabase_sleep_day",
    source=FOLDER,
    patterns=_pattern("sleepDay"),
    key=("Id", "SleepDay"),
    description="Fitabase daily sleep totals, on the day the sleep ended",
    fields=(
        _ID,
        Field("SleepDay", "us_datetime", required=True),
        _count("TotalSleepRecords"),
        _minutes("TotalMinutesAsleep"),
        _minutes("TotalTimeInBed"),
    ),
)

MINUTE_SLEEP = Entity(
    name="fitabase_minute_sleep",
    source=FOLDER,
    patterns=_pattern("minuteSleep"),
    key=("Id", "logId", "date"),
    description="Fitabase sleep logs minute by minute: 1 asleep, 2 restless, 3 awake",
    fields=(
        _ID,
        Field("date", "us_datetime", required=True),
        Field("value", "enum", required=True, values=("1", "2", "3")),
        _count("logId", required=True),
    ),
)

# Read by no source (no canonical table for body weight yet).
WEIGHT_LOG = Entity(
    name="fitabase_weight",
    source=FOLDER,
    patterns=_pattern("weightLogInfo"),
    key=("Id", "LogId"),
    description="Fitabase weight log (scale or manual); not used",
    fields=(
        _ID,
        Field("Date", "us_datetime", required=True),
        Field("WeightKg", "decimal", low=0),
        Field("WeightPounds", "decimal", low=0),
        Field("Fat", "decimal", low=0, high=100),
        Field("BMI", "decimal", low=0),
        Field("IsManualReport", "bool"),
        _count("LogId"),
    ),
)

ENTITIES: tuple[Entity, ...] = (
    DAILY_ACTIVITY,
    DAILY_STEPS,
    DAILY_INTENSITIES,
    DAILY_CALORIES,
    HOURLY_STEPS,
    MINUTE_STEPS_NARROW,
    MINUTE_STEPS_WIDE,
    HEARTRATE_SECONDS,
    SLEEP_DAY,
    MINUTE_SLEEP,
    WEIGHT_LOG,
)
