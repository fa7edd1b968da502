"""What a Fitbit records of that behaviour, as Fitabase exports it (dailyActivity + sleepDay)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from .behaviour import Behaviour
from .people import Person
from .schedule import FITABASE_LEAD_DAYS, FITABASE_TAIL_DAYS, Calendar


@dataclass
class ActivityDay:
    day: date
    worn: bool
    steps: int
    total_km: float
    very_km: float
    moderate_km: float
    light_km: float
    sedentary_km: float
    very_min: int
    fairly_min: int
    light_min: int
    sedentary_min: int
    calories: int


@dataclass
class SleepDay:
    day: date  # the day the sleep ended (local wake-up day)
    records: int
    minutes_asleep: int
    minutes_in_bed: int


@dataclass
class Recording:
    fitbit_id: str
    participant_id: str | None
    first: date
    last: date
    activity: list[ActivityDay]
    sleep: list[SleepDay]

    def worn_on(self, day: date) -> bool | None:
        if not (self.first <= day <= self.last):
            return None
        return self.activity[(day - self.first).days].worn


def coverage(p: Person, cal: Calendar) -> tuple[date, date]:
    """Fitabase rows: 14 days before enrolment … min(E−1, withdrawal/program end + 7)."""
    end = p.withdrawn_on if p.withdrawn_on is not None else p.program_end
    return (
        p.enrolled_on - timedelta(days=FITABASE_LEAD_DAYS),
        min(cal.as_of, end + timedelta(days=FITABASE_TAIL_DAYS)),
    )


def _split_km(total: float, very: int, fairly: int, light: int) -> tuple[float, float, float]:
    wv, wm, wl = very * 0.13, fairly * 0.09, light * 0.02
    w = wv + wm + wl
    if w <= 0:
        return 0.0, 0.0, round(total, 2)
    v, m = round(total * wv / w, 2), round(total * wm / w, 2)
    return v, m, max(0.0, round(total - v - m, 2))


def _record(
    rng: np.random.Generator,
    fitbit_id: str,
    pid: str | None,
    first: date,
    last: date,
    steps: np.ndarray,
    sleep_min: np.ndarray,
    nonwear_p: float,
    gaps: int,
    tracks_sleep: bool,
    stride_km: float,
    bmr: int,
) -> Recording:
    """``steps``/``sleep_min`` are indexed from ``first``."""
    n = (last - first).days + 1
    worn = rng.random(n) >= nonwear_p
    for _ in range(gaps):
        length = int(rng.integers(3, 11))
        at = int(rng.integers(0, max(1, n - length)))
        worn[at : at + length] = False
    sleep_kept = rng.random(n) < 0.93
    naps = rng.random(n) < 0.07
    noise = rng.normal(0.0, 1.0, size=(n, 4))
    st = np.asarray(steps[:n], dtype=float)
    very_a = np.clip(np.rint(np.maximum(0.0, (st - 5500) / 300) + 6 * noise[:, 0]), 0, 200)
    fairly_a = np.clip(np.rint(st / 1000 + 3 + 4 * noise[:, 1]), 0, 120)
    light_a = np.clip(np.rint(120 + st / 45 + 35 * noise[:, 2]), 20, 520)
    activity: list[ActivityDay] = []
    sleep: list[SleepDay] = []
    for k in range(n):
        day = first + timedelta(days=k)
        asleep = 0
        if worn[k] and tracks_sleep and sleep_kept[k]:
            asleep = int(sleep_min[k])
            records = 1
            bed_extra = int(rng.integers(8, 56))
            if naps[k]:
                nap = int(rng.integers(25, 91))
                asleep += nap
                records = 2
                bed_extra += int(rng.integers(2, 15))
            sleep.append(SleepDay(day, records, asleep, asleep + bed_extra))
        if not worn[k]:
            activity.append(ActivityDay(day, False, 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, 1440, bmr))
            continue
        s_k = int(steps[k])
        very, fairly, light = int(very_a[k]), int(fairly_a[k]), int(light_a[k])
        sedentary = max(0, 1440 - very - fairly - light - asleep)
        total = round(s_k * stride_km, 2)
        v_km, m_km, l_km = _split_km(total, very, fairly, light)
        sed_km = 0.01 if noise[k, 3] > 2.0 else 0.0
        calories = int(round(bmr + s_k * 0.04 + very * 7 + fairly * 4 + light * 1.5))
        activity.append(
            ActivityDay(
                day,
                True,
                s_k,
                total,
                v_km,
                m_km,
                l_km,
                sed_km,
                very,
                fairly,
                light,
                sedentary,
                calories,
            )
        )
    return Recording(fitbit_id, pid, first, last, activity, sleep)


def record(p: Person, b: Behaviour, cal: Calendar) -> Recording | None:
    if p.fitbit_id is None:
        return None
    first, last = coverage(p, cal)
    lo, hi = b.index(first), b.index(last) + 1
    t = p.traits
    return _record(
        p.rng,
        p.fitbit_id,
        p.participant_id,
        first,
        last,
        b.true_steps[lo:hi],
        b.true_sleep_min[lo:hi],
        t.nonwear_p,
        t.nonwear_gaps,
        t.tracks_sleep,
        t.stride_km,
        t.bmr,
    )


def test_device(rng: np.random.Generator, taken: set[str], cal: Calendar) -> Recording:
    """A device the program's staff tested before launch: its Id is in no roster."""
    while True:
        fid = str(int(rng.integers(1_000_000_000, 10_000_000_000)))
        if fid not in taken:
            break
    first = cal.fitabase_start + timedelta(days=4)
    last = min(cal.as_of, first + timedelta(days=17))
    n = (last - first).days + 1
    steps = np.rint(rng.normal(6000, 1500, size=n).clip(500, None)).astype(int)
    sleep = np.rint(rng.normal(420, 40, size=n)).astype(int)
    return _record(rng, fid, None, first, last, steps, sleep, 0.1, 0, True, 0.0007, 1600)
