"""Every landing source the pipeline ingests: `SOURCES` (the package exposes these names).

Each parser module or package names what it ingests the same way: `SOURCE` (one
`Source`) or `SOURCES` (several: the program's exports, Fitabase's files), and
`SOURCE_NAME`, the value its rows carry in the canonical `source` column.
"""

from . import apple_health, fitabase, fitbit_archive, garmin, omh, oura, program
from .program import ENTITIES
from .source import LandingFile, Parsed, Source
from .spec import Entity, Field, Issue

ENTITIES_BY_NAME = {e.name: e for e in ENTITIES}

SOURCES: tuple[Source, ...] = (
    *program.SOURCES,
    *fitabase.SOURCES,
    fitbit_archive.SOURCE,
    apple_health.SOURCE,
    garmin.SOURCE,
    oura.SOURCE,
    omh.SOURCE,
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
