"""Where things live inside a steadyback data directory (see docs/data-model.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DATA_DIR_ENV = "STEADYBACK_DATA_DIR"
PRIVATE_UMASK = 0o077
"""Every file steadyback writes is its owner's alone: folders 0700, files 0600."""


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
    def truth(self) -> Path:
        return self.root / "truth"

    def raw_entity(self, entity: str) -> Path:
        return self.raw / entity

    def landing_relative(self, path: Path) -> str:
        return path.relative_to(self.landing).as_posix()
