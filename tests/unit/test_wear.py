"""Wear from minute data: heart rate minutes are worn; still stretches of ≥ 90 min are not (Choi 2011)."""

from datetime import datetime, timedelta

import polars as pl

from pipelines.lib.parsers.wear import worn_from_heart_rate, worn_from_steps

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
