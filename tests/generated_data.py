"""A generated cohort's data dir as tests read it: the generator's record of what it planted
(`truth/*.csv`), and copies — its landing files, that record and the snapshot the real
pipeline published from them — for tests that change what is there.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path


def truth(data_dir: Path, name: str) -> list[dict[str, str]]:
    """The rows of `truth/<name>` (e.g. participants.csv, sessions.csv, days.csv), as text."""
    with (data_dir / "truth" / name).open(newline="") as handle:
        return list(csv.DictReader(handle))


def copy_generated(source: Path, target: Path) -> Path:
    """`landing/`, `truth/` and `published/` of a generated data dir (e.g. `small_cohort`)."""
    for folder in ("landing", "truth", "published"):
        shutil.copytree(source / folder, target / folder)
    return target
