"""Dashboard users for the page tests (one per role) in the shared published data dir."""

from __future__ import annotations

from pathlib import Path

import pytest
from page_harness import add_test_users
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage


@pytest.fixture(scope="session")
def dashboard_dir(published_data_dir: Path) -> Path:
    """The small cohort's published data dir, with one dashboard user per role."""
    add_test_users(published_data_dir)
    return published_data_dir


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """Every file a download button offers, by media file id (AppTest keeps them in memory)."""
    files: dict[str, bytes] = {}
    load = MemoryMediaFileStorage.load_and_get_id

    def keep(self, path_or_data, mimetype, kind, filename=None):
        file_id = load(self, path_or_data, mimetype, kind, filename)
        files[file_id] = path_or_data
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", keep)
    return files
