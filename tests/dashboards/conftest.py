"""Dashboard users for the page tests (one per role) in the shared published data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_harness import add_test_users


@pytest.fixture(scope="session")
def dashboard_dir(published_data_dir: Path) -> Path:
    """The small cohort's published data dir, with one dashboard user per role."""
    add_test_users(published_data_dir)
    return published_data_dir
