"""Sign-in sessions of the dashboard: who stays signed in, for how long, and how it ends.

A successful login starts a *sign-in session*: a random id (256 bits) that the
browser keeps in a cookie, signed with HMAC-SHA-256 (itsdangerous) under
`<data dir>/access/session_secret`. The server keeps, in
`<data dir>/access/sessions.json`, only the SHA-256 of each id, with the
username, a fingerprint of the user's users-file entry (role, coach id,
password hash) and when the session was last used.

Every script run checks its session here (`Sessions.check`): it is refused when
it is not in the file (signed out, ended by an administrator, or never issued),
when it was idle longer than the idle time, when the user is no longer in the
users file, or when their entry changed (another role or coach id, a new
password). Signing out removes every session of the user (`end_user`). Every
file is the dashboard server's own (folder 0700, files 0600); nothing here is
published.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from itsdangerous import BadSignature, Signer

from pipelines.lib.files import replace_json
from pipelines.lib.layout import DataDir, private_dir
from pipelines.lib.users import User, UserStore

IDLE_ENV = "STEADYBACK_SESSION_IDLE"
DEFAULT_IDLE = "8h"
MAX_IDLE_S = 7 * 24 * 3600.0
"""An idle time longer than a week is refused: a forgotten browser should not stay signed in."""
TOUCH_INTERVAL_S = 60.0
"""How often, at most, a session's last use is written down (and its cookie renewed)."""
FILE_VERSION = 1
UNKNOWN_USER = "(unknown)"
"""The audit log's user for a cookie that names nobody (no username can start with '(')."""

_IDLE_PATTERN = re.compile(r"(\d+(?:\.\d+)?)\s*([smh])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_SECRET_PATTERN = re.compile(r"[0-9a-f]{64}")
_SIGNER_SALT = b"steadyback.sign-in-session"

_log = logging.getLogger(__name__)


class SessionError(ValueError):
    """Sign-in sessions cannot be kept: a bad idle time, or an unreadable secret or sessions file."""


def idle_seconds(text: str | None = None, source: str = IDLE_ENV) -> float:
    """The idle time after which a sign-in session ends, in seconds.

    `text` (or else the STEADYBACK_SESSION_IDLE environment variable, or else 8h)
    is a number and a unit: `90s`, `30m`, `8h`, `1.5h`. `source` names where it
    was given, for the error.
    """
    if text is None:
        text = os.environ.get(IDLE_ENV) or DEFAULT_IDLE
    match = _IDLE_PATTERN.fullmatch(text.strip().lower())
    seconds = float(match[1]) * _UNITS[match[2]] if match else math.nan
    if not 1.0 <= seconds <= MAX_IDLE_S:
        raise SessionError(
            f"{source} {text!r}: give a number and a unit, s, m or h (e.g. 8h, 30m, 90s), "
            f"from 1s to {MAX_IDLE_S / 3600:.0f}h"
        )
    return seconds


def touch_interval(idle_s: float) -> float:
    """Last use is written at most this often: a minute, or an eighth of a short idle time."""
    return min(TOUCH_INTERVAL_S, idle_s / 8)


def fingerprint(user: User) -> str:
    """Changes whenever the user's role, coach id or password hash does."""
    material = json.dumps([user.username, user.role, user.coach_id, user.credential])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True)
class Check:
    """A session's state: the user when it may go on, else why not."""

    user: User | None
    refusal: str | None = None
    """`ended` (signed out, or never issued), `expired`, `user removed`, `user changed`."""
    username: str | None = None
    """Whose session it was, when the sessions file still knew."""
    touched: bool = False
    """Whether its last use was written down now (the browser's cookie is due for renewal)."""


class Sessions:
    """The sign-in sessions of one data dir."""

    def __init__(self, layout: DataDir) -> None:
        self.layout = layout
        self.path = layout.sign_in_sessions

    @classmethod
    def at(cls, data_dir: str | os.PathLike) -> Sessions:
        return cls(DataDir.at(data_dir))

    # --- the cookie -------------------------------------------------------------------------

    def sign(self, sid: str) -> str:
        """The cookie value for a session id: the id and its HMAC-SHA-256."""
        return self._signer().sign(sid).decode("ascii")

    def unsign(self, cookie: str) -> str | None:
        """The session id in a cookie value; None when it is malformed or not signed by us."""
        try:
            return self._signer().unsign(cookie.encode("ascii")).decode("ascii")
        except (BadSignature, UnicodeError):
            return None

    def _signer(self) -> Signer:
        return Signer(self._secret(), salt=_SIGNER_SALT, digest_method=hashlib.sha256)

    def _secret(self) -> bytes:
        """The signing key: made on first use (0600, 32 random bytes), then read."""
        path = self.layout.session_secret
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            return self._new_secret()
        except (OSError, UnicodeError) as error:
            # never the error's own text: a decoding error quotes bytes of the file
            raise SessionError(
                f"{path}: the session secret cannot be read ({type(error).__name__}). "
                "Fix its owner and mode (0600), or delete it: a new one is made, and every "
                "sign-in session ends."
            ) from None
        if not _SECRET_PATTERN.fullmatch(text.strip()):
            raise SessionError(
                f"{path}: not a session secret steadyback wrote (64 hex digits). Delete it: a "
                "new one is made, and every sign-in session ends."
            )
        return bytes.fromhex(text.strip())

    def _new_secret(self) -> bytes:
        # Written whole to a temporary file, then linked into place: the secret file never
        # exists half-written (a concurrent first sign-in reads either nothing or all of it),
        # and os.link, like O_EXCL, refuses to replace one another process made meanwhile.
        path = self.layout.session_secret
        private_dir(path.parent)
        key = secrets.token_bytes(32)
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            try:
                os.write(fd, key.hex().encode("ascii") + b"\n")
                os.fsync(fd)
            finally:
                os.close(fd)
            os.link(temporary, path)
        except FileExistsError:  # another process made it meanwhile
            return self._secret()
        finally:
            temporary.unlink(missing_ok=True)
        _log.info("made a new session secret in %s", path.parent)
        return key

    # --- the sessions -------------------------------------------------------------------------

    def start(self, user: User, idle_s: float, now: float | None = None) -> str:
        """A new session for `user`: its id (for the cookie; the file keeps only its hash)."""
        now = time.time() if now is None else now
        sid = secrets.token_urlsafe(32)
        entry = {"user": user.username, "fingerprint": fingerprint(user), "started": now}
        with self._changing(idle_s, now) as sessions:
            sessions[_digest(sid)] = {**entry, "seen": now}
        return sid

    def check(self, sid: str, idle_s: float, now: float | None = None) -> Check:
        """Whether session `sid` may go on, against the users file as it is now.

        A refused session is removed; a session used again after more than
        `touch_interval` has its last use written down.
        """
        now = time.time() if now is None else now
        key = _digest(sid)
        entry = self._read().get(key)
        if entry is None:
            return Check(None, "ended")
        username = entry["user"]
        user, refusal = self._judged(entry, idle_s, now)
        if refusal is not None:
            with self._changing(idle_s, now) as sessions:
                sessions.pop(key, None)
            return Check(None, refusal, username)
        if now - entry["seen"] < touch_interval(idle_s):
            return Check(user, username=username)
        with self._changing(idle_s, now) as sessions:
            if key not in sessions:  # ended meanwhile (signed out in another tab)
                return Check(None, "ended", username)
            sessions[key]["seen"] = now
        return Check(user, username=username, touched=True)

    def live(self, sid: str, idle_s: float, now: float | None = None) -> bool:
        """Whether session `sid` may go on (as `check`, without changing anything)."""
        entry = self._read().get(_digest(sid))
        now = time.time() if now is None else now
        return entry is not None and self._judged(entry, idle_s, now)[1] is None

    def _judged(self, entry: dict, idle_s: float, now: float) -> tuple[User | None, str | None]:
        """The user of a recorded session, or why it may not go on."""
        if _idle(entry, idle_s, now):
            return None, "expired"
        user = UserStore.at(self.layout.root).get(entry["user"])
        if user is None:
            return None, "user removed"
        if fingerprint(user) != entry["fingerprint"]:
            return None, "user changed"
        return user, None

    def end_user(self, username: str) -> int:
        """End every session of `username` (signing out); how many there were."""
        with self._changing() as sessions:
            mine = [key for key, entry in sessions.items() if entry["user"] == username]
            for key in mine:
                del sessions[key]
        return len(mine)

    def count(self, username: str | None = None) -> int:
        """How many sessions the file holds (of `username`), idle ones included."""
        return sum(1 for e in self._read().values() if username in (None, e["user"]))

    # --- the file ---------------------------------------------------------------------------

    def _read(self) -> dict[str, dict]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeError) as error:
            raise SessionError(
                f"{self.path}: the sign-in sessions cannot be read ({type(error).__name__})"
            ) from None
        try:
            document = json.loads(text)
            sessions = document["sessions"]
            if document["version"] != FILE_VERSION or not all(
                isinstance(e["user"], str)
                and isinstance(e["fingerprint"], str)
                and isinstance(e["seen"], int | float)
                for e in sessions.values()
            ):
                raise ValueError
        except (ValueError, TypeError, KeyError, AttributeError):
            # Only sessions are lost by starting afresh, and a session it does not hold is
            # refused: failing closed costs a new login, never access.
            _log.error("%s: not a sign-in sessions file steadyback wrote; ignoring it", self.path)
            return {}
        return sessions

    @contextmanager
    def _changing(
        self, idle_s: float | None = None, now: float | None = None
    ) -> Iterator[dict[str, dict]]:
        """The sessions, changed in place and written back under an exclusive lock; sessions
        idle longer than `idle_s` are dropped on the way."""
        try:
            private_dir(self.path.parent)
            fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise self._unwritable(error) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            sessions = self._read()
            before = json.dumps(sessions, sort_keys=True)
            if idle_s is not None:
                now = time.time() if now is None else now
                sessions = {k: e for k, e in sessions.items() if not _idle(e, idle_s, now)}
            yield sessions
            if json.dumps(sessions, sort_keys=True) != before:
                document = {"version": FILE_VERSION, "sessions": sessions}
                try:
                    replace_json(self.path, document, indent=1)
                except OSError as error:
                    raise self._unwritable(error) from None
        finally:
            os.close(fd)  # closing releases the lock

    def _unwritable(self, error: OSError) -> SessionError:
        return SessionError(
            f"{self.path}: the sign-in sessions cannot be written ({type(error).__name__})"
        )


def _idle(entry: dict, idle_s: float, now: float) -> bool:
    """Whether a session was last used `idle_s` or more ago: it has ended."""
    return now - entry["seen"] >= idle_s


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()
