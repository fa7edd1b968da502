"""Every landing source the pipeline ingests: `SOURCES`."""

from . import fitabase
from .apple_health import SOURCE as APPLE_HEALTH
from .fitbit_archive import SOURCE as FITBIT_ARCHIVE
from .garmin import GARMIN
from .omh import SOURCE as OMH
from .oura import SOURCE as OURA
from .program import APP_CHECKINS, APP_SESSIONS, PROM, ROSTER
from .source import LandingFile, Parsed, Source, spec_source
from .spec import Entity, Field, Issue

# the program's own exports, checked field by field against their spec
ENTITIES: tuple[Entity, ...] = (ROSTER, APP_SESSIONS, APP_CHECKINS, PROM)
ENTITIES_BY_NAME = {e.name: e for e in ENTITIES}

SOURCES: tuple[Source, ...] = (
    *(spec_source(e) for e in ENTITIES),
    *fitabase.SOURCES,
    FITBIT_ARCHIVE,
    APPLE_HEALTH,
    GARMIN,
    OURA,
    OMH,
)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}

__all__ = [
    "ENTITIES",
    "ENTITIES_BY_NAME",
    "SOURCES",
    "SOURCES_BY_NAME",
    "Entity",
    "Field",
    "Issue",
    "LandingFile",
    "Parsed",
    "Source",
]
