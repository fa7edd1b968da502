"""Parsers for every landing source; `ENTITIES` lists what the pipeline ingests."""

from .fitabase import DAILY_ACTIVITY, SLEEP_DAY
from .program import APP_CHECKINS, APP_SESSIONS, PROM, ROSTER
from .spec import Entity, Field, Issue

ENTITIES: tuple[Entity, ...] = (ROSTER, APP_SESSIONS, APP_CHECKINS, PROM, DAILY_ACTIVITY, SLEEP_DAY)
ENTITIES_BY_NAME = {e.name: e for e in ENTITIES}

__all__ = ["ENTITIES", "ENTITIES_BY_NAME", "Entity", "Field", "Issue"]
