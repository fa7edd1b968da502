"""Outcomes computed from behaviour: the planted pain model, daily check-ins, questionnaires."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np

from .behaviour import Behaviour
from .people import Person
from .schedule import Calendar, local_datetime
from .wearable import Recording

# --- the planted effects (see docs/demo-data.md and truth/effects.json) --------------------
BETA = {
    "week": -0.10,  # per program week
    "sleep_prev_night_h": -0.40,  # per hour above the person's mean (within)
    "consistency_10pct": -0.15,  # per +10 pp weekly adherence above the person's mean (within)
    "consistency_10pct_between": -0.30,  # per +10 pp person-mean adherence above 70 %
    "steps_1000": -0.10,  # per +1000 weekly mean daily steps above the person's mean (within)
    "steps_1000_between": -0.20,  # per +1000 person-mean daily steps above 7000
}
BASE_MEAN, BASE_SD, NOISE_SD = 5.8, 1.0, 0.8
CONSISTENCY_CENTRE = 0.7
STEPS_CENTRE = 7000.0

PROM_EVENTS = (
    ("baseline_arm_1", 0),
    ("week_4_arm_1", 4),
    ("week_8_arm_1", 8),
    ("week_12_arm_1", 12),
)


@dataclass
class Week:
    week: int
    start: date
    days_elapsed: int
    completed_stretch: int
    adherence: float  # min(1, completed / prescribed); nan if the week has not started
    steps_w: float  # nan when no step data that week


@dataclass
class CheckIn:
    participant_id: str
    day: date
    pain: int
    sleep_quality: int | None
    stress: int | None
    movement_confidence: int | None
    submitted_at: datetime


@dataclass
class Prom:
    record_id: str
    event: str
    prom_date: date
    odi: list[int | None]
    oswestry_complete: int
    tsk: list[int | None]
    tsk_complete: int
    psqi_total: int | None

    @property
    def odi_score(self) -> float | None:
        answered = [x for x in self.odi if x is not None]
        if self.oswestry_complete != 2 or len(answered) < 9:
            return None
        return round(sum(answered) / (5 * len(answered)) * 100, 2)

    @property
    def tsk_score(self) -> int | None:
        if self.tsk_complete != 2 or any(x is None for x in self.tsk):
            return None
        return sum(self.tsk)  # type: ignore[arg-type]


@dataclass
class Outcomes:
    days: list[date]  # program days 1 … program_weeks*7
    elapsed: np.ndarray  # bool
    completed_stretch: np.ndarray  # int per program day
    weeks: list[Week]
    mean_adh: float
    mean_steps: float
    mean_sleep_h: float
    latent: np.ndarray  # nan on days that did not elapse
    checkins: list[CheckIn]
    proms: list[Prom]

    def pain_on(self) -> dict[date, int]:
        return {c.day: c.pain for c in self.checkins}


def _clip_int(x: float, lo: int = 0, hi: int = 10) -> int:
    """Round half up, then clip: ``clip(floor(x + 0.5), lo, hi)``."""
    return min(hi, max(lo, math.floor(x + 0.5)))


def compute(p: Person, b: Behaviour, rec: Recording | None, cal: Calendar) -> Outcomes:
    rng = p.rng
    t = p.traits
    n_prog = p.program_weeks * 7
    days = [p.enrolled_on + timedelta(days=d) for d in range(n_prog)]
    last_elapsed = p.last_elapsed_day(cal.as_of)
    last_active = p.last_active_day(cal.as_of)
    elapsed = np.array([d <= last_elapsed for d in days])

    completed = np.zeros(n_prog, dtype=int)
    for s in b.sessions:
        if s.kind == "stretch" and s.completed:
            d = (s.local_day - p.enrolled_on).days
            if 0 <= d < n_prog:
                completed[d] += 1

    # --- weekly adherence and steps --------------------------------------------------------
    weeks: list[Week] = []
    for w in range(p.program_weeks):
        idx = [d for d in range(7 * w, 7 * w + 7) if elapsed[d]]
        start = days[7 * w]
        if not idx:
            weeks.append(Week(w + 1, start, 0, 0, float("nan"), float("nan")))
            continue
        n_done = int(completed[idx].sum())
        if rec is None:
            vals = [b.true_steps[b.index(days[d])] for d in idx]
        else:
            vals = [b.true_steps[b.index(days[d])] for d in idx if rec.worn_on(days[d])]
        steps_w = float(np.mean(vals)) if vals else float("nan")
        weeks.append(Week(w + 1, start, len(idx), n_done, min(1.0, n_done / p.prescribed), steps_w))
    with_data = [wk for wk in weeks if wk.days_elapsed > 0]
    mean_adh = float(np.mean([wk.adherence for wk in with_data]))
    step_vals = [wk.steps_w for wk in with_data if not np.isnan(wk.steps_w)]
    mean_steps = float(np.mean(step_vals)) if step_vals else STEPS_CENTRE

    sleep_h = np.array([b.true_sleep_min[b.index(d)] / 60 for d in days if d <= cal.as_of])
    sleep_h = np.concatenate([sleep_h, np.full(n_prog - len(sleep_h), np.nan)])
    mean_sleep_h = float(np.mean(sleep_h[elapsed]))

    # --- latent pain -------------------------------------------------------------------------
    noise = rng.normal(0.0, NOISE_SD, size=n_prog)
    latent = np.full(n_prog, np.nan)
    between = (
        BETA["consistency_10pct_between"] * 10 * (mean_adh - CONSISTENCY_CENTRE)
        + BETA["steps_1000_between"] * (mean_steps - STEPS_CENTRE) / 1000
    )
    expected_week = np.full(p.program_weeks, np.nan)
    for wk in with_data:
        w = wk.week - 1
        steps_term = 0.0 if np.isnan(wk.steps_w) else (wk.steps_w - mean_steps) / 1000
        expected_week[w] = (
            t.base_pain
            + BETA["week"] * w
            + BETA["consistency_10pct"] * 10 * (wk.adherence - mean_adh)
            + between
            + BETA["steps_1000"] * steps_term
        )
        for d in range(7 * w, 7 * w + 7):
            if elapsed[d]:
                latent[d] = (
                    expected_week[w]
                    + BETA["sleep_prev_night_h"] * (sleep_h[d] - mean_sleep_h)
                    + noise[d]
                )

    # --- daily check-ins ---------------------------------------------------------------------
    present = rng.random(n_prog) < t.checkin_p
    if t.checkin_stop_frac is not None:
        present[int(t.checkin_stop_frac * n_prog) :] = False
    u = rng.random((n_prog, 3))
    z = rng.normal(0.0, 1.0, size=(n_prog, 4))
    lo, hi = (
        (21 * 3600, 23 * 3600 - 1) if p.archetype == "evening" else (6 * 3600 + 1800, 23 * 3600 - 1)
    )
    checkins: list[CheckIn] = []
    for d in range(n_prog):
        day = days[d]
        if day > last_active or not present[d]:
            continue
        pain = _clip_int(latent[d])
        w = d // 7
        sq = _clip_int(5 + 1.4 * (sleep_h[d] - 7) + 1.3 * z[d, 0])
        stress = _clip_int(t.stress_base + 1.5 * z[d, 1])
        conf = _clip_int(t.confidence_base + 0.3 * w * mean_adh + 0.3 * (5 - pain) + z[d, 2])
        sec = int(min(hi, max(lo, t.checkin_hour * 3600 + 2700 * z[d, 3])))
        checkins.append(
            CheckIn(
                p.participant_id,
                day,
                pain,
                None if u[d, 0] < 0.03 else sq,
                None if u[d, 1] < 0.03 else stress,
                None if u[d, 2] < 0.03 else conf,
                local_datetime(day, sec, p.timezone),
            )
        )

    # --- questionnaires (REDCap) ---------------------------------------------------------------
    proms: list[Prom] = []
    for event, k in PROM_EVENTS:
        jitter = int(rng.integers(0, 4)) if k == 0 else int(rng.integers(-2, 4))
        skip = rng.random() < 0.08 and k > 0
        miss = rng.random(3)
        item_z = rng.normal(0.0, 1.0, size=(22,))
        if k > p.program_weeks or skip:
            continue
        prom_date = p.enrolled_on + timedelta(days=7 * k - jitter if k == 0 else 7 * k + jitter)
        if prom_date > cal.as_of or (p.withdrawn_on is not None and prom_date >= p.withdrawn_on):
            continue
        ref_week = max(1, k)
        pain_ref = expected_week[ref_week - 1]
        if np.isnan(pain_ref):
            pain_ref = t.base_pain + between
        odi_pct = float(np.clip(6 + 4.2 * pain_ref + 6 * item_z[0], 0, 90))
        odi: list[int | None] = [
            _clip_int(odi_pct / 20 + 0.7 * item_z[1 + j], 0, 5) for j in range(10)
        ]
        tsk_drop = (k / 4) * (2.0 if mean_adh >= CONSISTENCY_CENTRE else 0.5)
        tsk_total = t.tsk_base - tsk_drop + 1.5 * item_z[11]
        tsk: list[int | None] = [
            _clip_int(tsk_total / 11 + 0.55 * z, 1, 4) for z in rng.normal(0.0, 1.0, size=11)
        ]
        psqi = _clip_int(4 + 1.8 * (7 - t.sleep_mean_h) + 1.5 * item_z[12], 0, 21)
        odi_complete = tsk_complete = 2
        r = miss[0]
        if r < 0.04:  # one ODI item skipped: still scored
            odi[int(rng.integers(0, 10))] = None
        elif r < 0.07:  # two ODI items skipped: not scored
            for j in rng.choice(10, size=2, replace=False):
                odi[int(j)] = None
        elif r < 0.10:  # instrument left incomplete / unverified
            odi_complete = int(rng.integers(0, 2))
            if odi_complete == 0:
                for j in rng.choice(10, size=int(rng.integers(1, 6)), replace=False):
                    odi[int(j)] = None
        r = miss[1]
        if r < 0.04:
            tsk[int(rng.integers(0, 11))] = None
        elif r < 0.07:
            tsk_complete = int(rng.integers(0, 2))
        proms.append(
            Prom(
                p.participant_id,
                event,
                prom_date,
                odi,
                odi_complete,
                tsk,
                tsk_complete,
                None if miss[2] < 0.05 else psqi,
            )
        )

    return Outcomes(
        days=days,
        elapsed=elapsed,
        completed_stretch=completed,
        weeks=weeks,
        mean_adh=mean_adh,
        mean_steps=mean_steps,
        mean_sleep_h=mean_sleep_h,
        latent=latent,
        checkins=checkins,
        proms=proms,
    )
