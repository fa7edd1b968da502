"""Deterministic synthetic cohort for steadyback demos and tests (see docs/demo-data.md).

Usage: ``summary = generate_cohort(out_dir, participants=300, weeks=12, seed=7)`` writes
``out_dir/landing/`` (the exports) and ``out_dir/truth/`` (what was planted).
"""

from .cohort import generate_cohort
from .schedule import Calendar, make_calendar

__all__ = ["Calendar", "generate_cohort", "make_calendar"]
