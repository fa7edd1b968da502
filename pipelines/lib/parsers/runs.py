"""Work done once per run of equal values: a minute or second file repeats a person's Id on
thousands of rows in a row, so stripping or checking each run's value once and spreading it
back costs a fraction of doing it row by row (and no more when nothing repeats)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl


def per_run(values: pl.Series, fn: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """`fn(values)`, for an `fn` that maps each value on its own, computed once per run."""
    run = values.rle_id()
    heads = np.flatnonzero(np.diff(run.to_numpy(), prepend=-1))
    return fn(values.gather(heads)).gather(run)
