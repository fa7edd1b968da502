"""Who wrote a record: Apple Watch, iPhone or another app, and how much to trust it.

Health keeps every source's samples side by side: an iPhone and a paired Watch
both count the same steps, sleep apps log the same night. Wherever two sources
overlap we keep the best one, ranked Apple Watch > iPhone > any other app
(worn on the wrist beats carried in a pocket beats imported or typed in).

The rank comes from the record's `device` attribute (`… name:Apple Watch, …,
model:Watch, …`) when present, else from `sourceName` ("Alexandre's Apple Watch").
`sourceName` usually holds the owner's first name, so the `device` column we write
is a generic label ("Apple Watch", "iPhone", or the app's name), never the raw
sourceName.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

WATCH, IPHONE, OTHER_APP = 3, 2, 1
_POSSESSIVE = re.compile(r"^.*?['’]s\s+")
_FIELD = re.compile(r"(name|model):([^,>]*)")


@dataclass(frozen=True)
class SourceInfo:
    name: str  # sourceName as written (kept in memory only, to tell sources apart)
    rank: int  # WATCH, IPHONE or OTHER_APP
    label: str  # what goes in the `device` column

    @property
    def is_watch(self) -> bool:
        return self.rank == WATCH


def _classify(source_name: str, device_fields: str) -> tuple[int, str]:
    fields = dict(_FIELD.findall(device_fields))
    model, name = fields.get("model", "").strip(), fields.get("name", "").strip()
    if "Watch" in model or "Watch" in name:
        return WATCH, "Apple Watch"
    if "iPhone" in model or "iPhone" in name:
        return IPHONE, "iPhone"
    if "Watch" in source_name:
        return WATCH, "Apple Watch"
    if "iPhone" in source_name:
        return IPHONE, "iPhone"
    if "iPad" in source_name or "iPad" in model:
        return OTHER_APP, "iPad"
    return OTHER_APP, _POSSESSIVE.sub("", source_name).strip() or "unknown app"


class SourceBook:
    """Numbers each distinct source once, so the bulk record columns hold a small integer."""

    def __init__(self) -> None:
        self.sources: list[SourceInfo] = []
        self.watch: list[bool] = []  # by source id: is it an Apple Watch
        self._ids: dict[tuple[str, int], int] = {}
        self._cache: dict[tuple[str, str], int] = {}

    def known(self, source_name: str | None, device: str | None) -> int | None:
        """The id of a source seen before with this device, else None (nothing is numbered)."""
        # the device string starts with a per-record pointer (<<HKDevice: 0x…>); key on the rest
        return self._cache.get((source_name or "", device.partition(">,")[2] if device else ""))

    def id_of(self, source_name: str | None, device: str | None) -> int:
        source_name = source_name or ""
        fields = device.partition(">,")[2] if device else ""
        key = (source_name, fields)
        found = self._cache.get(key)
        if found is None:
            if (
                len(self._cache) > 100_000
            ):  # device strings with per-record parts: stop caching them
                self._cache.clear()
            rank, label = _classify(source_name, fields)
            identity = (source_name, rank)
            found = self._ids.get(identity)
            if found is None:
                found = self._ids[identity] = len(self.sources)
                self.sources.append(SourceInfo(source_name, rank, label))
                self.watch.append(rank == WATCH)
            self._cache[key] = found
        return found

    def adopt(self, source: SourceInfo) -> int:
        """The id here of a source numbered in another book (the other half of the export)."""
        found = self._ids.get((source.name, source.rank))
        if found is None:
            found = self._ids[(source.name, source.rank)] = len(self.sources)
            self.sources.append(source)
            self.watch.append(source.is_watch)
        return found

    def __getitem__(self, source_id: int) -> SourceInfo:
        return self.sources[source_id]
