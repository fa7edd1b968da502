"""Caseload for coaches: their own participants, most in need of attention first."""

from __future__ import annotations

from dashboards import session

viewer, snapshot = session.open_page("caseload", "Caseload")
