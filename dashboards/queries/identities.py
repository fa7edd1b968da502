"""Who each pid is: the identities file, to whom it may be shown, and the audit of every reveal.

Only coaches see their own caseload's participant ids and display names (and program managers
when `REVEAL_SETTING` names them); the reads that show them are `caseload.caseload_identities`
and `person.person_identity`, each audited here before the page gets anything.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableSet
from pathlib import Path

import streamlit as st

from dashboards.snapshot import data_dir
from pipelines.lib import audit
from pipelines.lib.identities import IdentitiesError, Identity, read_identities
from pipelines.lib.layout import DataDir
from pipelines.lib.users import User

REVEAL_SETTING = "STEADYBACK_REVEAL_IDENTITIES_TO"
"""Environment variable: the roles besides coaches that see participant ids on the Person page.

Unset (the default): nobody but each person's own coach. The only role it may name is
`program_manager` (analysts have no page about one person).
"""
REVEALABLE_ROLES = ("program_manager",)

REVEALED_KEY = "identities_revealed"
"""Session-state key of the set the pages pass as `revealed` (emptied by logging out)."""


class IdentitiesUnavailable(Exception):
    """Participant ids cannot be shown now; the page shows pids only, with this message."""


def _revealed_to_roles() -> frozenset[str]:
    """The roles besides coaches `REVEAL_SETTING` names; IdentitiesUnavailable for any other."""
    setting = os.environ.get(REVEAL_SETTING, "")
    roles = frozenset(role.strip() for role in setting.split(",") if role.strip())
    if not roles <= set(REVEALABLE_ROLES):
        raise IdentitiesUnavailable(
            f"Participant ids are not shown: {REVEAL_SETTING}={setting!r} may name only "
            f"{', '.join(REVEALABLE_ROLES)} (coaches always see their own caseload's). "
            "Ask an administrator to correct it."
        )
    return roles


def _known_identities() -> dict[str, Identity]:
    """The identities file, re-read only when it changed (path, mtime, size)."""
    path = DataDir.at(data_dir()).identities
    try:
        stat = path.stat()
        return _read_identities(str(path), stat.st_mtime_ns, stat.st_size)
    except FileNotFoundError as error:
        raise IdentitiesUnavailable(
            "Participant ids are not available yet: the next publishing run "
            "(`steadyback run`) writes them to access/identities.json in the data directory."
        ) from error
    except (OSError, IdentitiesError) as error:
        raise IdentitiesUnavailable(f"Participant ids cannot be shown: {error}") from error


@st.cache_data(show_spinner=False, max_entries=2)
def _read_identities(path: str, mtime_ns: int, size: int) -> dict[str, Identity]:
    return read_identities(Path(path))


def _audit_reveal(
    user: User,
    page: str,
    shown: Mapping[str, Identity],
    revealed: MutableSet[tuple[str, Identity]],
) -> None:
    """Log each identity this session has not been shown yet (`identity_shown`), then note it.

    `user` is a viewer the calling query has already authorised.

    Written before the page gets the identities: if the audit log cannot be written,
    nothing is shown. `revealed` is the session's memory, so reruns and coming back
    to a page log nothing new; a changed identity (say, a corrected display name) is
    logged again.
    """
    new = [(pid, identity) for pid, identity in shown.items() if (pid, identity) not in revealed]
    if not new:
        return
    try:
        audit.record_each(
            data_dir(),
            user=user.username,
            role=user.role,
            page=page,
            pids=[pid for pid, _ in new],
            outcome="identity_shown",
        )
    except OSError as error:
        raise IdentitiesUnavailable(
            f"Participant ids are not shown: the audit log cannot be written ({error})."
        ) from error
    revealed.update(new)
