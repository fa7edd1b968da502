"""Sleep episodes from HKCategoryTypeIdentifierSleepAnalysis samples.

Values: before iOS 16 InBed / Asleep / Awake; since iOS 16 InBed / AsleepUnspecified /
AsleepCore / AsleepDeep / AsleepREM / Awake (HealthKit's 0–5 when numeric). Sleep
apps write overlapping samples freely (a whole-night Asleep plus its segments,
the same InBed twice), and several sources log the same night.

1. Per source, samples closer than EPISODE_GAP_S (gap < 1 h) form one episode.
2. minutes_asleep = length of the union of its asleep samples (overlaps never
   count twice); minutes_in_bed = length of the union of all its samples (InBed,
   asleep, Awake). An episode with no asleep sample (the iPhone's Bedtime writes
   InBed only) has minutes_asleep null: in bed is not asleep, and unknown is not 0.
3. One source per night: episodes that overlap keep only the best — one with
   asleep data over one without, then Apple Watch > iPhone > other apps, then
   more minutes asleep. Episodes that do not overlap (a nap) all stay.
4. local_day = the date the episode ends, on the record's own clock from its
   HKTimeZone metadata; null when no sample names its zone (the offsets written
   in the export are the export's, see clock.py; staging then uses the roster's
   time zone). is_main marks the episode with most sleep among those ending that
   day (the day from HKTimeZone, or for that grouping only from the export offset).
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .clock import local_date, to_datetime, zone_offset_min
from .devices import SourceInfo

if TYPE_CHECKING:  # Polars loads in the functions that make frames (apple_health_half.py)
    import polars as pl

EPISODE_GAP_S = 3600

IN_BED, ASLEEP, AWAKE = "in_bed", "asleep", "awake"
# value → (state, is a stage); numeric forms are HKCategoryValueSleepAnalysis raw values
SLEEP_VALUES = {
    "HKCategoryValueSleepAnalysisInBed": (IN_BED, False),
    "HKCategoryValueSleepAnalysisAsleep": (ASLEEP, False),
    "HKCategoryValueSleepAnalysisAsleepUnspecified": (ASLEEP, False),
    "HKCategoryValueSleepAnalysisAwake": (AWAKE, False),
    "HKCategoryValueSleepAnalysisAsleepCore": (ASLEEP, True),
    "HKCategoryValueSleepAnalysisAsleepDeep": (ASLEEP, True),
    "HKCategoryValueSleepAnalysisAsleepREM": (ASLEEP, True),
    "0": (IN_BED, False),
    "1": (ASLEEP, False),
    "2": (AWAKE, False),
    "3": (ASLEEP, True),
    "4": (ASLEEP, True),
    "5": (ASLEEP, True),
}


@dataclass(frozen=True, slots=True)
class SleepSample:
    source: int
    start: int
    end: int
    state: str
    staged: bool
    zone: str | None


@dataclass
class _Episode:
    source: int
    samples: list[SleepSample] = field(default_factory=list)
    start: int = 0
    end: int = 0

    def asleep_s(self) -> int:
        return _union_length([(s.start, s.end) for s in self.samples if s.state == ASLEEP])

    def in_bed_s(self) -> int:
        return _union_length([(s.start, s.end) for s in self.samples])

    def zone(self) -> str | None:
        zoned = [s for s in self.samples if s.zone]
        return max(zoned, key=lambda s: s.end).zone if zoned else None


def _union_length(spans: list[tuple[int, int]]) -> int:
    total, reach = 0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += end - start
            reach = end
        elif end > reach:
            total += end - reach
            reach = end
    return total


def _episodes_of(samples: list[SleepSample]) -> list[_Episode]:
    episodes: list[_Episode] = []
    current: _Episode | None = None
    for sample in sorted(samples, key=lambda s: (s.start, s.end)):
        if current is None or sample.start - current.end >= EPISODE_GAP_S:
            current = _Episode(sample.source, start=sample.start, end=sample.end)
            episodes.append(current)
        current.samples.append(sample)
        current.end = max(current.end, sample.end)
    return episodes


def sleep_episodes(
    samples: list[SleepSample], sources: list[SourceInfo], export_offset_min: int
) -> pl.DataFrame:
    """Rows of wearable_sleep (without who-columns), one per kept episode."""
    import polars as pl

    by_source: dict[int, list[SleepSample]] = {}
    for sample in samples:
        by_source.setdefault(sample.source, []).append(sample)
    candidates = []
    for source_samples in by_source.values():
        for episode in _episodes_of(source_samples):
            asleep = episode.asleep_s()
            has_asleep = any(s.state == ASLEEP for s in episode.samples)
            rank = (
                has_asleep,
                sources[episode.source].rank,
                asleep,
                episode.in_bed_s(),
                -episode.start,
            )
            candidates.append((rank, episode, asleep if has_asleep else None))
    candidates.sort(key=lambda c: c[0], reverse=True)

    # kept episodes never overlap: sorted by start, they are sorted by end too
    kept_starts: list[int] = []
    kept_ends: list[int] = []
    kept: list[tuple[_Episode, int | None]] = []
    for _, episode, asleep in candidates:
        # the kept episode starting last before this one ends is the only one that can overlap it
        at = bisect_left(kept_starts, episode.end) - 1
        if at >= 0 and kept_ends[at] > episode.start:
            continue
        kept.append((episode, asleep))
        kept_starts.insert(at + 1, episode.start)
        kept_ends.insert(at + 1, episode.end)

    rows = []
    for episode, asleep in sorted(kept, key=lambda k: k[0].start):
        source = sources[episode.source]
        zone = episode.zone()
        end_offset = zone_offset_min(zone, episode.end)
        local_day = local_date(episode.end, end_offset) if end_offset is not None else None
        staged = any(s.staged for s in episode.samples)
        rows.append(
            {
                "device": source.label,
                "start_utc": to_datetime(episode.start),
                "end_utc": to_datetime(episode.end),
                "utc_offset_min": zone_offset_min(zone, episode.start),
                "local_day": local_day,
                "grouping_day": local_day or local_date(episode.end, export_offset_min),
                "episode_id": hashlib.sha1(
                    f"apple_health|{source.name}|{episode.start}".encode()
                ).hexdigest(),
                "minutes_asleep": None if asleep is None else (asleep + 30) // 60,
                "minutes_in_bed": (episode.in_bed_s() + 30) // 60,
                "sleep_type": "asleep_core_deep_rem"
                if staged
                else ("in_bed_asleep" if asleep is not None else "in_bed"),
            }
        )
    if not rows:
        return pl.DataFrame()
    frame = pl.DataFrame(rows).with_row_index("row")
    main = (
        frame.with_columns(pl.col("minutes_asleep").fill_null(0).alias("asleep"))
        .sort(["asleep", "minutes_in_bed", "start_utc"], descending=[True, True, False])
        .unique("grouping_day", keep="first")["row"]
    )
    return frame.with_columns(is_main=pl.col("row").is_in(main.implode())).drop(
        "row", "grouping_day"
    )
