"""Deterministic synthetic cohort for steadyback demos and tests (see docs/demo-data.md).

    from pipelines.lib.demo_cohort import generate_cohort
    summary = generate_cohort(out_dir, participants=300, weeks=12, seed=7)
"""

from .cohort import generate_cohort
from .schedule import Calendar, make_calendar

__all__ = ["generate_cohort", "make_calendar", "Calendar"]
