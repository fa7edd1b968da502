"""Dashboard users: a JSON file under the data dir with argon2id password hashes.

`<data dir>/access/users.json` holds one entry per user — username, role, the
coach id for coaches, optionally an e-mail address and a time zone (where the
weekly coach digest goes, and when: docs/operations.md), and an argon2id hash
(salted, memory-hard; argon2-cffi's defaults). Passwords are never stored or logged. The file is rewritten
atomically (temp file + rename) under an exclusive lock, so concurrent
`steadyback users add` commands never lose a user; it and the `access/`
folder are readable by their owner only. A file that is not a valid users
file is an error naming it, never silently treated as empty or overwritten.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import shlex
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from dataclasses import replace as with_fields
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from pipelines.lib.files import replace_json
from pipelines.lib.layout import DataDir

ROLES = ("program_manager", "coach", "analyst")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$")
"""Letters, digits and `._@+-`: plain names and e-mail addresses (for single sign-on)."""
MIN_PASSWORD_LENGTH = 8
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
"""An address as a mail header may carry it: no spaces, quotes or line breaks (so nothing can
be injected into a header), a domain with a dot."""
FILE_VERSION = 1

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when a username is unknown, so a wrong username costs as long as a wrong password."""
    return _hasher.hash("steadyback-not-a-user")


class UserError(ValueError):
    """A user that cannot be added or removed, with a message for the person typing the command."""


@dataclass(frozen=True)
class User:
    username: str
    role: str
    coach_id: str | None = None
    created_at: str | None = None
    email: str | None = None  # where the weekly coach digest goes
    timezone: str | None = None  # IANA name: when the digest is due (docs/operations.md)
    # Changes with every new password (a digest of the salted hash, not of the password),
    # so a session can tell that its user's password was reset.
    credential: str | None = field(default=None, repr=False)


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
        except (OSError, UnicodeDecodeError) as error:
            raise UserError(f"{self.path}: the users file cannot be read ({error})") from error
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise self._corrupt(f"not valid JSON at line {error.lineno}") from error
        return self._validated(document)

    def _corrupt(self, problem: str) -> UserError:
        return UserError(
            f"{self.path}: not a valid steadyback users file ({problem}). "
            "Fix or restore it from a backup; steadyback will not overwrite it."
        )

    def _validated(self, document: object) -> list[dict]:
        if not isinstance(document, dict) or not isinstance(document.get("users"), list):
            raise self._corrupt('expected an object with a "users" list')
        version = document.get("version")
        if not isinstance(version, int) or version > FILE_VERSION:
            raise self._corrupt(
                f"file version {version!r}; this steadyback reads version {FILE_VERSION}"
            )
        seen: set[str] = set()
        for number, entry in enumerate(document["users"], start=1):
            if not isinstance(entry, dict):
                raise self._corrupt(f"user #{number} is not an object")
            username = entry.get("username")
            if not isinstance(username, str) or not username:
                raise self._corrupt(f"user #{number} has no username")
            if entry.get("role") not in ROLES:
                raise self._corrupt(f"user {username!r} has an unknown role {entry.get('role')!r}")
            if not isinstance(entry.get("password_hash"), str):
                raise self._corrupt(f"user {username!r} has no password hash")
            if entry["role"] == "coach" and not (
                isinstance(entry.get("coach_id"), str) and entry["coach_id"]
            ):
                raise self._corrupt(f"coach {username!r} has no coach id")
            for name, problem in (
                ("email", email_problem(entry.get("email"))),
                ("timezone", timezone_problem(entry.get("timezone"))),
            ):
                if entry.get(name) is not None and problem:
                    raise self._corrupt(f"user {username!r}: {name} {problem}")
            if username in seen:
                raise self._corrupt(f"user {username!r} appears twice")
            seen.add(username)
        return list(document["users"])

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
        stored = entry["password_hash"] if entry else _dummy_hash()
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
        email: str | None = None,
        timezone: str | None = None,
    ) -> User:
        if not USERNAME_PATTERN.match(username or ""):
            raise UserError(
                f"username {username!r}: use 1–128 letters, digits, '.', '_', '@', '+' or '-', "
                "starting with a letter or digit"
            )
        if role not in ROLES:
            raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
        if role == "coach" and not coach_id:
            raise UserError("a coach needs --coach-id (the roster's coach_id of their caseload)")
        if role != "coach" and coach_id:
            raise UserError(f"--coach-id is only for coaches, not for a {role}")
        if email is not None and (problem := email_problem(email)):
            raise UserError(f"--email {email!r}: {problem}")
        if timezone is not None and (problem := timezone_problem(timezone)):
            raise UserError(f"--timezone {timezone!r}: {problem}")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise UserError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        if password == DEMO_PASSWORD and username not in DEMO_USERNAMES:
            raise UserError("password: that is the public demo password; choose another")
        user = User(
            username=username,
            role=role,
            coach_id=coach_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            email=email,
            timezone=timezone,
        )
        # Hash before taking the lock: it is the slow part, and needs no file.
        password_hash = _hasher.hash(password)
        with self._locked():
            entries = self._entries()
            if any(e["username"] == username for e in entries):
                if not replace:
                    raise UserError(
                        f"user {username!r} already exists "
                        "(--replace sets a new password and role; or remove it first)"
                    )
                entries = [e for e in entries if e["username"] != username]
            user = with_fields(user, credential=_credential(password_hash))
            entry = asdict(user)
            del entry["credential"]
            for optional in ("email", "timezone"):  # absent, as in files from before them
                if entry[optional] is None:
                    del entry[optional]
            entries.append({**entry, "password_hash": password_hash})
            self._write(entries)
        return user

    def remove(self, username: str) -> bool:
        return bool(self.remove_all([username]))

    def remove_all(self, usernames: Iterable[str]) -> list[str]:
        """Remove these users in one change; the ones that were there, sorted."""
        unwanted = set(usernames)
        with self._locked():
            entries = self._entries()
            removed = sorted(e["username"] for e in entries if e["username"] in unwanted)
            if removed:
                self._write([e for e in entries if e["username"] not in unwanted])
        return removed

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _write(self, entries: list[dict]) -> None:
        document = {
            "version": FILE_VERSION,
            "users": sorted(entries, key=lambda e: e["username"]),
        }
        replace_json(self.path, document, indent=2)


def _user(entry: dict) -> User:
    return User(
        username=entry["username"],
        role=entry["role"],
        coach_id=entry.get("coach_id"),
        created_at=entry.get("created_at"),
        email=entry.get("email"),
        timezone=entry.get("timezone"),
        credential=_credential(entry.get("password_hash", "")),
    )


def email_problem(email: object) -> str | None:
    if not isinstance(email, str) or len(email) > 254 or not EMAIL_PATTERN.fullmatch(email):
        return "is not an e-mail address (name@example.org; no spaces, quotes or line breaks)"
    return None


def timezone_problem(timezone: object) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        if isinstance(timezone, str) and timezone:
            ZoneInfo(timezone)
            return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    return "is not an IANA time zone (e.g. Europe/London, America/Chicago)"


def _credential(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


# --- demo users ---------------------------------------------------------------------------

DEMO_PASSWORD = "steadyback-demo"
"""The one password of every demo user. Public (it is in the docs): generated data only."""

DEMO_USERS = (  # username, role, index into the snapshot's sorted coach ids (coaches only)
    ("demo-manager", "program_manager", None),
    ("demo-analyst", "analyst", None),
    ("demo-coach-1", "coach", 0),
    ("demo-coach-2", "coach", 1),
)


DEMO_USERNAMES = frozenset(username for username, _, _ in DEMO_USERS)
"""A demo user is known by its username: whatever its password now, it exists for demo data."""


class DemoUser(NamedTuple):
    username: str
    password: str | None
    """None when the user exists but its password was changed from the demo one."""
    role: str
    coach_id: str | None


def is_demo_login(username: str, password: str) -> bool:
    """Whether a login attempt uses a demo username or the public demo password.

    Either one is allowed only while the snapshot is generated: a demo username is
    a demo user whatever its password, and the public password opens nothing real
    even under another name (`UserStore.add` refuses it, but a users file can be
    edited by hand).
    """
    return username in DEMO_USERNAMES or password == DEMO_PASSWORD


def snapshot_is_generated(data_dir: str | os.PathLike) -> bool:
    """Whether the published snapshot was built from the generated demo cohort.

    `meta.snapshot.generated_cohort` is true only when the landing files a run
    ingested were exactly the generator's manifest. No snapshot, an unreadable
    one, a snapshot without the column (published before it existed) or NULL
    all mean "not generated": demo logins fail closed.
    """
    snapshot = DataDir.at(data_dir).snapshot
    try:
        stat = snapshot.stat()
    except FileNotFoundError:
        return False
    return _generated_flag(str(snapshot), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _generated_flag(snapshot: str, mtime_ns: int, size: int) -> bool:
    """Read once per snapshot file version (a run swaps in a new file: new mtime and size)."""
    import duckdb

    try:
        connection = duckdb.connect(snapshot, read_only=True)
    except duckdb.Error:
        return False
    try:
        row = connection.execute("select generated_cohort from meta.snapshot").fetchone()
    except duckdb.Error:
        return False
    finally:
        connection.close()
    return row is not None and row[0] is True


def snapshot_coach_ids(data_dir: str | os.PathLike) -> list[str] | None:
    """The coach ids in the published snapshot's roster, sorted; None without a snapshot."""
    import duckdb

    snapshot = DataDir.at(data_dir).snapshot
    if not snapshot.is_file():
        return None
    connection = duckdb.connect(str(snapshot), read_only=True)
    try:
        rows = connection.execute(
            "select distinct coach_id from marts.participants "
            "where coach_id is not null order by coach_id"
        ).fetchall()
    finally:
        connection.close()
    return [coach_id for (coach_id,) in rows]


def ensure_demo_users(data_dir: str | os.PathLike) -> list[DemoUser]:
    """Create the demo users that are missing; all of them, as (username, password, role, coach id).

    A program manager, an analyst, and coaches of the first two coach ids in the
    published snapshot, all with `DEMO_PASSWORD`. Refused (UserError) unless
    landing/ holds exactly the files the generator wrote (`truth/landing.sha256`)
    and the published snapshot was built from them: a published password must
    never open real participants' data. Existing users are left as they are.
    """
    # imported here: the parsers and the generator, which a dashboard never needs
    from pipelines.lib.demo_cohort.manifest import manifest_path
    from pipelines.lib.key_policy import landing_is_generated

    layout = DataDir.at(data_dir)
    if not landing_is_generated(layout):
        raise UserError(
            f"{layout.landing} is not the generated demo cohort (its files are not exactly "
            f"those listed in {manifest_path(layout.root)}): demo users, whose password is "
            "public, are only created for generated data. "
            "Add real users with `steadyback users add`."
        )
    if not snapshot_is_generated(layout.root):
        raise UserError(
            f"the published snapshot {layout.snapshot} does not come from the generated demo "
            "cohort (run the pipeline on it first): demo users, whose password is public, "
            "log in only to generated data. Add real users with `steadyback users add`."
        )
    coach_ids = snapshot_coach_ids(data_dir) or []
    store = UserStore.at(data_dir)
    demo_users = []
    for username, role, coach_index in DEMO_USERS:
        if coach_index is not None and coach_index >= len(coach_ids):
            continue  # the roster has fewer coaches
        existing = store.get(username)
        if existing is None:
            coach_id = coach_ids[coach_index] if coach_index is not None else None
            try:
                existing = store.add(username, role, DEMO_PASSWORD, coach_id=coach_id)
            except UserError:
                existing = store.get(username)  # another process added it meanwhile
                if existing is None:
                    raise
        password = DEMO_PASSWORD if store.verify(username, DEMO_PASSWORD) else None
        demo_users.append(DemoUser(username, password, existing.role, existing.coach_id))
    return demo_users


def demo_users_in(store: UserStore) -> list[str]:
    """The demo usernames the users file lists, sorted."""
    return sorted(user.username for user in store.list() if user.username in DEMO_USERNAMES)


REMOVE_DEMO_USERS = "steadyback users remove --demo --data-dir {data_dir}"


def refuse_demo_users_on_real_data(data_dir: str | os.PathLike) -> None:
    """Raise UserError when the users file has demo users but the snapshot is not generated.

    `steadyback serve` and `steadyback demo` call this before starting a server:
    while demo users exist, a public password is one click from the data unless the
    data is the generated cohort.
    """
    layout = DataDir.at(data_dir)
    store = UserStore.at(layout.root)
    demo = demo_users_in(store)
    if not demo or snapshot_is_generated(layout.root):
        return
    raise UserError(
        f"{store.path} has demo users ({', '.join(demo)}) whose password is public, but the "
        f"published snapshot {layout.snapshot} is not the generated demo cohort. "
        "Remove them before serving:\n  "
        + REMOVE_DEMO_USERS.format(data_dir=shlex.quote(str(layout.root)))
    )
