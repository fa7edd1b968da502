"""Importing `pipelines` sets DuckDB's and Polars' jemalloc to hand freed pages back within a
tenth of a second (their defaults kept a run's finished statements in its peak memory:
benchmarks/README.md, "Apple Health"), before either library is loaded; an operator's own
settings win. Checked in fresh interpreters: jemalloc reads its settings once, at its start
(Polars then puts its own defaults before ours; the later setting counts)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import os, pipelines; "
    "print(os.environ['DUCKDB_JE_MALLOC_CONF'], os.environ['_RJEM_MALLOC_CONF'])"
)


def _settings(**env: str) -> list[str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DUCKDB_JE_MALLOC_CONF", "_RJEM_MALLOC_CONF")
    }
    environment["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", SHOW],
        env=environment | env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.split()


def test_both_allocators_return_freed_pages_after_a_tenth_of_a_second():
    short = "dirty_decay_ms:100,muzzy_decay_ms:0"
    assert _settings() == [short, short]


@pytest.mark.parametrize("variable", ["DUCKDB_JE_MALLOC_CONF", "_RJEM_MALLOC_CONF"])
def test_an_operators_setting_wins(variable):
    settings = _settings(**{variable: "dirty_decay_ms:5000"})
    assert settings[["DUCKDB_JE_MALLOC_CONF", "_RJEM_MALLOC_CONF"].index(variable)] == (
        "dirty_decay_ms:5000"
    )
