"""Fitabase's `4/12/2016 2:47:30 AM` times: the fast decoder gives what the rule gives, value for value.

The rule (`us_datetime.by_the_rule`: the stripped text matches the pattern and chrono parses it)
is the oracle; the values are random times in every width Fitabase writes, in file order (runs
of an hour, as minute files hold them) and shuffled, plus near misses of every part.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import polars as pl
import pytest

from pipelines.lib.parsers import us_datetime
from pipelines.lib.parsers.spec import Entity, Field, validate
from pipelines.lib.parsers.us_datetime import by_the_rule, parse_us_datetime


def fitabase(t: datetime) -> str:
    return f"{t.month}/{t.day}/{t.year} {t.strftime('%I').lstrip('0')}:{t:%M:%S} {t:%p}"


NEAR_MISSES = [
    "2/29/2024 1:00:00 PM",  # a leap day
    "2/29/2023 1:00:00 PM",  # not one
    "4/31/2016 1:00:00 AM",
    "13/1/2016 1:00:00 AM",
    "0/1/2016 1:00:00 AM",
    "1/0/2016 1:00:00 AM",
    "1/1/2016 0:00:00 AM",
    "1/1/2016 13:00:00 PM",
    "1/1/2016 1:60:00 AM",
    "1/1/2016 1:59:60 AM",  # a leap second: chrono takes it
    "12/31/2016 12:00:00 AM",
    "12/31/2016 12:59:59 PM",
    "01/01/2016 01:00:00 AM",  # zero-padded
    "1/1/0000 1:00:00 AM",
    "1/1/0001 1:00:00 AM",
    " 1/1/2016 1:00:00 AM",
    "1/1/2016 1:00:00 AM\t",
    "1/1/2016  1:00:00 AM",
    "1/1/2016 1:00:00 am",
    "1/1/2016 1:00:00 XM",
    "1/1/2016 1:00:00AM",
    "1/1/16 1:00:00 AM",
    "1/1/2016 1:0:00 AM",
    "1/1/2016 1:00:0 AM",
    "1-1-2016 1:00:00 AM",
    "1/1/2016 1.00.00 AM",
    "١/1/2016 1:00:00 AM",  # an Arabic-Indic digit: \\d matches it, chrono does not
    "1/1/2016 1:00:00 AMX",
    "111/1/2016 1:00:00 AM",
    "1/1/2016 +1:00:00 AM",
    "2016-01-01 01:00:00",
    "",
    " ",
    "x",
    None,
]


def sample(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    start = datetime(2016, 1, 1)
    times, t = [], start + timedelta(seconds=rng.randrange(10**8))
    while len(times) < n:  # minute-file order: runs within the hour, sometimes a jump
        t += timedelta(seconds=rng.choice([1, 5, 60]) if rng.random() > 0.01 else 10**6)
        times.append(fitabase(t))
    for _ in range(n // 20):
        times.insert(rng.randrange(len(times)), rng.choice(NEAR_MISSES))
    return times


@pytest.mark.parametrize("shuffled", [False, True])
def test_the_fast_decoder_gives_what_the_rule_gives(shuffled, monkeypatch):
    values = sample(20_000, seed=3) + NEAR_MISSES
    if shuffled:
        random.Random(4).shuffle(values)
    series = pl.Series("Time", values)
    ruled: list[str | None] = []
    rule = us_datetime.by_the_rule

    def counted(part: pl.Series) -> pl.Series:
        ruled.extend(part.to_list())
        return rule(part)

    monkeypatch.setattr(us_datetime, "by_the_rule", counted)
    fast = parse_us_datetime(series)
    expected = by_the_rule(series)
    assert fast.dtype == expected.dtype == pl.Datetime("us")
    assert fast.to_physical().to_list() == expected.to_physical().to_list()
    assert expected.null_count() > 0 and expected.is_not_null().sum() > 19_000
    # the decoder decided the values in Fitabase's shape itself; only near misses met the rule
    assert 0 < len(ruled) < len([v for v in values if v in NEAR_MISSES]) + 1
    assert set(ruled) <= set(NEAR_MISSES)


def test_validate_reports_a_broken_time_once_and_keeps_the_parsed_ones():
    entity = Entity("t", "t", (), (Field("Time", "us_datetime", required=True),), key=())
    frame = pl.DataFrame(
        {"Time": ["4/12/2016 2:47:30 AM", "4/31/2016 2:47:30 AM", None], "row_number": [2, 3, 4]}
    )
    good, issues = validate(frame, entity, times=True)
    assert [(i.line, i.value) for i in issues] == [(3, "4/31/2016 2:47:30 AM"), (4, None)]
    assert good["Time:parsed"].to_list() == [datetime(2016, 4, 12, 2, 47, 30)]
    assert validate(frame, entity)[0].columns == ["Time", "row_number"]


def test_polars_casts_to_integers_only_what_the_int_pattern_allows():
    """`spec._maybe_broken` passes int values Polars casts without looking at the pattern:
    that is the rule's pass only while Polars casts nothing the pattern rejects."""
    odd = ["+5", "-5", "05", "1_000", "0x10", "1e3", "５", "٥", "+-5", " 5", "5 ", "5.0", "\t5"]
    odd += ["9223372036854775808", "0b1", "\u200b5", "5\x00", "+", "-", ""]
    cast = pl.Series(odd).cast(pl.Int64, strict=False)
    matches = pl.Series(odd).str.contains(r"^[+-]?\d+$")
    assert not (cast.is_not_null() & ~matches).any()
