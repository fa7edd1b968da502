"""Who looked at which person: an append-only JSON-lines log outside the snapshot.

`<data dir>/access/audit.jsonl`, one event per line:
`{"at": UTC ISO time, "user", "role", "page", "pid", "outcome"}` — outcome is
`viewed`, `denied`, `report` (a printable report was produced), `login`,
`login_failed` or `locked_out` (a login refused unchecked: too many failures),
`identity_shown` (a page showed the person's participant id / display name:
see pipelines/lib/identities.py), `searched` (a coach searched their
caseload; the search text is not kept), or, on page `session`, `session_resumed`
(a tab signed in by its browser's sign-in cookie), `session_refused` (a sign-in
cookie or session refused: signed out elsewhere, idle too long, user removed or
changed, not signed by this server) and `logout` (see pipelines/lib/sign_in.py).
Each line is one JSON document with every control and line-separator character
escaped (`text_export.json_line`), so no value (a username, a pid from a URL)
can break a line or forge another. Lines are appended with
O_APPEND under an exclusive lock, so concurrent dashboard sessions never
interleave a line. The log and the `access/` folder are readable by their
owner only. Nothing here is ever rewritten or published.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path

from pipelines.lib.layout import DataDir
from pipelines.lib.text_export import json_line, spreadsheet_cell

OUTCOMES = (
    "viewed",
    "denied",
    "report",
    "login",
    "login_failed",
    "locked_out",
    "identity_shown",
    "searched",
    "session_resumed",
    "session_refused",
    "logout",
)


class AuditLogError(ValueError):
    """Lines of the audit log that are not audit events (named by file and line)."""


@dataclass(frozen=True)
class AuditEvent:
    at: str
    user: str
    role: str | None
    page: str
    pid: str | None
    outcome: str


_FIELDS = tuple(field.name for field in fields(AuditEvent))


def record(
    data_dir: str | os.PathLike,
    *,
    user: str,
    role: str | None,
    page: str,
    pid: str | None = None,
    outcome: str = "viewed",
) -> AuditEvent:
    return record_each(data_dir, user=user, role=role, page=page, pids=[pid], outcome=outcome)[0]


def record_each(
    data_dir: str | os.PathLike,
    *,
    user: str,
    role: str | None,
    page: str,
    pids: Iterable[str | None],
    outcome: str,
) -> list[AuditEvent]:
    """One event per pid, all appended in one locked write (a page showing many people)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r}: must be one of {', '.join(OUTCOMES)}")
    at = datetime.now(UTC).isoformat(timespec="milliseconds")
    events = [
        AuditEvent(at=at, user=user, role=role, page=page, pid=pid, outcome=outcome) for pid in pids
    ]
    if not events:
        return events
    path = DataDir.at(data_dir).audit_log
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = "".join(export_line(e) + "\n" for e in events).encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = 0
        while written < len(line):  # a write may be partial; the lock keeps the line whole
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)  # closing releases the lock
    return events


def read(data_dir: str | os.PathLike) -> list[AuditEvent]:
    """Every event, oldest first; an absent log is an empty one.

    Raises AuditLogError naming the file and lines when any line is not an event.
    """
    events, problems = read_with_problems(data_dir)
    if problems:
        raise AuditLogError("; ".join(problems))
    return events


def read_with_problems(data_dir: str | os.PathLike) -> tuple[list[AuditEvent], list[str]]:
    """Every readable event, oldest first, and one message per line that is not an event."""
    path = DataDir.at(data_dir).audit_log
    try:
        lines = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return [], []
    events, problems = [], []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            events.append(_event(json.loads(raw.decode("utf-8"))))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
            problems.append(f"{path}:{number}: not an audit event ({type(error).__name__})")
    return events, problems


def _event(document: dict) -> AuditEvent:
    if not isinstance(document, dict):
        raise TypeError("not an object")
    return AuditEvent(**{name: document[name] for name in _FIELDS})


def select(
    events: Iterable[AuditEvent],
    *,
    user: str | None = None,
    pid: str | None = None,
    since: date | None = None,
) -> list[AuditEvent]:
    """The events matching every given filter; `since` is a UTC day, inclusive."""
    first_day = since.isoformat() if since else None
    return [
        event
        for event in events
        if (user is None or event.user == user)
        and (pid is None or event.pid == pid)
        and (first_day is None or event.at[:10] >= first_day)
    ]


EXPORT_COLUMNS = ("time", "user", "role", "page", "pid", "outcome")


def export_rows(events: Iterable[AuditEvent]) -> list[list[str]]:
    """The events as rows of `EXPORT_COLUMNS` for a table or a CSV: every cell one line of
    text that a spreadsheet shows as text (`text_export.spreadsheet_cell`)."""
    return [
        [
            spreadsheet_cell(value or "")
            for value in (e.at, e.user, e.role, e.page, e.pid, e.outcome)
        ]
        for e in events
    ]


def export_line(event: AuditEvent) -> str:
    """The event as its JSON line, exactly as `record` stores it."""
    return json_line(asdict(event))


def log_path(data_dir: str | os.PathLike) -> Path:
    return DataDir.at(data_dir).audit_log
