"""The small cohort's published snapshot, and its people's pids, for the pipeline tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.pseudonym import pseudonym_key, pseudonymize


@pytest.fixture(scope="module")
def snapshot(small_cohort: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the small cohort's published/current.duckdb."""
    con = duckdb.connect(str(small_cohort / "published" / "current.duckdb"), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="session")
def pid() -> Callable[[str], str]:
    """participant_id → the pid the published tables show (this session's key)."""
    key = pseudonym_key()
    return lambda participant_id: pseudonymize(participant_id, key)
