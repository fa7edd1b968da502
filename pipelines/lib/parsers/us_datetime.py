"""`4/12/2016 2:47:30 AM` (Fitabase's local wall-clock times) → datetimes, fast and by one rule.

The rule (the spec's field kind `us_datetime`): the text, stripped, matches PATTERN and
parses with FORMAT. Polars parses this format one value at a time through chrono (about
0.7 µs of CPU a value on the 2-core machine: four times what reading the line costs), so
values in the one shape Fitabase writes — ASCII digits, single spaces, month 1–12, a day of
that month, hour 1–12, minute and second 0–59 — are decoded here in numpy from the column's
Arrow buffer, and every other value (padded, a leap second, malformed) is decided by the
rule itself. What this returns is therefore what the rule gives, value for value
(tests/unit/test_us_datetime.py).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pyarrow as pa

PATTERN = r"^\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d{2}:\d{2} [AP]M$"
FORMAT = "%m/%d/%Y %I:%M:%S %p"
DTYPE = pl.Datetime("us")

_WIDTH = 22  # the longest value of the shape: MM/DD/YYYY hh:mm:ss AM
_SHORTEST = 19  # M/D/YYYY h:mm:ss AM
_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 86_400_000_000


def by_the_rule(values: pl.Series) -> pl.Series:
    """The rule as written: null where the stripped text does not match or parse."""
    v = pl.col("v").str.strip_chars()
    parsed = v.str.to_datetime(FORMAT, time_unit="us", strict=False)
    return (
        values.rename("v")
        .to_frame()
        .select(pl.when(v.str.contains(PATTERN)).then(parsed).alias(values.name))
        .to_series()
    )


def parse_us_datetime(values: pl.Series) -> pl.Series:
    """Datetime (µs, no zone) of each value; null where the rule rejects it or it is null."""
    n = len(values)
    if n == 0:
        return pl.Series(values.name, [], dtype=DTYPE)
    present = values.is_not_null().to_numpy()
    micros, decoded = _decode_by_hour(values, present)
    rest = np.flatnonzero(~decoded & present)
    present = decoded.copy()
    if rest.size:
        ruled = by_the_rule(values.gather(rest))
        micros[rest] = ruled.to_physical().fill_null(0).to_numpy()
        present[rest] = ruled.is_not_null().to_numpy()
    parsed = pl.Series(values.name, micros, dtype=pl.Int64)
    if not present.all():  # (pyarrow's masked arrays would import pandas, half a second)
        parsed = pl.select(pl.when(pl.Series(present)).then(parsed)).to_series()
    return parsed.cast(DTYPE)


# the last 8 bytes, "mm:ss AM" as a little-endian word: which bytes are fixed
_FIXED = np.uint64(0xFF00FF0000FF0000)
_FIXED_VALUE = np.uint64((ord("M") << 56) | (ord(" ") << 40) | (ord(":") << 16))


def _decode_by_hour(values: pl.Series, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_decode` once per run of values sharing everything before the minute ("4/12/2016 2:"),
    and the minute, second and AM/PM of each value from its last 8 bytes.

    Minute and second files list each person's times in order, so a run is an hour of them.
    """
    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    decoded = np.zeros(n, dtype=bool)
    offsets, data = _buffers(values)
    if data is None or data.size < _SHORTEST:
        return micros, decoded
    end = offsets[1:]
    length = end - offsets[:-1]
    ok = present & (length >= _SHORTEST) & (length <= _WIDTH)
    # a little-endian word at every byte of the buffer; each value's last 8 bytes
    words = np.ndarray(shape=(data.size - 7,), dtype="<u8", buffer=data, strides=(1,))
    word = words[np.maximum(end - 8, 0)]
    ok &= (word & _FIXED) == _FIXED_VALUE
    byte = word.view(np.uint8).reshape(-1, 8)  # a column per byte of "mm:ss AM"
    # a digit's byte less "0" is 0–9 (below "0" it wraps past 9)
    m1, m2, s1, s2 = (byte[:, k] - np.uint8(48) for k in (0, 1, 3, 4))
    pm = byte[:, 6] == ord("P")
    ok &= pm | (byte[:, 6] == ord("A"))
    ok &= (m1 <= 5) & (m2 <= 9) & (s1 <= 5) & (s2 <= 9)
    seconds = ((m1 * 10 + m2).astype(np.int64) + pm * 720) * 60 + (s1 * 10 + s2)
    # everything before the minute, once per run of equal prefixes, as the hour's first second
    prefix = values.str.head(-8)
    run = prefix.rle_id().to_numpy()
    firsts = np.flatnonzero(np.diff(run, prepend=-1))
    hours = (prefix.gather(firsts) + "00:00 AM").rename("hour")
    hour_micros, hour_ok = _decode(hours, hours.is_not_null().to_numpy())
    ok &= hour_ok[run]
    value = hour_micros[run] + seconds * 1_000_000
    if ok.all():
        return value, ok
    micros[ok] = value[ok]
    decoded[ok] = True
    return micros, decoded


def _buffers(values: pl.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """The value offsets and the bytes of a String column (Arrow's large_string layout)."""
    array = values.to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():  # what Polars gives; a cast imports pyarrow.compute
        array = array.cast(pa.large_string())
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else None
    return offsets, data


def _decode(values: pl.Series, present: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(µs since the epoch, decoded?) per value; only values in Fitabase's exact shape decode."""
    n = len(values)
    micros = np.zeros(n, dtype=np.int64)
    decoded = np.zeros(n, dtype=bool)
    offsets, data = _buffers(values)
    if data is None:
        return micros, decoded
    start, length = offsets[:-1], np.diff(offsets)
    rows = np.flatnonzero(present & (length >= _SHORTEST) & (length <= _WIDTH))
    if rows.size == 0:
        return micros, decoded
    # each value's first and last _WIDTH bytes as rows of a matrix (zero padding around the buffer)
    padded = np.concatenate([np.zeros(_WIDTH, np.uint8), data, np.zeros(_WIDTH, np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, _WIDTH)
    first = windows[start[rows] + _WIDTH]  # first[:, k] = value[k]
    last = windows[start[rows] + length[rows]]  # last[:, -k] = value[len - k]
    length = length[rows]
    m = np.arange(rows.size)

    def digit(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = column.astype(np.int64) - 48
        return d, (d >= 0) & (d <= 9)

    # the clock, from the end: "h:mm:ss AM" or "hh:mm:ss PM"
    s1, s1_ok = digit(last[:, -5])
    s2, s2_ok = digit(last[:, -4])
    i1, i1_ok = digit(last[:, -8])
    i2, i2_ok = digit(last[:, -7])
    h2, h2_ok = digit(last[:, -10])
    h1, h1_ok = digit(last[:, -11])
    two_digit_hour = h1_ok
    ok = (last[:, -1] == ord("M")) & ((last[:, -2] == ord("A")) | (last[:, -2] == ord("P")))
    ok &= (last[:, -3] == ord(" ")) & (last[:, -6] == ord(":")) & (last[:, -9] == ord(":"))
    ok &= s1_ok & s2_ok & i1_ok & i2_ok & h2_ok
    ok &= np.where(two_digit_hour, last[:, -12], last[:, -11]) == ord(" ")
    hour = np.where(two_digit_hour, h1 * 10 + h2, h2)
    minute, second = i1 * 10 + i2, s1 * 10 + s2
    ok &= (hour >= 1) & (hour <= 12) & (minute <= 59) & (second <= 59)
    # the date, from the start: "M/D/YYYY" … "MM/DD/YYYY", ending where the clock begins
    date_length = length - 11 - two_digit_hour
    month_length = np.where(first[:, 1] == ord("/"), 1, 2)
    day_length = date_length - month_length - 6
    ok &= (first[m, month_length] == ord("/")) & ((day_length == 1) | (day_length == 2))
    day_length = np.clip(day_length, 1, 2)
    ok &= first[m, month_length + 1 + day_length] == ord("/")
    m1, m1_ok = digit(first[:, 0])
    m2, m2_ok = digit(first[:, 1])
    month = np.where(month_length == 2, m1 * 10 + m2, m1)
    ok &= m1_ok & ((month_length == 1) | m2_ok)
    d1, d1_ok = digit(first[m, month_length + 1])
    d2, d2_ok = digit(first[m, month_length + 2])
    day = np.where(day_length == 2, d1 * 10 + d2, d1)
    ok &= d1_ok & ((day_length == 1) | d2_ok)
    year = np.zeros(rows.size, dtype=np.int64)
    year_start = month_length + day_length + 2
    for k in range(4):
        y, y_ok = digit(first[m, year_start + k])
        year = year * 10 + y
        ok &= y_ok
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1)
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    month_start = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    next_month = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    ok &= day <= next_month - month_start
    hour24 = hour % 12 + np.where(last[:, -2] == ord("P"), 12, 0)
    value = (month_start + day - 1) * _US_PER_DAY
    value += (hour24 * 60 + minute) * _US_PER_MINUTE + second * 1_000_000
    micros[rows[ok]] = value[ok]
    decoded[rows[ok]] = True
    return micros, decoded
