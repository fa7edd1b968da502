"""Data health for analysts: runs, freshness, quarantine, checks and coverage."""

from __future__ import annotations

from dashboards import session

viewer, snapshot = session.open_page("data-health", "Data health", needs_snapshot=False)
