"""Fitabase (Fitbit research platform) `*_merged.csv` exports.

Dates are the participant's local clock with no zone (`4/12/2016`,
`4/12/2016 12:00:00 AM`). Rows link to people through roster.fitbit_id.
"""

from __future__ import annotations

from .spec import Entity, Field

_ID = Field("Id", required=True, identifier=True)


def _minutes(name: str) -> Field:
    return Field(name, "int", low=0, high=1440)


def _distance(name: str) -> Field:
    return Field(name, "decimal", low=0)


DAILY_ACTIVITY = Entity(
    name="fitabase_daily_activity",
    source="fitabase",
    patterns=("fitabase/**/dailyActivity_merged.csv",),
    key=("Id", "ActivityDate"),
    description="Fitabase daily activity: steps, distances, intensity minutes, calories",
    fields=(
        _ID,
        Field("ActivityDate", "us_date", required=True),
        Field("TotalSteps", "int", required=True, low=0),
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
        Field("Calories", "int", low=0),
    ),
)

SLEEP_DAY = Entity(
    name="fitabase_sleep_day",
    source="fitabase",
    patterns=("fitabase/**/sleepDay_merged.csv",),
    key=("Id", "SleepDay"),
    description="Fitabase daily sleep totals, on the day the sleep ended",
    fields=(
        _ID,
        Field("SleepDay", "us_datetime", required=True),
        Field("TotalSleepRecords", "int", low=0),
        _minutes("TotalMinutesAsleep"),
        _minutes("TotalTimeInBed"),
    ),
)
