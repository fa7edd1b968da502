"""Shared fixtures: the real vendor samples beside the project, and generated cohorts run end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_REAL = REPO.parent / "shared" / "data" / "real"
FITABASE_2016 = SHARED_REAL / "fitabase_furberg2016" / "Fitabase Data 4.12.16-5.12.16"

os.environ.setdefault("STEADYBACK_PSEUDONYM_KEY", "test-key-for-steadyback")


@pytest.fixture(scope="session")
def real_data() -> Path:
    if not SHARED_REAL.is_dir():
        pytest.skip(
            f"real vendor samples not found at {SHARED_REAL} (clone ../shared beside the project)"
        )
    return SHARED_REAL


@pytest.fixture(scope="session")
def fitabase_2016(real_data: Path) -> Path:
    return FITABASE_2016


@pytest.fixture(scope="session")
def small_cohort(tmp_path_factory) -> Path:
    """A generated cohort (40 people × 6 weeks) run through the real pipeline once per session."""
    from pipelines.lib.demo_cohort import generate_cohort
    from pipelines.runner import run_pipeline

    data_dir = tmp_path_factory.mktemp("small_cohort")
    generate_cohort(data_dir, participants=40, weeks=6, seed=11)
    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    return data_dir


@pytest.fixture(scope="session")
def published_data_dir(small_cohort: Path) -> Path:
    """A data dir whose published/current.duckdb came from the real pipeline."""
    return small_cohort
