"""Every parser names what it ingests the same way, and the registry lists each source once.

A parser module or package exports `SOURCE` (one `Source`) or `SOURCES` (several), so that
`pipelines/lib/parsers/registry.py` reads them all alike and a new parser cannot be left out
of `SOURCES` unnoticed.
"""

from __future__ import annotations

import importlib
import pkgutil

import pipelines.lib.parsers as parsers
from pipelines.lib.parsers import SOURCES, Source


def exported_sources() -> dict[str, dict[str, Source | tuple[Source, ...]]]:
    """Parser module → its top-level names that hold a Source or a tuple of them (a package
    may load its parser on first use: the names it exports count too)."""
    found = {}
    for info in pkgutil.iter_modules(parsers.__path__):
        if info.name == "registry":
            continue  # the list of them all
        module = importlib.import_module(f"{parsers.__name__}.{info.name}")
        public = {*vars(module), *getattr(module, "__all__", ())}
        names = {
            name: value
            for name, value in ((name, getattr(module, name)) for name in public)
            if isinstance(value, Source)
            or (isinstance(value, tuple) and value and all(isinstance(v, Source) for v in value))
        }
        if names:
            found[info.name] = names
    return found


def test_each_parser_exports_SOURCE_or_SOURCES_and_nothing_else():
    exported = exported_sources()
    assert {"program", "fitabase", "garmin", "apple_health", "oura", "omh"} <= set(exported)
    for module, names in exported.items():
        assert set(names) in ({"SOURCE"}, {"SOURCES"}), (module, sorted(names))


def test_the_registry_lists_every_exported_source_once():
    exported = [
        source
        for names in exported_sources().values()
        for value in names.values()
        for source in (value if isinstance(value, tuple) else (value,))
    ]
    assert sorted(s.name for s in SOURCES) == sorted(s.name for s in exported)
    assert len({s.name for s in SOURCES}) == len(SOURCES)
