"""The program rules the snapshot was built with, for every logged-in viewer."""

from __future__ import annotations

from dashboards.access import AccessDenied
from dashboards.snapshot import recorded_rules, snapshot_identity
from pipelines.lib.rules import AppliedRules
from pipelines.lib.users import User

PAGE = None
"""Not one page's: any logged-in role may read the rules (every page explains its numbers with
them); only an anonymous viewer is refused."""


def program_rules(viewer: User | None) -> AppliedRules:
    """The program rules the current snapshot was built with (its `meta.rules`), for any
    logged-in viewer: the pages explain their numbers with them.

    A snapshot published by a version that did not record them reads as the defaults, with
    `recorded` false (the data-health page says so); so does "no snapshot yet".
    """
    if viewer is None:
        raise AccessDenied("Log in to see this page.")
    snapshot = snapshot_identity()
    if snapshot is None:
        return AppliedRules(recorded=False)
    return recorded_rules(snapshot)
