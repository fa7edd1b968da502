"""Dashboard users for the page tests (one per role) in the shared published data dir, the
files the pages offer for download, and a clean count of failed logins."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_harness import Download, add_test_users, capture_downloads

from dashboards import session


@pytest.fixture(scope="session")
def dashboard_dir(published_data_dir: Path) -> Path:
    """The small cohort's published data dir, with one dashboard user per role."""
    add_test_users(published_data_dir)
    return published_data_dir


@pytest.fixture
def downloads(monkeypatch) -> list[Download]:
    """Every file a download button offers from now on (page_harness.capture_downloads)."""
    return capture_downloads(monkeypatch)


@pytest.fixture
def fresh_failures(monkeypatch):
    """Failed-login counts start empty, so tests never lock each other out."""
    monkeypatch.setattr(session, "login_attempts", {})
