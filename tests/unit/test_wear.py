"""Wear from minute data: heart rate minutes are worn; still stretches of ≥ 90 min are not (Choi 2011)."""

import random
from datetime import datetime, timedelta

import polars as pl

from pipelines.lib.parsers.wear import (
    NON_WEAR_MINUTES,
    SPIKE_TOLERANCE_MINUTES,
    SPIKE_WINDOW_MINUTES,
    minute_bits,
    quarters_from_bits,
    worn_from_heart_rate,
    worn_from_steps,
    worn_quarters_from_steps,
)

START = datetime(2026, 3, 2, 8, 0)


def series(pattern: list[tuple[int, int]]) -> tuple[pl.Series, pl.Series]:
    """(minutes, steps) from [(minutes, steps per minute), ...] runs starting 08:00."""
    times, steps, t = [], [], START
    for length, value in pattern:
        for _ in range(length):
            times.append(t)
            steps.append(value)
            t += timedelta(minutes=1)
    return pl.Series(times), pl.Series(steps)


def worn_total(frame: pl.DataFrame) -> int:
    return int(frame["value"].sum())


def test_long_still_stretch_is_not_worn_short_ones_are():
    times, steps = series([(30, 10), (60, 0), (30, 10), (120, 0), (30, 10)])
    assert worn_total(worn_from_steps(times, steps)) == 30 + 60 + 30 + 30


def test_a_brief_spike_inside_a_long_still_stretch_does_not_make_it_worn():
    times, steps = series([(15, 10), (45, 0), (1, 12), (49, 0), (15, 10)])
    assert worn_total(worn_from_steps(times, steps)) == 30, (
        "45 + 1 + 49 still minutes are one non-wear span"
    )


def test_a_spike_without_30_still_minutes_on_both_sides_breaks_the_span():
    times, steps = series([(15, 10), (20, 0), (1, 12), (80, 0), (15, 10)])
    assert worn_total(worn_from_steps(times, steps)) == 15 + 20 + 1 + 80 + 15


def test_missing_minutes_count_as_still():
    times, steps = series([(10, 10)])
    later, more = series([(10, 10)])
    later = later + timedelta(minutes=200)
    frame = worn_from_steps(pl.concat([times, later]), pl.concat([steps, more]))
    assert worn_total(frame) == 20


def test_quarters_are_aligned_and_heart_rate_minutes_count_once():
    seconds = pl.Series(
        [START + timedelta(seconds=s) for s in range(0, 20 * 60, 5)]
    )  # every 5 s for 20 min
    frame = worn_from_heart_rate(seconds)
    assert frame.rows() == [(START, 15.0), (START + timedelta(minutes=15), 5.0)]


def _samples(seed: int) -> pl.DataFrame:
    """Heart-rate samples of three people as a file lists them: each person's in turn, in time
    order, every few seconds with gaps (times as the reader hands them on)."""
    rng = random.Random(seed)
    rows = []
    for person in ["8877689391", "2022484408", "4020332650"]:
        t = START + timedelta(seconds=rng.randrange(3600))
        for _ in range(rng.randrange(300, 900)):
            t += timedelta(seconds=rng.choice([5, 10, 15, 600]))
            rows.append((person, t))
    return pl.DataFrame(rows, schema={"person": pl.String, "time": pl.Datetime("us")}, orient="row")


def _in_frames(samples: pl.DataFrame, seed: int) -> pl.DataFrame:
    """`minute_bits` of the samples cut into frames at random rows (as blocks and ranges cut a
    file), concatenated."""
    rng = random.Random(seed)
    cuts = sorted({0, samples.height, *(rng.randrange(samples.height) for _ in range(6))})
    return pl.concat(
        minute_bits(part["person"], part["time"])
        for part in (samples[a:b] for a, b in zip(cuts, cuts[1:], strict=False))
    )


def _by_person(samples: pl.DataFrame) -> pl.DataFrame:
    """`worn_from_heart_rate` person by person: the reference."""
    return pl.concat(
        worn_from_heart_rate(samples.filter(pl.col("person") == p)["time"]).select(
            pl.lit(p).alias("person"), "start", "value"
        )
        for p in sorted(samples["person"].unique())
    )


def test_worn_minutes_from_bits_whatever_the_order_of_the_samples():
    """In a file's order, by frames cut anywhere, shuffled, or with a person's samples in two
    places: the same worn minutes per person and quarter as counting each person's samples."""
    samples = _samples(seed=1)
    expected = _by_person(samples)
    shuffled = samples.sample(fraction=1.0, shuffle=True, seed=2)
    split = pl.concat([samples[:200], samples[400:], samples[200:400]])  # a person in two places
    for order in (samples, shuffled, split):
        for seed in range(3):
            assert quarters_from_bits(_in_frames(order, seed)).equals(expected)


# --- the rule over many people at once, against the rule as first written ----------------------


def _oracle(minute_times: list[datetime], steps: list[int]) -> dict[datetime, float]:
    """The still-stretch rule as it was first written: every minute of the span on a grid, its
    runs walked in Python (kept here only to check the run-based version against)."""
    counts: dict[datetime, int] = {}
    for t, n in zip(minute_times, steps, strict=True):
        minute = t.replace(second=0, microsecond=0)
        counts[minute] = counts.get(minute, 0) + n
    first, last = min(counts), max(counts)
    grid = [
        first + timedelta(minutes=k) for k in range(int((last - first).total_seconds() // 60) + 1)
    ]
    moving = [counts.get(t, 0) > 0 for t in grid]
    runs: list[tuple[bool, int, int]] = []
    for i, flag in enumerate(moving):
        if runs and runs[-1][0] == flag:
            runs[-1] = (flag, runs[-1][1], runs[-1][2] + 1)
        else:
            runs.append((flag, i, 1))
    worn = [True] * len(moving)
    spans: list[list[int]] = []
    for index, (is_moving, start, length) in enumerate(runs):
        if is_moving:
            continue
        bridged = (
            spans
            and index >= 2
            and runs[index - 1][2] <= SPIKE_TOLERANCE_MINUTES
            and runs[index - 2][2] >= SPIKE_WINDOW_MINUTES
            and length >= SPIKE_WINDOW_MINUTES
            and spans[-1][1] == runs[index - 1][1]
        )
        if bridged:
            spans[-1][1] = start + length
        else:
            spans.append([start, start + length])
    for start, end in spans:
        if end - start >= NON_WEAR_MINUTES:
            worn[start:end] = [False] * (end - start)
    quarters: dict[datetime, float] = {}
    for t, on in zip(grid, worn, strict=True):
        if on:
            q = t.replace(minute=t.minute // 15 * 15)
            quarters[q] = quarters.get(q, 0.0) + 1
    return quarters


# run lengths at and around every threshold of the rule
EDGES = [1, 2, 3, 14, 15, 16, 29, 30, 31, 59, 60, 89, 90, 91, 120, 200]


def _recording(rng: random.Random) -> tuple[list[datetime], list[int]]:
    start = START + timedelta(minutes=rng.randrange(60 * 24), seconds=rng.choice([0, 0, 30]))
    times, steps, t = [], [], start
    moving = rng.random() < 0.5
    for _ in range(rng.randrange(1, 14)):
        length = rng.choice(EDGES) if not moving else rng.choice([1, 1, 2, 2, 3, 5, 30])
        for _ in range(length):
            if moving or rng.random() < 0.3:  # still minutes are mostly missing rows
                times.append(t)
                steps.append(rng.randrange(1, 40) if moving else 0)
            if moving and rng.random() < 0.05:  # the same minute written twice
                times.append(t)
                steps.append(rng.randrange(0, 3))
        t += timedelta(minutes=length)
        moving = not moving
    if not times:
        times, steps = [start], [0]
    return times, steps


def test_the_run_based_rule_gives_what_the_minute_grid_gives():
    rng = random.Random(12)
    people = {f"P{n}": _recording(rng) for n in range(300)}
    people["still"] = ([START, START + timedelta(minutes=300)], [0, 0])
    people["one minute"] = ([START], [7])
    moving = pl.DataFrame(
        [(p, t) for p, (ts, ns) in people.items() for t, n in zip(ts, ns, strict=True) if n > 0],
        schema={"person": pl.String, "minute": pl.Datetime("us")},
        orient="row",
    )
    spans = pl.DataFrame(
        [(p, min(ts), max(ts)) for p, (ts, _) in people.items()],
        schema={"person": pl.String, "first": pl.Datetime("us"), "last": pl.Datetime("us")},
        orient="row",
    )
    got = worn_quarters_from_steps(moving, spans, "person")
    expected = [
        (p, q, v)
        for p, (ts, ns) in sorted(people.items())
        for q, v in sorted(_oracle(ts, ns).items())
    ]
    assert got.rows() == expected
    assert any(v < 15 for _, _, v in expected) and len({p for p, _, _ in expected}) > 250
    for person in ("P0", "P1", "still", "one minute"):  # and the one-person form of it
        times, steps = people[person]
        single = worn_from_steps(pl.Series(times), pl.Series(steps))
        assert single.rows() == sorted(_oracle(times, steps).items())
