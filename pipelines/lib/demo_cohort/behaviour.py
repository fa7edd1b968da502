"""What people actually do: app sessions (by archetype), true daily steps and true nightly sleep.

Generated before any outcome, so the planted pain effects can be computed from it.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .people import Person
from .schedule import Calendar, local_datetime

STRETCH_TARGETS = ("hamstrings", "hip_flexors", "full_body")
STRETCH_TARGET_P = np.cumsum([0.40, 0.35, 0.25])
LATE_SLOTS = tuple(21 * 3600 + 30 * 60 + 5 * 60 * k for k in range(25))  # 21:30 … 23:30
EXACT_2230 = 22 * 3600 + 30 * 60
SLOT_WINDOWS = {  # seconds of the local day
    "morning": (6 * 3600 + 15 * 60, 8 * 3600 + 45 * 60),
    "lunch": (11 * 3600 + 45 * 60, 13 * 3600 + 30 * 60),
    "early_evening": (17 * 3600 + 30 * 60, 20 * 3600 + 30 * 60),
}
DAY_END = 24 * 3600 - 60  # sessions must start before 23:59 local (same local day)


@dataclass
class Session:
    participant_id: str
    start: datetime  # aware, in the participant's zone
    duration_s: int
    kind: str
    target: str | None
    discomfort: int | None
    guided_breathing: bool | None
    completed: bool
    app_version: str
    device_model: str
    session_id: str = ""

    @property
    def local_day(self) -> date:
        return self.start.date()


@dataclass
class Behaviour:
    """One person's true behaviour from ``first_day`` (enrolment − 14) to ``as_of``."""

    sessions: list[Session]
    first_day: date
    true_steps: np.ndarray  # int, per calendar day
    true_sleep_min: np.ndarray  # int, minutes asleep in the night ending that morning

    def index(self, day: date) -> int:
        return (day - self.first_day).days


def app_version(p: Person, day: date, cal: Calendar) -> str:
    if p.traits.legacy_app and day < cal.start + timedelta(days=18):
        return "2.2.0"
    return "2.3.1" if day < p.traits.upgrade_day else "2.4.0"


def _stretch_plan(p: Person, rng: np.random.Generator) -> np.ndarray:
    """Stretch sessions per program day (all program_weeks*7 days; truncated later)."""
    t = p.traits
    n_days = p.program_weeks * 7
    week = np.arange(n_days) // 7
    if p.archetype == "boom_bust":
        plan = np.zeros(n_days, dtype=int)
        d = int(rng.integers(0, 3))
        while d < n_days:
            burst = int(rng.integers(1, 3))
            for k in range(burst):
                if d + k < n_days:
                    plan[d + k] = int(rng.integers(3, 6))
            d += burst + int(rng.integers(5, 10))  # ≥ 5 empty days after each burst
        return plan
    mult = t.adherence_scale * np.exp(rng.normal(0.0, 0.30, size=p.program_weeks))
    p_day = np.clip(p.prescribed / 7 * mult[week], 0.02, 0.97)
    plan = (rng.random(n_days) < p_day).astype(int) + (rng.random(n_days) < 0.04).astype(int)
    if t.fade_week is not None:
        last = week == t.fade_week - 1  # the last logged week is already thinning out
        plan[last] *= rng.random(int(last.sum())) < 0.5
        plan[week >= t.fade_week] = 0
    return plan


def _first_start(p: Person, rng: np.random.Generator) -> int:
    slot = p.traits.slot
    if slot == "late":
        return EXACT_2230 if rng.random() < 0.3 else LATE_SLOTS[int(rng.integers(0, 25))]
    if slot == "mixed":
        slot = ("morning", "lunch", "early_evening")[int(rng.integers(0, 3))]
    lo, hi = SLOT_WINDOWS[slot]
    return int(rng.integers(lo, hi))


def _stretch(p: Person, rng: np.random.Generator, start: datetime, version: str) -> Session:
    t = p.traits
    target = STRETCH_TARGETS[int(np.searchsorted(STRETCH_TARGET_P, rng.random(), side="right"))]
    completed = bool(rng.random() >= t.abandon_p)
    if completed:
        duration = int(max(180, rng.normal(t.stretch_minutes * 60, 150)))
    else:
        duration = int(rng.integers(45, 301))
    if p.archetype == "too_hard":
        discomfort = int(rng.integers(6, 10)) if rng.random() < 0.85 else int(rng.integers(3, 6))
    else:
        discomfort = min(10, max(0, math.floor(rng.normal(t.discomfort_mean, 1.1) + 0.5)))
    return Session(
        p.participant_id,
        start,
        duration,
        "stretch",
        target,
        discomfort,
        bool(rng.random() < t.breathing_p),
        completed,
        version,
        t.device_model,
    )


def simulate(p: Person, cal: Calendar) -> Behaviour:
    rng = p.rng
    t = p.traits
    tz = p.timezone
    first_day = p.enrolled_on - timedelta(days=14)
    n_cal = (cal.as_of - first_day).days + 1
    cutoff = cal.export_instant(cal.export_date)  # nothing can start after the final export

    # --- true sleep (night ending on the morning of each day) and base steps -------------
    weekday = np.array([(first_day + timedelta(days=k)).weekday() for k in range(n_cal)])
    sleep_h = rng.normal(t.sleep_mean_h, 0.85, size=n_cal) + 0.4 * (weekday >= 5)
    true_sleep_min = np.rint(np.clip(sleep_h, 3.0, 11.0) * 60).astype(int)
    week_mult = np.exp(rng.normal(0.0, 0.15, size=n_cal // 7 + 1))[np.arange(n_cal) // 7]
    day_mult = np.exp(rng.normal(0.0, 0.28, size=n_cal)) * np.where(
        weekday == 6, 0.85, np.where(weekday == 5, 1.05, 1.0)
    )
    steps = t.steps_mean * week_mult * day_mult

    # --- app sessions ----------------------------------------------------------------------
    n_prog = p.program_weeks * 7
    plan = _stretch_plan(p, rng)
    extra = rng.random((n_prog, 3))  # breathing / walk / other, per program day
    if p.idx == 0 and n_prog:
        plan[0] = max(plan[0], 1)
    last_active = p.last_active_day(cal.as_of)
    fade_day = n_prog if t.fade_week is None else t.fade_week * 7
    sessions: list[Session] = []

    def add(s: Session) -> None:
        if s.start < cutoff:
            sessions.append(s)

    for d in range(n_prog):
        day = p.enrolled_on + timedelta(days=d)
        if day > last_active:
            break
        version = app_version(p, day, cal)
        if plan[d]:
            sec = EXACT_2230 if (p.idx == 0 and d < 2) else _first_start(p, rng)
            stretches: list[Session] = []
            last_end = sec
            for _ in range(int(plan[d])):
                if sec > DAY_END:
                    break
                s = _stretch(p, rng, local_datetime(day, sec, tz), version)
                stretches.append(s)
                add(s)
                last_end = sec + s.duration_s
                sec = last_end + int(rng.integers(60, 1201))
            if stretches and rng.random() < t.stability_p:
                follow = last_end + int(rng.integers(60, 901))
                if follow <= DAY_END:
                    add(
                        Session(
                            p.participant_id,
                            local_datetime(day, follow, tz),
                            int(rng.integers(300, 901)),
                            "stability",
                            "core",
                            None,
                            bool(rng.random() < 0.7 * t.breathing_p),
                            bool(rng.random() < 0.97),
                            version,
                            t.device_model,
                        )
                    )
        if d >= fade_day:
            continue
        if extra[d, 0] < t.breathing_session_p:
            add(
                Session(
                    p.participant_id,
                    local_datetime(day, int(rng.integers(7 * 3600, 22 * 3600)), tz),
                    int(rng.integers(180, 601)),
                    "breathing",
                    None,
                    None,
                    True,
                    True,
                    version,
                    t.device_model,
                )
            )
        if extra[d, 1] < t.walk_p:
            dur = int(rng.integers(900, 3601))
            add(
                Session(
                    p.participant_id,
                    local_datetime(day, int(rng.integers(7 * 3600, 20 * 3600)), tz),
                    dur,
                    "walk",
                    None,
                    None,
                    None,
                    True,
                    version,
                    t.device_model,
                )
            )
            k = (day - first_day).days
            steps[k] += dur / 60 * rng.uniform(90, 115)
        if extra[d, 2] < t.other_p:
            add(
                Session(
                    p.participant_id,
                    local_datetime(day, int(rng.integers(8 * 3600, 21 * 3600)), tz),
                    int(rng.integers(300, 1801)),
                    "other",
                    "full_body" if rng.random() < 0.5 else None,
                    None,
                    False,
                    True,
                    version,
                    t.device_model,
                )
            )

    # Some finishers keep stretching after the program ended (program_day is null there).
    if t.continues_after and p.withdrawn_on is None:
        day = p.program_end + timedelta(days=1)
        while day <= cal.as_of:
            if rng.random() < 0.3:
                add(
                    _stretch(
                        p,
                        rng,
                        local_datetime(day, _first_start(p, rng), tz),
                        app_version(p, day, cal),
                    )
                )
            day += timedelta(days=1)

    sessions.sort(key=lambda s: s.start)
    for s in sessions:
        s.session_id = str(uuid.UUID(bytes=rng.bytes(16), version=4))
    return Behaviour(
        sessions=sessions,
        first_day=first_day,
        true_steps=np.rint(steps).astype(int),
        true_sleep_min=true_sleep_min,
    )
