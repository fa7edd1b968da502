"""Who each pseudonym is, for the coaches: pid → the program's participant id and display name.

`<data dir>/access/identities.json`, written by every publishing run right after
the snapshot swap, from the warehouse (the roster's latest row of each person in
`marts.participants`). It sits beside the users file and the audit log, outside
`published/`, readable by the account that runs steadyback only (folder 0700,
file 0600), and is replaced in one `os.replace`, so a reader never sees half a
file::

    {"version": 1, "run_id": "…", "written_at": "2026-03-02T09:14:05+00:00",
     "people": {"p_02afba33ae4696a2": {"participant_id": "P-00042",
                                      "display_name": "Ana R.", "coach_id": "C-03"}}}

The dashboards' data-access layer shows an entry only to that person's own coach
(docs/access.md), and every time it does so it is written to the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from .files import replace_json
from .layout import DataDir

VERSION = 1


class Identity(NamedTuple):
    participant_id: str
    display_name: str | None
    coach_id: str


class IdentitiesError(ValueError):
    """The identities file is not one steadyback wrote (the message names the file)."""


def warehouse_identities(con: duckdb.DuckDBPyConnection) -> dict[str, Identity]:
    """pid → identity for everyone in `marts.participants` of the open warehouse.

    The pid is the roster id's pseudonym (`pseudonymize`, registered by
    `open_warehouse`), so the mapping holds exactly under the key the marts were
    built with; the display name is staging's (the roster's latest export wins).
    """
    rows = con.execute(
        """
        with roster_ids as (
            select distinct trim(participant_id) as participant_id
            from raw.roster
            where trim(participant_id) <> ''
        )
        select p.pid, r.participant_id, s.display_name, p.coach_id
        from marts.participants as p
        join staging.roster__participants as s using (pid)
        join roster_ids as r on pseudonymize(r.participant_id) = p.pid
        order by p.pid
        """
    ).fetchall()
    return {pid: Identity(participant_id, name, coach) for pid, participant_id, name, coach in rows}


def write_identities(data_dir: DataDir, identities: Mapping[str, Identity], run_id: str) -> Path:
    """Replace `access/identities.json` atomically; folder 0700, file 0600 whatever the umask."""
    document = {
        "version": VERSION,
        "run_id": run_id,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "people": {pid: identity._asdict() for pid, identity in sorted(identities.items())},
    }
    return replace_json(data_dir.identities, document, indent=1)


def publish_identities(data_dir: DataDir, con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Write the identities of the people the run just published; how many there are."""
    identities = warehouse_identities(con)
    write_identities(data_dir, identities, run_id)
    return len(identities)


def read_identities(path: Path) -> dict[str, Identity]:
    """pid → identity. FileNotFoundError when absent; IdentitiesError when not a valid file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IdentitiesError(f"{path} is not valid JSON ({error})") from error
    if not isinstance(document, dict) or document.get("version") != VERSION:
        raise IdentitiesError(f"{path} is not a version-{VERSION} identities file")
    people = document.get("people")
    if not isinstance(people, dict):
        raise IdentitiesError(f"{path} has no people")
    identities = {}
    for pid, entry in people.items():
        try:
            identity = Identity(
                participant_id=entry["participant_id"],
                display_name=entry.get("display_name"),
                coach_id=entry["coach_id"],
            )
        except (KeyError, TypeError, AttributeError) as error:
            raise IdentitiesError(f"{path}: the entry of {pid} is incomplete") from error
        if not all(isinstance(v, str) for v in (identity.participant_id, identity.coach_id)) or (
            identity.display_name is not None and not isinstance(identity.display_name, str)
        ):
            raise IdentitiesError(f"{path}: the entry of {pid} is not text")
        identities[pid] = identity
    return identities
