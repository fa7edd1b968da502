"""Dashboard users: a JSON file under the data dir with argon2id password hashes.

`<data dir>/access/users.json` holds one entry per user — username, role, the
coach id for coaches, and an argon2id hash (salted, memory-hard; argon2-cffi's
defaults). Passwords are never stored or logged. The file is rewritten
atomically (temp file + rename) under an exclusive lock, readable by its owner
only.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.lib.layout import DataDir

ROLES = ("program_manager", "coach", "analyst")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
FILE_VERSION = 1

_hasher = PasswordHasher()
# Verified when a username is unknown, so that a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("steadyback-not-a-user")


class UserError(ValueError):
    """A user that cannot be added or removed, with a message for the person typing the command."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    coach_id: str | None = None
    created_at: str | None = None


class UserStore:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @classmethod
    def at(cls, data_dir: str | os.PathLike) -> UserStore:
        return cls(DataDir.at(data_dir).users_file)

    # --- reading -------------------------------------------------------------------------

    def _entries(self) -> list[dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            document = json.loads(text)
            entries = document["users"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise UserError(f"{self.path}: not a steadyback users file ({error})") from error
        return list(entries)

    def list(self) -> list[User]:
        return [_user(entry) for entry in sorted(self._entries(), key=lambda e: e["username"])]

    def get(self, username: str) -> User | None:
        for entry in self._entries():
            if entry["username"] == username:
                return _user(entry)
        return None

    def verify(self, username: str, password: str) -> User | None:
        """The user when the password matches, else None (same cost for unknown usernames)."""
        entry = next((e for e in self._entries() if e["username"] == username), None)
        stored = entry["password_hash"] if entry else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        return _user(entry) if entry else None

    # --- changing ------------------------------------------------------------------------

    def add(
        self,
        username: str,
        role: str,
        password: str,
        coach_id: str | None = None,
        replace: bool = False,
    ) -> User:
        if not USERNAME_PATTERN.match(username or ""):
            raise UserError(
                f"username {username!r}: use 1–64 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit"
            )
        if role not in ROLES:
            raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
        if role == "coach" and not coach_id:
            raise UserError("a coach needs --coach-id (the roster's coach_id of their caseload)")
        if role != "coach" and coach_id:
            raise UserError(f"--coach-id is only for coaches, not for a {role}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        user = User(
            username=username,
            role=role,
            coach_id=coach_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with self._locked():
            entries = self._entries()
            if any(e["username"] == username for e in entries):
                if not replace:
                    raise UserError(f"user {username!r} already exists (remove it first)")
                entries = [e for e in entries if e["username"] != username]
            entries.append({**asdict(user), "password_hash": _hasher.hash(password)})
            self._write(entries)
        return user

    def remove(self, username: str) -> bool:
        with self._locked():
            entries = self._entries()
            kept = [e for e in entries if e["username"] != username]
            if len(kept) == len(entries):
                return False
            self._write(kept)
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write(self, entries: list[dict]) -> None:
        document = {
            "version": FILE_VERSION,
            "users": sorted(entries, key=lambda e: e["username"]),
        }
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".users-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(document, out, indent=2)
                out.write("\n")
            os.chmod(temp, 0o600)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _user(entry: dict) -> User:
    return User(
        username=entry["username"],
        role=entry["role"],
        coach_id=entry.get("coach_id"),
        created_at=entry.get("created_at"),
    )
