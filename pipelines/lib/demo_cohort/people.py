"""Who is in the demo cohort: roster attributes and each person's (hidden) behavioural traits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np

from .schedule import COHORT_A, COHORT_SHARES, COHORTS, Calendar

ARCHETYPES = ("steady", "boom_bust", "too_hard", "evening", "fading")
ARCHETYPE_SHARES = (0.35, 0.15, 0.15, 0.15, 0.20)

TIMEZONES = (
    "America/Chicago",
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Sydney",
)
TIMEZONE_SHARES = (0.55, 0.13, 0.12, 0.08, 0.06, 0.06)
AMERICAS = frozenset(TIMEZONES[:3])

SITES_CHICAGO = ("Lakeview Spine Clinic", "Northside Physio", "Acme Logistics")
SITES_US_OTHER = ("Acme Logistics", "Northside Physio")
SITE_INTERNATIONAL = "Globex Remote"

DEVICE_MODELS = ("iPhone 13", "iPhone 15", "Pixel 7", "Pixel 8", "Galaxy S23", "iPad Air")

# Display names ("Ana R."): made-up first names and an initial, chosen from the person's place
# in the roster (no random draw, so adding them changed nothing else the generator makes).
FIRST_NAMES = (
    "Ana", "Ben", "Chioma", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kemi",
    "Luca", "Mara", "Nils", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tova", "Uma",
    "Viktor", "Wen", "Yara", "Zeb",
)  # fmt: skip
INITIALS = "ABCDEFGHJKLMNOPRSTVW"
NO_DISPLAY_NAME_EVERY = 13
"""Every 13th person has no display name: the roster column is optional."""

WEARABLE_SHARE = 0.70
WITHDRAWAL_SHARE = 0.05
PEOPLE_PER_COACH = 25


@dataclass
class Traits:
    """Hidden per-person behaviour parameters (documented in docs/demo-data.md)."""

    adherence_scale: float
    slot: str  # morning | lunch | early_evening | mixed | late
    breathing_p: float  # P(guided breathing) in a stretch session
    stability_p: float  # P(stability follow-up) on a stretching day
    walk_p: float
    breathing_session_p: float
    other_p: float
    discomfort_mean: float
    abandon_p: float
    stretch_minutes: float
    steps_mean: float
    stride_km: float
    bmr: int
    sleep_mean_h: float
    tracks_sleep: bool
    nonwear_p: float
    nonwear_gaps: int
    checkin_p: float
    checkin_stop_frac: float | None
    checkin_hour: float
    fade_week: int | None  # last program week with sessions (fading archetype)
    continues_after: bool  # keeps stretching after the program ended
    stress_base: float
    confidence_base: float
    legacy_app: bool  # runs app 2.2.0 at first
    upgrade_day: date
    device_model: str
    base_pain: float
    tsk_base: float


@dataclass
class Person:
    idx: int
    participant_id: str
    cohort: str
    site: str
    coach_id_first: str  # coach in the first roster export
    coach_id: str  # final coach (last roster export)
    enrolled_on: date
    program_weeks: int
    prescribed: int
    timezone: str
    withdrawn_on: date | None
    fitbit_id: str | None
    display_name: str | None
    archetype: str
    traits: Traits
    rng: np.random.Generator = field(repr=False, compare=False)

    @property
    def program_end(self) -> date:
        return self.enrolled_on + timedelta(days=self.program_weeks * 7 - 1)

    def last_active_day(self, as_of: date) -> date:
        """The last day on which this person can produce program data (sessions, check-ins)."""
        end = self.program_end
        if self.withdrawn_on is not None:
            end = min(end, self.withdrawn_on - timedelta(days=1))
        return min(end, as_of)

    def last_elapsed_day(self, as_of: date) -> date:
        """Last day that counts as elapsed (≤ as_of, ≤ withdrawn_on, ≤ program end)."""
        end = min(self.program_end, as_of)
        if self.withdrawn_on is not None:
            end = min(end, self.withdrawn_on)
        return end


def allocate(n: int, shares: tuple[float, ...], at_least_one: bool = True) -> list[int]:
    """Split ``n`` by ``shares`` (largest remainder); every share gets ≥ 1 when n allows."""
    raw = [n * s / sum(shares) for s in shares]
    counts = [int(np.floor(x)) for x in raw]
    order = sorted(range(len(shares)), key=lambda k: (-(raw[k] - counts[k]), k))
    for k in order[: n - sum(counts)]:
        counts[k] += 1
    if at_least_one and n >= len(shares):
        for k in range(len(shares)):
            if counts[k] == 0:
                donor = max(range(len(shares)), key=lambda j: (counts[j], -j))
                counts[donor] -= 1
                counts[k] = 1
    return counts


def _labels(rng: np.random.Generator, n: int, names, shares) -> list[str]:
    labels = [name for name, c in zip(names, allocate(n, shares), strict=True) for _ in range(c)]
    return [labels[k] for k in rng.permutation(n)]


def _traits(rng: np.random.Generator, archetype: str, weeks: int, start: date) -> Traits:
    u = rng.uniform
    scale = {
        "steady": u(0.75, 1.15),
        "boom_bust": 1.0,
        "too_hard": u(0.5, 0.95),
        "evening": u(0.6, 1.1),
        "fading": u(0.7, 1.1),
    }[archetype]
    slot = (
        "late"
        if archetype == "evening"
        else str(
            rng.choice(["morning", "lunch", "early_evening", "mixed"], p=[0.4, 0.15, 0.3, 0.15])
        )
    )
    stability_p = u(0.0, 0.12) if rng.random() < 0.4 else u(0.3, 0.85)
    fade_week = None
    if archetype == "fading":
        lo, hi = max(1, round(0.3 * weeks)), max(1, round(0.7 * weeks))
        fade_week = int(rng.integers(lo, hi + 1))
        if fade_week >= weeks:
            fade_week = max(1, weeks - 1)
    stop_p = 0.7 if archetype == "fading" else 0.15
    checkin_stop = float(u(0.3, 0.8)) if rng.random() < stop_p else None
    return Traits(
        adherence_scale=float(scale),
        slot=slot,
        breathing_p=float(u(0.05, 0.95)),
        stability_p=float(stability_p),
        walk_p=float(u(0.05, 0.35)),
        breathing_session_p=float(u(0.0, 0.12)),
        other_p=0.015,
        discomfort_mean=float(u(0.8, 4.0)),
        abandon_p=float(u(0.08, 0.2) if archetype == "too_hard" else u(0.01, 0.06)),
        stretch_minutes=float(u(8, 20)),
        steps_mean=float(np.clip(rng.normal(7000, 2300), 2000, 16000)),
        stride_km=float(u(0.00062, 0.00080)),
        bmr=int(rng.integers(1350, 1801)),
        sleep_mean_h=float(np.clip(rng.normal(6.9, 0.7), 4.8, 8.8)),
        tracks_sleep=bool(rng.random() < 0.88),
        nonwear_p=float(u(0.03, 0.11)),
        nonwear_gaps=int(rng.choice([0, 1, 2], p=[0.55, 0.33, 0.12])),
        checkin_p=float(u(0.55, 0.95)),
        checkin_stop_frac=checkin_stop,
        checkin_hour=float(u(21.0, 22.9) if archetype == "evening" else u(7.0, 21.0)),
        fade_week=fade_week,
        continues_after=bool(archetype in ("steady", "evening") and rng.random() < 0.25),
        stress_base=float(np.clip(rng.normal(4.0, 1.6), 0, 10)),
        confidence_base=float(np.clip(rng.normal(4.5, 1.5), 0, 10)),
        legacy_app=bool(rng.random() < 0.10),
        upgrade_day=start + timedelta(days=int(rng.integers(20, 61))),
        device_model=str(rng.choice(DEVICE_MODELS)),
        base_pain=float(rng.normal(5.8, 1.0)),
        tsk_base=float(np.clip(rng.normal(27, 5), 15, 40)),
    )


def display_name(idx: int) -> str | None:
    """The roster's display name of the person at position `idx`: "Ana R.", or None."""
    if idx % NO_DISPLAY_NAME_EVERY == NO_DISPLAY_NAME_EVERY - 1:
        return None
    return f"{FIRST_NAMES[idx % len(FIRST_NAMES)]} {INITIALS[idx * 7 % len(INITIALS)]}."


def _site(rng: np.random.Generator, tz: str) -> str:
    if tz == "America/Chicago":
        return str(rng.choice(SITES_CHICAGO, p=[0.45, 0.35, 0.20]))
    if tz in AMERICAS:
        return str(rng.choice(SITES_US_OTHER, p=[0.7, 0.3]))
    return SITE_INTERNATIONAL


def make_people(
    n: int, cal: Calendar, rng: np.random.Generator, person_seeds: list[np.random.SeedSequence]
) -> list[Person]:
    """The roster. ``rng`` draws cohort-level allocations; each person gets their own stream."""
    if n < 1:
        raise ValueError("participants must be >= 1")
    weeks = cal.weeks
    cohorts = _labels(rng, n, COHORTS, COHORT_SHARES)
    tzs = _labels(rng, n, TIMEZONES, TIMEZONE_SHARES)
    archetypes = _labels(rng, n, ARCHETYPES, ARCHETYPE_SHARES)
    n_wear = round(WEARABLE_SHARE * n)
    wears = [k < n_wear for k in rng.permutation(n)]
    prescribed = rng.choice([5, 3, 7], size=n, p=[0.75, 0.15, 0.10])
    enrol = [cal.windows[c][int(rng.integers(0, 5))] for c in cohorts]
    order_key = rng.random(n)

    # Sentinel: the first cohort-A person is an evening stretcher in Chicago with a Fitbit,
    # enrolled on the first day, so 22:30-local sessions crossing the UTC day and the US DST
    # change always exist, even in tiny cohorts.
    sentinel = cohorts.index(COHORT_A) if COHORT_A in cohorts else 0
    tzs[sentinel] = "America/Chicago"
    archetypes[sentinel] = "evening"
    wears[sentinel] = True
    prescribed[sentinel] = 5
    enrol[sentinel] = cal.windows[cohorts[sentinel]][0]
    order_key[sentinel] = -1.0

    order = sorted(range(n), key=lambda k: (enrol[k], order_key[k]))

    fitbit_ids: set[str] = set()

    def new_fitbit_id() -> str:
        while True:
            fid = str(int(rng.integers(1_000_000_000, 10_000_000_000)))
            if fid not in fitbit_ids:
                fitbit_ids.add(fid)
                return fid

    n_coaches = max(2, round(n / PEOPLE_PER_COACH))
    coach_of = rng.permutation(n) % n_coaches

    people: list[Person] = []
    for pos, k in enumerate(order):
        prng = np.random.default_rng(person_seeds[pos])
        tz = tzs[k]
        coach = f"C-{int(coach_of[pos]) + 1:02d}"
        people.append(
            Person(
                idx=pos,
                participant_id=f"P-{pos + 1:05d}",
                cohort=cohorts[k],
                site=_site(rng, tz),
                coach_id_first=coach,
                coach_id=coach,
                enrolled_on=enrol[k],
                program_weeks=weeks,
                prescribed=int(prescribed[k]),
                timezone=tz,
                withdrawn_on=None,
                fitbit_id=new_fitbit_id() if wears[k] else None,
                display_name=display_name(pos),
                archetype=archetypes[k],
                traits=_traits(prng, archetypes[k], weeks, cal.start),
                rng=prng,
            )
        )

    # Withdrawals (~5 %): mid-program, known by the final roster export.
    candidates = [
        p for p in people[1:] if weeks * 7 >= 14 and (cal.as_of - p.enrolled_on).days >= 12
    ]
    n_withdraw = min(len(candidates), round(WITHDRAWAL_SHARE * n))
    for k in sorted(rng.choice(len(candidates), size=n_withdraw, replace=False)):
        p = candidates[int(k)]
        lo = 10
        hi = min(int(0.6 * weeks * 7), weeks * 7 - 2, (cal.as_of - p.enrolled_on).days - 1)
        p.withdrawn_on = p.enrolled_on + timedelta(days=int(rng.integers(lo, max(lo, hi) + 1)))

    # One coach reassignment between the two roster exports.
    active = [p for p in people[1:] if p.withdrawn_on is None] or people
    moved = active[int(rng.integers(0, len(active)))]
    first = int(moved.coach_id_first[2:])
    moved.coach_id = f"C-{first % n_coaches + 1:02d}"
    return people
