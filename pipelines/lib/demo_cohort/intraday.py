"""What the Fitbit records minute by minute (`generate --minute-level`): Fitabase
`minuteStepsNarrow_merged.csv` and `heartrate_seconds_merged.csv`, laid over the daily files
without changing them (docs/demo-data.md, "Minute-level Fitabase").

Per wearer and minute of the recording: is the tracker on the body, and how many steps.
- A day the daily file shows worn is worn from waking to bedtime; a day it shows unworn was left
  at home. A night sleepDay records was slept in the tracker; any other night it lay on the
  nightstand (taken off up to 45 min before bed, put on up to 30 min after waking).
- Charging: people who sleep in it charge it by day every 3–6 days, for 60–120 min while
  sitting still (no steps for a while before and after). On about 5 % of worn days it was
  put on 3–7 h after waking (left on the charger): a partial day.
- A device swap: for some people with a run of ≥ 3 unworn days inside their recording, the
  tracker broke there; a new one, which samples heart rate differently, records from the day
  after. Fitabase has no minute rows for the days without a device.

Each worn day's minute steps add up to that day's `TotalSteps` in dailyActivity (walk sessions
at ~105 steps/min, the rest in bouts through the waking day, a rare step or two at night).
Heart rate is sampled every 5–15 s whenever the tracker is on the body (every worn minute has
a sample), never while it is off. Off-body minutes always lie in a still stretch of more than
`parsers.wear.NON_WEAR_MINUTES` (the step rule's non-wear run), so the wear `parsers.wear`
derives — per quarter hour the more of heart-rate minutes and step-rule minutes — is exactly
the minutes on the body, which truth/wear_days.csv records.

Both files are written one wearer at a time (Polars, appended to the open file), so memory does
not grow with the cohort. Every wearer draws from their own stream, independent of the streams
the daily files come from: with or without `--minute-level`, the daily files are the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from ..parsers.fitabase import HEARTRATE_SECONDS, MINUTE_STEPS_NARROW
from ..parsers.wear import NON_WEAR_MINUTES
from ..rules import ProgramRules
from .behaviour import Behaviour
from .people import Person
from .wearable import Recording

STEPS_FILE = "minuteStepsNarrow_merged.csv"
HEART_RATE_FILE = "heartrate_seconds_merged.csv"
FITABASE_TIME = "%-m/%-d/%Y %-I:%M:%S %p"  # 4/12/2016 2:47:30 AM, the participant's clock
DAY = 1440  # minutes; Fitbit writes every local day as 1440 minutes, DST days included

STILL_AROUND_OFF = NON_WEAR_MINUTES + 10  # a still stretch the step rule reads as not worn
CHARGE_EVERY_DAYS = (3, 6)
CHARGE_MINUTES = (60, 120)
LATE_START_P = 0.05
LATE_START_MINUTES = (180, 420)
SWAP_P = 0.4  # given a run of ≥ SWAP_MIN_DAYS unworn days inside the recording
SWAP_MIN_DAYS = 3
NIGHT_SPIKE_P = 0.15  # a night with a step or two (to the bathroom)
WALK_CADENCE = 105  # steps per minute on a walk session
BOUT_CADENCE = 33  # mean steps per moving minute outside walks (the 2016 export: 33)
MAX_STEPS_PER_MINUTE = 200


@dataclass(frozen=True)
class HeartRateSampling:
    """A tracker's heart-rate sampling: seconds between samples and their shares."""

    seconds: tuple[int, ...]
    shares: tuple[float, ...]
    dropout_p: float = 0.004  # a gap of 20-55 s (a loose band); never a whole minute


DEVICES = {
    1: HeartRateSampling((5, 10, 15), (0.55, 0.25, 0.20)),  # irregular, as in the 2016 export
    2: HeartRateSampling((5, 10), (0.88, 0.12)),  # the replacement: mostly every 5 s
}

# Why the tracker was off, by precedence: a stretch of off minutes takes the highest kind in it.
NIGHT_OFF, LATE_START, CHARGING, DAY_OFF, DEVICE_SWAP = 1, 2, 3, 4, 5
GAP_KINDS = {
    NIGHT_OFF: "night_off",
    LATE_START: "late_start",
    CHARGING: "charging",
    DAY_OFF: "day_off",
    DEVICE_SWAP: "device_swap",
}

WEAR_DAY_COLUMNS = (
    "participant_id",
    "fitbit_id",
    "day",
    "device",
    "steps",
    "worn_minutes",
    "valid_wear",
)
WEAR_GAP_COLUMNS = ("participant_id", "fitbit_id", "kind", "start_local", "end_local", "minutes")


@dataclass
class Wearer:
    """A recording with what its minutes are made from (no person for the test device)."""

    recording: Recording
    person: Person | None
    behaviour: Behaviour | None
    seed: np.random.SeedSequence


@dataclass
class MinuteRecording:
    """One wearer's minutes from the recording's first local midnight (index 0)."""

    recording: Recording
    device: np.ndarray  # int8 per day: 0 no device (no rows), 1 the first, 2 after a swap
    steps: np.ndarray  # int32 per minute
    worn: np.ndarray  # bool per minute: on the body
    gap: np.ndarray  # int8 per minute: why it was off (0 while worn)
    hr_seconds: np.ndarray  # int64 sample times, seconds from index 0
    hr_bpm: np.ndarray  # int16

    @property
    def days(self) -> int:
        return len(self.device)


@dataclass
class WearTruth:
    """What truth/wear_days.csv and truth/wear_gaps.csv hold, and the rows written."""

    days: list[list] = field(default_factory=list)  # rows of WEAR_DAY_COLUMNS
    gaps: list[list] = field(default_factory=list)  # rows of WEAR_GAP_COLUMNS
    step_rows: int = 0
    heart_rate_rows: int = 0


# --- simulation --------------------------------------------------------------------------------


def _runs(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True)


def _swap_days(worn_day: np.ndarray, rng: np.random.Generator) -> range | None:
    """The days without a device: the longest inner run of unworn days, for some wearers."""
    swapping = rng.random() < SWAP_P
    inner = [
        (start, end)
        for start, end in _runs(~worn_day)
        if end - start >= SWAP_MIN_DAYS and start > 0 and end < len(worn_day)
    ]
    if not swapping or not inner:
        return None
    start, end = max(inner, key=lambda run: (run[1] - run[0], -run[0]))
    return range(start, end)


def _walk_minutes(behaviour: Behaviour | None, first: date, n_minutes: int) -> list[range]:
    if behaviour is None:
        return []
    walks = []
    for s in behaviour.sessions:
        if s.kind != "walk":
            continue
        local = s.start.replace(tzinfo=None)
        start = (local.date() - first).days * DAY + local.hour * 60 + local.minute
        end = start + math.ceil(s.duration_s / 60)
        if 0 <= start and end <= n_minutes:
            walks.append(range(start, end))
    return walks


_MINUTE_OF_DAY = np.arange(DAY)
_DIURNAL = (
    0.6
    + 1.0 * np.exp(-(((_MINUTE_OF_DAY - 8.25 * 60) / 60) ** 2) / 2)
    + 0.8 * np.exp(-(((_MINUTE_OF_DAY - 12.5 * 60) / 45) ** 2) / 2)
    + 1.2 * np.exp(-(((_MINUTE_OF_DAY - 17.75 * 60) / 90) ** 2) / 2)
)


def _spread(total: int, eligible: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """`total` steps over minutes of `eligible` (sorted minute indexes), in bouts; per minute."""
    out = np.zeros(len(eligible), dtype=np.int64)
    if total <= 0:
        return out
    if total > MAX_STEPS_PER_MINUTE * len(eligible):
        raise ValueError(f"{total} steps do not fit in {len(eligible)} waking minutes")
    moving = min(len(eligible), max(1, math.ceil(total / BOUT_CADENCE)))
    weights = _DIURNAL[eligible % DAY]
    n_bouts = math.ceil(moving / 2) + 4
    starts = rng.choice(len(eligible), size=n_bouts, p=weights / weights.sum())
    lengths = rng.geometric(0.4, size=n_bouts)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    picked = np.repeat(starts, lengths) + offsets
    picked = picked[picked < len(eligible)]
    _, first_seen = np.unique(picked, return_index=True)
    chosen = picked[np.sort(first_seen)][:moving]
    if len(chosen) < moving:
        rest = np.setdiff1d(np.arange(len(eligible)), chosen)
        chosen = np.concatenate((chosen, rng.choice(rest, moving - len(chosen), replace=False)))
    intensity = rng.gamma(1.2, 1.0, size=moving)
    counts = rng.multinomial(total, intensity / intensity.sum())
    while (over := counts > MAX_STEPS_PER_MINUTE).any():
        excess = int((counts[over] - MAX_STEPS_PER_MINUTE).sum())
        counts[over] = MAX_STEPS_PER_MINUTE
        room = np.flatnonzero(counts < MAX_STEPS_PER_MINUTE)
        counts[room] += rng.multinomial(excess, np.full(len(room), 1 / len(room)))
    out[chosen] = counts
    return out


def simulate(wearer: Wearer) -> MinuteRecording:
    rec = wearer.recording
    rng = np.random.default_rng(wearer.seed)
    n = len(rec.activity)
    minutes = n * DAY
    worn_day = np.array([a.worn for a in rec.activity])
    day_steps = np.array([a.steps for a in rec.activity], dtype=np.int64)
    tracks_sleep = wearer.person.traits.tracks_sleep if wearer.person else True

    # nights: index k is the night ending on the morning of day k (k = n: after the last day)
    slept_in = np.zeros(n + 1, dtype=bool)
    in_bed = np.zeros(n + 1, dtype=np.int64)
    for night in rec.sleep:
        k = (night.day - rec.first).days
        slept_in[k], in_bed[k] = True, night.minutes_in_bed
    asleep = np.full(n + 1, 420, dtype=np.int64)
    if wearer.behaviour is not None:
        b = wearer.behaviour
        lo = b.index(rec.first)
        known = b.true_sleep_min[lo : lo + n + 1]
        asleep[: len(known)] = known
        asleep[len(known) :] = int(np.mean(b.true_sleep_min))

    wake_usual = float(np.clip(rng.normal(420, 35), 330, 540))
    weekend = np.array([(rec.first + timedelta(days=k)).weekday() >= 5 for k in range(n + 1)])
    wake = np.rint(wake_usual + 40 * weekend + rng.normal(0, 20, n + 1)).astype(np.int64)
    night = np.where(slept_in, in_bed, asleep + rng.integers(8, 56, n + 1)).clip(180, 720)
    day_start = np.arange(n + 1, dtype=np.int64) * DAY
    woke = day_start + wake
    bed = woke - night  # bedtime of night k (before day k's midnight when negative)
    put_on = rng.integers(0, 31, n)
    took_off = rng.integers(0, 46, n + 1)
    late = rng.random(n) < LATE_START_P
    late_by = rng.integers(*LATE_START_MINUTES, n, endpoint=True)
    resting = float(np.clip(rng.normal(66, 6), 50, 85))
    charge_every = int(rng.integers(CHARGE_EVERY_DAYS[0], CHARGE_EVERY_DAYS[1] + 1))

    swap = _swap_days(worn_day, rng)
    device = np.ones(n, dtype=np.int8)
    if swap is not None:
        device[swap.start : swap.stop] = 0
        device[swap.stop :] = 2
    walks = _walk_minutes(wearer.behaviour, rec.first, minutes)
    walking = np.zeros(minutes, dtype=bool)
    for walk in walks:
        walking[walk.start : walk.stop] = True

    worn = np.zeros(minutes, dtype=bool)
    gap = np.zeros(minutes, dtype=np.int8)
    still = np.zeros(minutes, dtype=bool)  # worn but no steps (around a charge, at the end)
    awake: list[tuple[int, int, int]] = []  # (day, first, end) of each worn day's waking wear

    def span(lo: int, hi: int) -> slice:
        return slice(max(0, lo), min(minutes, max(0, hi)))

    for k in np.flatnonzero(worn_day).tolist():
        if slept_in[k]:
            worn[span(bed[k], woke[k])] = True
        start = woke[k] + (0 if slept_in[k] else put_on[k])
        end = bed[k + 1] - (0 if slept_in[k + 1] else took_off[k + 1])
        if late[k] and not walking[day_start[k] : day_start[k + 1]].any():
            late_start = min(woke[k] + late_by[k], end - 240)
            if late_start - start >= STILL_AROUND_OFF:
                gap[span(start, late_start)] = LATE_START
                start = late_start
        if start >= end:
            raise ValueError(f"Fitbit {rec.fitbit_id}: day {k} has no waking wear")
        worn[span(start, end)] = True
        awake.append((k, start, end))

    rows = np.repeat(device > 0, DAY)
    worn &= rows

    # charging by day, while sitting still, for people who sleep in it
    next_charge = int(rng.integers(0, charge_every)) if tracks_sleep else n
    for k, start, end in awake:
        if k < next_charge or device[k] == 0:
            continue
        length = int(rng.integers(CHARGE_MINUTES[0], CHARGE_MINUTES[1] + 1))
        around = max(0, STILL_AROUND_OFF - length)
        before = math.ceil(around / 2) + int(rng.integers(5, 16))
        after = math.ceil(around / 2) + int(rng.integers(5, 16))
        lo = max(start + 60, int(day_start[k])) + before
        hi = min(end - 60, int(day_start[k + 1])) - length - after
        for _ in range(5):
            if hi <= lo:
                break
            at = int(rng.integers(lo, hi))
            window = slice(at - before, at + length + after)
            if walking[window].any() or not worn[window].all():
                continue
            worn[at : at + length] = False
            gap[at : at + length] = CHARGING
            still[window] = True
            next_charge = k + charge_every + int(rng.integers(-1, 2))
            break
    still[minutes - STILL_AROUND_OFF :] = (
        True  # the recording's last off-body minutes are a still run
    )

    off = ~worn
    gap[off & (gap == 0)] = NIGHT_OFF
    unworn_days = np.repeat(~worn_day, DAY)
    gap[off & unworn_days] = DAY_OFF
    gap[~rows] = DEVICE_SWAP
    gap[worn] = 0

    sleeping = np.zeros(minutes, dtype=bool)
    for k in range(n + 1):
        sleeping[span(bed[k], woke[k])] = True

    steps = np.zeros(minutes, dtype=np.int32)
    for k in np.flatnonzero(worn_day).tolist():
        day = slice(int(day_start[k]), int(day_start[k + 1]))
        left = int(day_steps[k])
        if slept_in[k] and rng.random() < NIGHT_SPIKE_P:
            lo, hi = max(int(day_start[k]), int(bed[k])) + 30, int(woke[k]) - 30
            if hi > lo:
                at = int(rng.integers(lo, hi))
                for minute in range(at, at + int(rng.integers(1, 3))):
                    spike = min(left, int(rng.integers(8, 31)))
                    steps[minute] = spike
                    left -= spike
        eligible = np.flatnonzero(worn[day] & ~sleeping[day] & ~still[day]) + day.start
        on_walk = eligible[walking[eligible]]
        cadence = np.rint(rng.normal(WALK_CADENCE, 8, len(on_walk))).clip(80, 130).astype(int)
        cadence = np.minimum(cadence, np.maximum(0, left - (np.cumsum(cadence) - cadence)))
        steps[on_walk] = cadence
        left -= int(cadence.sum())
        others = eligible[~walking[eligible]]
        steps[others] = _spread(left, others, rng)
    recorded = steps.reshape(n, DAY).sum(axis=1)
    if not (recorded == day_steps).all() or steps[~worn].any():
        raise AssertionError(f"Fitbit {rec.fitbit_id}: minute steps disagree with dailyActivity")

    # heart rate: every worn minute has samples, no other minute has one
    effort = np.convolve(np.minimum(steps, 130), [0.5, 0.3, 0.2])[:minutes] * 0.32
    drift = np.convolve(rng.normal(0, 1, minutes), np.ones(31) / math.sqrt(31), "same") * 2.5
    level = resting + drift + effort - 8 * sleeping
    times, bpm = [], []
    for a, b in _runs(worn):
        sampling = DEVICES[int(device[a // DAY])]
        count = (b - a) * 12 + 2
        gaps = rng.choice(sampling.seconds, size=count, p=sampling.shares)
        loose = rng.random(count) < sampling.dropout_p
        gaps[loose] = rng.integers(20, 56, int(loose.sum()))
        t = a * 60 + int(rng.integers(0, 5)) + np.concatenate(([0], np.cumsum(gaps[:-1])))
        t = t[t < b * 60]
        times.append(t)
        bpm.append(np.rint(level[t // 60] + rng.normal(0, 1.5, len(t))).clip(38, 200))
    hr_seconds = np.concatenate(times) if times else np.zeros(0, dtype=np.int64)
    hr_bpm = (np.concatenate(bpm) if bpm else np.zeros(0)).astype(np.int16)
    return MinuteRecording(rec, device, steps, worn, gap, hr_seconds, hr_bpm)


# --- files and truth -----------------------------------------------------------------------------


def _epoch_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * 86_400_000_000


def _local(first: date, minute: int) -> str:
    return (datetime.combine(first, datetime.min.time()) + timedelta(minutes=minute)).strftime(
        "%Y-%m-%dT%H:%M"
    )


def _csv(frame: pl.DataFrame, handle) -> None:
    frame.write_csv(
        handle, include_header=False, datetime_format=FITABASE_TIME, line_terminator="\r\n"
    )


def _write_minutes(m: MinuteRecording, steps_file, heart_rate_file) -> tuple[int, int]:
    rec = m.recording
    rows = np.flatnonzero(np.repeat(m.device > 0, DAY))
    base = _epoch_us(rec.first)
    minute_rows = pl.DataFrame(
        {
            "Id": pl.Series([rec.fitbit_id]).new_from_index(0, len(rows)),
            "ActivityMinute": pl.Series(base + rows * 60_000_000).cast(pl.Datetime("us")),
            "Steps": m.steps[rows],
        }
    )
    samples = pl.DataFrame(
        {
            "Id": pl.Series([rec.fitbit_id]).new_from_index(0, len(m.hr_seconds)),
            "Time": pl.Series(base + m.hr_seconds * 1_000_000).cast(pl.Datetime("us")),
            "Value": m.hr_bpm,
        }
    )
    _csv(minute_rows, steps_file)
    _csv(samples, heart_rate_file)
    return minute_rows.height, samples.height


def _truth_rows(m: MinuteRecording, valid_wear_minutes: int, truth: WearTruth) -> None:
    rec = m.recording
    pid = rec.participant_id or ""
    steps = m.steps.reshape(m.days, DAY).sum(axis=1)
    worn = m.worn.reshape(m.days, DAY).sum(axis=1)
    for k in range(m.days):
        truth.days.append(
            [
                pid,
                rec.fitbit_id,
                (rec.first + timedelta(days=k)).isoformat(),
                int(m.device[k]) or "",
                int(steps[k]),
                int(worn[k]),
                "true" if worn[k] >= valid_wear_minutes else "false",
            ]
        )
    for a, b in _runs(~m.worn):
        kind = GAP_KINDS[int(m.gap[a:b].max())]
        truth.gaps.append(
            [pid, rec.fitbit_id, kind, _local(rec.first, a), _local(rec.first, b), b - a]
        )


def write_minute_files(folder: Path, wearers: Iterable[Wearer]) -> tuple[list[Path], WearTruth]:
    """Both minute files in `folder` (wearers in Id order), one wearer at a time; their truth."""
    folder.mkdir(parents=True, exist_ok=True)
    valid_wear_minutes = ProgramRules().valid_wear_minutes
    truth = WearTruth()
    paths = [folder / STEPS_FILE, folder / HEART_RATE_FILE]
    with paths[0].open("wb") as steps_file, paths[1].open("wb") as heart_rate_file:
        steps_file.write((",".join(MINUTE_STEPS_NARROW.column_names) + "\r\n").encode())
        heart_rate_file.write((",".join(HEARTRATE_SECONDS.column_names) + "\r\n").encode())
        for wearer in sorted(wearers, key=lambda w: w.recording.fitbit_id):
            minutes = simulate(wearer)
            step_rows, heart_rate_rows = _write_minutes(minutes, steps_file, heart_rate_file)
            truth.step_rows += step_rows
            truth.heart_rate_rows += heart_rate_rows
            _truth_rows(minutes, valid_wear_minutes, truth)
    return paths, truth
