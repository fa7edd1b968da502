"""Where things live inside a steadyback data directory (see docs/data-model.md)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "STEADYBACK_DATA_DIR"
PRIVATE_UMASK = 0o077
"""Every file steadyback writes is its owner's alone: folders 0700, files 0600."""
PRIVATE_DIR_MODE = 0o777 & ~PRIVATE_UMASK  # 0700
PRIVATE_FILE_MODE = 0o666 & ~PRIVATE_UMASK  # 0600


def keep_private() -> None:
    """Set the process umask so that nothing written from here on is readable by others.

    Called first by every entry point (the CLI, the Dagster code location, the dashboard)
    so that files written by libraries (DuckDB, Dagster's storage, Parquet) are covered too.
    """
    os.umask(PRIVATE_UMASK)


def default_data_dir() -> Path:
    return Path(os.environ.get(DATA_DIR_ENV, "data"))


@dataclass(frozen=True)
class DataDir:
    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> DataDir:
        return cls(Path(root).absolute())

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def snapshot(self) -> Path:
        return self.published_dir / "current.duckdb"

    @property
    def access_dir(self) -> Path:
        """Dashboard users and the audit log: never inside a snapshot, never published."""
        return self.root / "access"

    @property
    def users_file(self) -> Path:
        return self.access_dir / "users.json"

    @property
    def audit_log(self) -> Path:
        return self.access_dir / "audit.jsonl"

    @property
    def identities(self) -> Path:
        """pid → participant id for the coaches (pipelines/lib/identities.py); never published."""
        return self.access_dir / "identities.json"

    @property
    def session_secret(self) -> Path:
        """The key that signs the dashboard's sign-in cookies (pipelines/lib/sign_in.py)."""
        return self.access_dir / "session_secret"

    @property
    def sign_in_sessions(self) -> Path:
        """Who is signed in, and when each sign-in session was last used; never published."""
        return self.access_dir / "sessions.json"

    @property
    def digest_dir(self) -> Path:
        """The weekly coach digest's record of what was sent (pipelines/lib/digest/ledger.py)."""
        return self.root / "digest"

    @property
    def digest_deliveries(self) -> Path:
        """One entry per coach and ISO week: sent or failed, attempts, the last error."""
        return self.digest_dir / "deliveries.json"

    @property
    def truth(self) -> Path:
        return self.root / "truth"

    def raw_entity(self, entity: str) -> Path:
        return self.raw / entity

    def landing_relative(self, path: Path) -> str:
        return path.relative_to(self.landing).as_posix()

    def make_private(self) -> None:
        """Create the data dir 0700 (or tighten it), and everything in it but landing/ to 0700/0600.

        Covers data dirs written by older versions or by processes started without
        `keep_private` (e.g. `dagster dev` run by hand). landing/ is the exporters' folder
        and keeps its modes; the 0700 data dir around it keeps others out of it too.
        Symbolic links are left alone (a chmod would change what they point to).
        """
        private_dir(self.root)
        _chmod(self.root, PRIVATE_DIR_MODE)
        for entry in self.root.iterdir():
            if entry.name == self.landing.name or entry.is_symlink():
                continue
            if not entry.is_dir():
                _chmod(entry, PRIVATE_FILE_MODE)
                continue
            _chmod(entry, PRIVATE_DIR_MODE)
            for folder, folders, files in os.walk(entry):
                for name in folders:
                    _chmod(Path(folder) / name, PRIVATE_DIR_MODE)
                for name in files:
                    _chmod(Path(folder) / name, PRIVATE_FILE_MODE)


def private_dir(path: Path) -> Path:
    """mkdir -p with every folder it creates 0700, whatever the umask."""
    missing = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            pass  # created meanwhile by a parallel step
        else:
            _chmod(folder, PRIVATE_DIR_MODE)  # mkdir's mode is masked by the umask
    return path


def _chmod(path: Path, mode: int) -> None:
    """Set the mode of a file or folder of ours; links and other owners' files are left alone."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return  # removed meanwhile (a temporary file)
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
        return
    if info.st_uid != os.getuid():
        return  # not ours to change (and not ours to read either: the data dir is 0700)
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        pass
