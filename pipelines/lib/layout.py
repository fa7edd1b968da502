"""Where things live inside a steadyback data directory (see docs/data-model.md)."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .storage import Store

DATA_DIR_ENV = "STEADYBACK_DATA_DIR"
LANDING_ENV = "STEADYBACK_LANDING"
RAW_ENV = "STEADYBACK_RAW"
"""Where landing/ and raw/ are when not in the data dir: a folder or s3://bucket/prefix."""
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
    # landing/ and raw/ elsewhere: a local folder or s3://bucket/prefix (None: in the data dir)
    landing_location: str | None = None
    raw_location: str | None = None

    def __post_init__(self) -> None:
        # a location steadyback cannot use (gs://…, s3:// without a bucket) fails here, by name
        self.landing_store, self.raw_store  # noqa: B018

    @classmethod
    def at(
        cls,
        root: str | os.PathLike,
        landing: str | os.PathLike | None = None,
        raw: str | os.PathLike | None = None,
    ) -> DataDir:
        return cls(Path(root).absolute(), _location(landing), _location(raw))

    @classmethod
    def configured(
        cls,
        root: str | os.PathLike,
        landing: str | os.PathLike | None = None,
        raw: str | os.PathLike | None = None,
    ) -> DataDir:
        """The data dir as an entry point (CLI, code location) sets it up: landing/ and raw/
        where given, else where STEADYBACK_LANDING / STEADYBACK_RAW say, else inside it."""
        return cls.at(root, landing or os.environ.get(LANDING_ENV), raw or os.environ.get(RAW_ENV))

    @property
    def landing_store(self) -> Store:
        """landing/: `<data dir>/landing` unless --landing / STEADYBACK_LANDING says elsewhere."""
        from .storage import open_store

        where = self.landing_location or self.root / "landing"
        return open_store(where, f"landing/ (--landing, {LANDING_ENV})")

    @property
    def raw_store(self) -> Store:
        """raw/: `<data dir>/raw` unless --raw / STEADYBACK_RAW says elsewhere."""
        from .storage import open_store

        return open_store(self.raw_location or self.root / "raw", f"raw/ (--raw, {RAW_ENV})")

    @property
    def landing(self) -> Path:
        """landing/ as a local folder (StorageError when it is in object storage)."""
        return _local_folder(self.landing_store, "landing/")

    @property
    def raw(self) -> Path:
        """raw/ as a local folder (StorageError when it is in object storage)."""
        return _local_folder(self.raw_store, "raw/")

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
            if entry.name == "landing" or entry.is_symlink():
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


def _location(where: str | os.PathLike | None) -> str | None:
    if where is None or not os.fspath(where):
        return None
    text = os.fspath(where)
    return text if "://" in text else str(Path(text).absolute())


def _local_folder(store: Store, name: str) -> Path:
    from .storage import LocalFolder, StorageError

    if not isinstance(store, LocalFolder):
        raise StorageError(f"{name} is {store.url}, not a local folder")
    return store.root


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
