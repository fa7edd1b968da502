"""Who may see what: the roles, the pages each may open, and the checks every query makes first.

Access is enforced in the data-access layer, not by the pages: every public function of
`dashboards.queries` takes the logged-in `viewer` (a `pipelines.lib.users.User`) and
refuses with `AccessDenied` what the viewer's role may not read — a coach gets only their
own caseload, an analyst no person-level data.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards.snapshot import PARTICIPANT_COLUMNS, SnapshotIdentity, read_sql, snapshot_identity
from pipelines.lib.users import User

PAGES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "program_manager": ("cohort", "person"),
    "coach": ("caseload", "person"),
    "analyst": ("data-health", "cohort"),
}
"""Which pages each role may open; the first is where they land after logging in."""

PAGE_TITLES = {
    "cohort": "Cohort",
    "caseload": "Caseload",
    "person": "Person",
    "data-health": "Data health",
}

NOT_IN_CASELOAD = "This participant is not in your caseload."


class AccessDenied(PermissionError):
    """The viewer may not see this; the message is shown to them as it is."""


def authorise(viewer: User | None, page: str) -> User:
    """The viewer, when their role may open `page`; AccessDenied otherwise."""
    if viewer is None:
        raise AccessDenied("Log in to see this page.")
    allowed = PAGES_BY_ROLE.get(viewer.role, ())
    if page not in allowed:
        role = viewer.role.replace("_", " ")
        article = "an" if role[0] in "aeiou" else "a"
        return_to = ", ".join(PAGE_TITLES[p] for p in allowed) or "none"
        raise AccessDenied(
            f"The {PAGE_TITLES.get(page, page)} page is not available to {article} {role} "
            f"(your pages: {return_to})."
        )
    return viewer


def authorise_person(
    viewer: User | None, pid: str, snapshot: SnapshotIdentity | None = None
) -> dict[str, Any] | None:
    """The person's `marts.participants` row when the viewer may see it.

    Program managers may see anyone; a coach only people whose `coach_id` is
    theirs — anyone else, including an unknown pid, is "not in your caseload",
    so a coach cannot probe which pids exist. None: unknown pid (program managers).
    """
    viewer = authorise(viewer, "person")
    # a caller about to read passes the snapshot it will read, so the check and the read
    # cannot straddle a publish that moved the person to another coach
    snapshot = snapshot or snapshot_identity()
    row = None if snapshot is None else _participant(snapshot, pid)
    if viewer.role == "coach" and (
        row is None or viewer.coach_id is None or row["coach_id"] != viewer.coach_id
    ):
        raise AccessDenied(NOT_IN_CASELOAD)
    return row


_PARTICIPANT_SQL = f"""
select {PARTICIPANT_COLUMNS}
from marts.participants
where pid = $pid
"""


@st.cache_data(show_spinner=False, max_entries=1024)
def _participant(snapshot: SnapshotIdentity, pid: str) -> dict[str, Any] | None:
    rows = read_sql(
        snapshot,
        _PARTICIPANT_SQL,
        {"pid": pid},
    )
    return rows.row(0, named=True) if rows.height else None
