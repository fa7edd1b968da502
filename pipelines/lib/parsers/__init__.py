"""Every landing source the pipeline ingests: `SOURCES` (registry.py).

The registry loads on first use of one of its names, not with the package, so that a
parser's own modules can be imported alone (the Apple Health reader in the helper process
of apple_health/halves.py, which needs neither Polars nor the other parsers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .registry import (
        ENTITIES,
        ENTITIES_BY_NAME,
        SOURCES,
        SOURCES_BY_NAME,
        Entity,
        Field,
        Issue,
        LandingFile,
        Parsed,
        Source,
    )

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


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import registry

        return getattr(registry, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
