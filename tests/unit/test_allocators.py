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

import pipelines
from pipelines.lib.parse_cluster import PARSE_MALLOC_CONF

ROOT = Path(__file__).resolve().parents[2]
SHOW = (
    "import os, pipelines; "
    "print(os.environ['DUCKDB_JE_MALLOC_CONF'], os.environ['_RJEM_MALLOC_CONF'])"
)


def _settings(code: str = SHOW, **env: str) -> list[str]:
    """What `code` prints in a fresh interpreter started as an operator would start it:
    none of the allocator variables set unless `env` sets them."""
    mine = ("DUCKDB_JE_MALLOC_CONF", "_RJEM_MALLOC_CONF", pipelines.OPERATOR_SETTING)
    environment = {k: v for k, v in os.environ.items() if k not in mine}
    environment["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, "-c", code],
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


WORKERS_OF_A_CHILD = (
    "import subprocess, sys, pipelines; "
    "print(subprocess.run([sys.executable, '-c', 'from pipelines.lib.parse_cluster import "
    "WORKER_ENV; print(WORKER_ENV[\\'_RJEM_MALLOC_CONF\\'])'], capture_output=True, text=True,"
    " check=True).stdout.strip())"
)
"""A steadyback process that starts another (as the Dagster webserver starts a run): what that
one's parse workers are given."""


def test_a_process_started_by_a_steadyback_process_does_not_take_our_setting_for_the_operators():
    assert _settings(WORKERS_OF_A_CHILD) == [PARSE_MALLOC_CONF]


def test_an_operators_setting_reaches_the_parse_workers_of_every_process_below():
    assert _settings(WORKERS_OF_A_CHILD, _RJEM_MALLOC_CONF="dirty_decay_ms:5000") == [
        "dirty_decay_ms:5000"
    ]
