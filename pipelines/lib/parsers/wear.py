"""Wear evidence shared by the vendor parsers: which minutes a tracker was on the body.

- Heart rate needs skin contact: a minute with a heart-rate sample was worn.
- Steps are weaker evidence: people sit still for hours while wearing a
  tracker, and a tracker on the nightstand records 0 steps too. Following
  Choi et al. (2011, Med Sci Sports Exerc 43:357), a minute is *not worn* when
  it lies in a run of at least 90 minutes without steps, where interruptions
  of at most 2 minutes with steps are tolerated if at least 30 step-free
  minutes stand on either side; every other minute of the recording is worn.
  Like the accelerometer rule it comes from, this counts waking wear: a night
  of sleep without movement reads as not worn, which is what the 10-hour valid
  day threshold assumes.

Both give `worn_min` per quarter hour (900 s), aligned to :00/:15/:30/:45 in
the clock the minutes come in (UTC or local).
"""

from __future__ import annotations

import numpy as np
import polars as pl

NON_WEAR_MINUTES = 90
SPIKE_TOLERANCE_MINUTES = 2
SPIKE_WINDOW_MINUTES = 30
QUARTER = "15m"


def quarters(worn_minutes: pl.Series) -> pl.DataFrame:
    """(start, value) rows: distinct worn minutes per quarter hour."""
    minutes = worn_minutes.dt.truncate("1m").unique()
    return (
        minutes.to_frame("minute")
        .group_by(start=pl.col("minute").dt.truncate(QUARTER))
        .agg(value=pl.len().cast(pl.Float64))
        .sort("start")
    )


def worn_from_heart_rate(sample_times: pl.Series) -> pl.DataFrame:
    """Quarter-hour worn minutes from heart-rate sample times (any resolution)."""
    return quarters(sample_times)


def worn_from_steps(minute_times: pl.Series, steps: pl.Series) -> pl.DataFrame:
    """Quarter-hour worn minutes from minute step counts (Choi non-wear rule).

    Minutes missing between the first and last one are taken as 0 steps.
    """
    if minute_times.len() == 0:
        return pl.DataFrame(schema={"start": minute_times.dtype, "value": pl.Float64})
    minutes = pl.DataFrame({"person": 0, "minute": minute_times, "steps": steps})
    moving = (
        minutes.group_by("person", pl.col("minute").dt.truncate("1m"))
        .agg(pl.col("steps").cast(pl.Float64).sum())
        .filter(pl.col("steps") > 0)
    )
    spans = minutes.group_by("person").agg(
        first=pl.col("minute").min(), last=pl.col("minute").max()
    )
    worn = worn_quarters_from_steps(moving, spans, "person")
    return worn.select(pl.col("start").cast(minute_times.dtype), "value")


def worn_quarters_from_steps(moving: pl.DataFrame, spans: pl.DataFrame, by: str) -> pl.DataFrame:
    """Quarter-hour worn minutes of each `by` (a person) by the still-stretch rule, at once.

    `moving`: (`by`, `minute`) the minutes with steps (repeats allowed; any resolution, taken
    to the minute). `spans`: (`by`, `first`, `last`) the first and last minute each
    recording covers (repeats allowed: the widest counts); every minute between them that
    is not in `moving` had no steps. Returns (`by`, `start`, `value`) sorted, quarters with
    worn minutes only. Works on runs of minutes, in numpy: its cost follows the minutes with
    steps, not the span, and a file's order (each person's minutes in turn) needs no sort.
    """
    bounds = spans.group_by(by, maintain_order=True).agg(
        lo=_minute(pl.col("first")).min(), hi=_minute(pl.col("last")).max() + 1
    )
    people = bounds[by]
    lo, hi = bounds["lo"].to_numpy(), bounds["hi"].to_numpy()
    person, minute = _sorted_distinct(_codes(moving[by], people), _minutes(moving["minute"]))
    # runs of consecutive moving minutes, and the still runs around them
    head = np.ones(person.size, dtype=bool)
    head[1:] = (person[1:] != person[:-1]) | (minute[1:] != minute[:-1] + 1)
    heads = np.flatnonzero(head)
    tails = _last_of_each(heads, person.size)
    still = _gaps(person[heads], minute[heads], minute[tails] + 1, lo, hi)
    # a still run joins the one before when the movement between them is a spike of at most
    # SPIKE_TOLERANCE_MINUTES and both still runs last SPIKE_WINDOW_MINUTES or more
    who, start, end = still
    length = end - start
    bridged = np.zeros(who.size, dtype=bool)
    bridged[1:] = (
        (who[1:] == who[:-1])
        & (start[1:] - end[:-1] <= SPIKE_TOLERANCE_MINUTES)
        & (length[:-1] >= SPIKE_WINDOW_MINUTES)
        & (length[1:] >= SPIKE_WINDOW_MINUTES)
    )
    firsts = np.flatnonzero(~bridged)
    lasts = _last_of_each(firsts, who.size)
    off = (end[lasts] - start[firsts]) >= NON_WEAR_MINUTES
    worn = _gaps(who[firsts][off], start[firsts][off], end[lasts][off], lo, hi)
    return _per_quarter(*worn, people, by)


def _last_of_each(heads: np.ndarray, size: int) -> np.ndarray:
    """The last index of each group, given the first index of each (groups in a row)."""
    return np.append(heads[1:], size) - 1 if heads.size else heads


def _minute(moment: pl.Expr) -> pl.Expr:
    """Whole minutes since the epoch."""
    return moment.dt.truncate("1m").dt.epoch("s") // 60


def _minutes(moments: pl.Series) -> np.ndarray:
    return moments.to_frame().select(_minute(pl.col(moments.name))).to_series().to_numpy()


def _codes(ids: pl.Series, people: pl.Series) -> np.ndarray:
    """Each id's position in `people`, looked up once per run of equal ids (a file's order)."""
    run = ids.rle_id().to_numpy()
    heads = np.flatnonzero(np.diff(run, prepend=-1))
    position = pl.Series(np.arange(people.len(), dtype=np.int64))
    return ids.gather(heads).replace_strict(people, position).to_numpy()[run]


def _sorted_distinct(person: np.ndarray, minute: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(person, minute) pairs sorted, each once; in file order they usually already are."""
    later = (person[1:] > person[:-1]) | ((person[1:] == person[:-1]) & (minute[1:] > minute[:-1]))
    if not later.all():
        order = np.lexsort((minute, person))
        person, minute = person[order], minute[order]
        new = np.ones(person.size, dtype=bool)
        new[1:] = (person[1:] != person[:-1]) | (minute[1:] != minute[:-1])
        person, minute = person[new], minute[new]
    return person, minute


def _gaps(
    who: np.ndarray, start: np.ndarray, end: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per person p, the parts of [lo[p], hi[p]) outside the sorted, disjoint [start, end)
    intervals of p (within the bounds): (person, start, end), sorted."""
    # person p has n[p] intervals, so n[p] + 1 gaps: one before each interval, one after all
    n = np.bincount(who, minlength=lo.size)
    offsets = np.cumsum(n + 1) - (n + 1)
    gaps_who = np.repeat(np.arange(lo.size), n + 1)
    gaps_start = np.empty(gaps_who.size, dtype=start.dtype)
    gaps_end = np.empty(gaps_who.size, dtype=end.dtype)
    firsts = np.cumsum(n) - n  # each person's first interval
    at = offsets[who] + np.arange(who.size) - firsts[who]
    previous_end = np.roll(end, 1)
    gaps_start[at] = np.where(np.arange(who.size) == firsts[who], lo[who], previous_end)
    gaps_end[at] = start
    after = np.where(n > 0, end[np.maximum(firsts + n - 1, 0)] if end.size else 0, lo)
    gaps_start[offsets + n] = after
    gaps_end[offsets + n] = hi
    kept = gaps_end > gaps_start
    return gaps_who[kept], gaps_start[kept], gaps_end[kept]


def _per_quarter(
    who: np.ndarray, start: np.ndarray, end: np.ndarray, people: pl.Series, by: str
) -> pl.DataFrame:
    """(by, start, value): minutes of the sorted, disjoint [start, end) per quarter hour."""
    first_q = np.floor_divide(start, 15)
    count = np.floor_divide(end - 1, 15) - first_q + 1
    offsets = np.repeat(np.cumsum(count) - count, count)
    q = np.repeat(first_q, count) + np.arange(offsets.size) - offsets
    a, b = np.repeat(start, count), np.repeat(end, count)
    overlap = np.minimum(b, (q + 1) * 15) - np.maximum(a, q * 15)
    person = np.repeat(who, count)
    new = np.ones(q.size, dtype=bool)
    new[1:] = (person[1:] != person[:-1]) | (q[1:] != q[:-1])
    heads = np.flatnonzero(new)
    # rows come by person code, quarters rising: each person's rows as one block, by name
    person, q = person[heads], q[heads]
    value = np.add.reduceat(overlap, heads).astype(np.float64) if heads.size else overlap * 0.0
    codes = np.arange(people.len())
    firsts = np.searchsorted(person, codes)
    rows = _by_name(firsts, np.searchsorted(person, codes, side="right") - firsts, people)
    worn = pl.DataFrame(
        {
            by: people.gather(person[rows]),
            "start": pl.Series(q[rows] * 900, dtype=pl.Int64),
            "value": value[rows],
        },
        schema={by: people.dtype, "start": pl.Int64, "value": pl.Float64},
    )
    return worn.with_columns(pl.from_epoch("start", time_unit="s").cast(pl.Datetime("us")))


def _by_name(firsts: np.ndarray, counts: np.ndarray, names: pl.Series) -> np.ndarray:
    """Row positions that put blocks of rows (block k: `counts[k]` rows from `firsts[k]`,
    each one person's, `names[k]`) in the order of the names, each block kept as it is."""
    order = names.arg_sort().to_numpy()
    counts, firsts = counts[order], firsts[order]
    offsets = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(offsets - firsts, counts)


def minute_bits(people: pl.Series, times: pl.Series) -> pl.DataFrame:
    """(person, quarter, bits): the minutes of each quarter hour with a sample, as bits
    (bit k: minute k of the quarter). Merge any number of them with `quarters_from_bits`:
    the same minute seen in two of them counts once."""
    micros = times.dt.cast_time_unit("us").to_physical().to_numpy()
    minute = np.floor_divide(micros, 60_000_000)
    quarter = np.floor_divide(minute, 15)
    bit = np.left_shift(np.int32(1), (minute - quarter * 15).astype(np.int32))
    frame = pl.DataFrame(
        {"person": people, "quarter": quarter, "bits": bit}, schema_overrides={"bits": pl.Int32}
    )
    # runs of rows with the same person and quarter (a sorted file's order) first, cheaply
    change = (frame["person"] != frame["person"].shift(1)).fill_null(True).to_numpy()
    change |= np.diff(quarter, prepend=quarter[:1] - 1) != 0
    starts = np.flatnonzero(change)
    if starts.size == 0:
        return frame
    runs = frame[starts].with_columns(bits=pl.Series(np.bitwise_or.reduceat(bit, starts)))
    if _file_order(runs["person"], runs["quarter"].to_numpy()) is not None:
        return runs  # each (person, quarter) once already
    return runs.group_by("person", "quarter").agg(pl.col("bits").bitwise_or())


def _file_order(person: pl.Series, quarter: np.ndarray) -> np.ndarray | None:
    """Where each person's rows start, when each person's rows come together with their
    quarters never falling (a file's order); None otherwise."""
    run = person.rle_id().to_numpy()
    same_person = np.zeros(run.size, dtype=bool)
    same_person[1:] = run[1:] == run[:-1]
    if (same_person[1:] & (quarter[1:] < quarter[:-1])).any():
        return None
    people = np.flatnonzero(~same_person)
    return people if run[-1] + 1 == person.gather(people).n_unique() else None


def quarters_from_bits(bits: pl.DataFrame) -> pl.DataFrame:
    """(person, start, value): worn minutes per quarter hour from `minute_bits` frames concatenated."""
    merged = _merged_in_file_order(bits)
    if merged is None:
        merged = bits.group_by("person", "quarter").agg(pl.col("bits").bitwise_or())
        merged = merged.sort("person", "quarter")
    return merged.select(
        "person",
        start=pl.from_epoch(pl.col("quarter") * 900, time_unit="s").cast(pl.Datetime("us")),
        value=pl.col("bits").bitwise_count_ones().cast(pl.Float64),
    )


def _merged_in_file_order(bits: pl.DataFrame) -> pl.DataFrame | None:
    """What grouping by (person, quarter) and sorting gives, in a file's order: each person's
    rows together, quarters rising (a quarter split between frames comes twice in a row).
    None when the rows are not in that order."""
    if bits.is_empty():
        return None
    quarter, value = bits["quarter"].to_numpy(), bits["bits"].to_numpy()
    people = _file_order(bits["person"], quarter)
    if people is None:
        return None
    new_person = np.zeros(quarter.size, dtype=bool)
    new_person[people] = True
    heads = np.flatnonzero(new_person | (np.diff(quarter, prepend=quarter[0] - 1) != 0))
    names = bits["person"].gather(people)
    first = np.searchsorted(heads, people)  # each person's first merged row
    counts = np.diff(np.append(first, heads.size))
    rows = _by_name(first, counts, names)
    owner = np.repeat(np.arange(names.len()), counts)
    return pl.DataFrame(
        {
            "person": names.gather(owner[rows]),
            "quarter": quarter[heads][rows],
            "bits": np.bitwise_or.reduceat(value, heads)[rows],
        },
        schema=bits.select("person", "quarter", "bits").schema,
    )
