"""Every landing source the pipeline ingests: `SOURCES` (the package exports its names).

Each parser module or package names what it ingests the same way: `SOURCE` (one
`Source`) or `SOURCES` (several: the program's exports, Fitabase's files), and
`SOURCE_NAME`, the value its rows carry in the canonical `source` column.
"""

from . import apple_health, fitabase, fitbit_archive, garmin, omh, oura, program
from .program import ENTITIES

# the package re-exports these beside SOURCES (parsers/__init__.py lists every name it exports)
from .source import LandingFile, Parsed, Source  # noqa: F401
from .spec import Entity, Field, Issue  # noqa: F401

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
