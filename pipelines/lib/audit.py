"""Who looked at which person: an append-only JSON-lines log outside the snapshot.

`<data dir>/access/audit.jsonl`, one event per line:
`{"at": UTC ISO time, "user", "role", "page", "pid", "outcome"}` — outcome is
`viewed`, `denied` or `report` (a printable report was produced). Lines are
appended with O_APPEND under an exclusive lock, so concurrent dashboard
sessions never interleave a line. Nothing here is ever rewritten or published.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipelines.lib.layout import DataDir

OUTCOMES = ("viewed", "denied", "report", "login", "login_failed")


@dataclass(frozen=True)
class AuditEvent:
    at: str
    user: str
    role: str | None
    page: str
    pid: str | None
    outcome: str


def record(
    data_dir: str | os.PathLike,
    *,
    user: str,
    role: str | None,
    page: str,
    pid: str | None = None,
    outcome: str = "viewed",
) -> AuditEvent:
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome {outcome!r}: must be one of {', '.join(OUTCOMES)}")
    event = AuditEvent(
        at=datetime.now(UTC).isoformat(timespec="milliseconds"),
        user=user,
        role=role,
        page=page,
        pid=pid,
        outcome=outcome,
    )
    path = DataDir.at(data_dir).audit_log
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(asdict(event), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
    finally:
        os.close(fd)  # closing releases the lock
    return event


def read(data_dir: str | os.PathLike) -> list[AuditEvent]:
    """Every event, oldest first; an absent log is an empty one."""
    path = DataDir.at(data_dir).audit_log
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [AuditEvent(**json.loads(line)) for line in lines if line.strip()]
