"""Copies of a generated cohort's data dir — its landing files, the generator's record of them
and the snapshot the real pipeline published from them — for tests that change what is there.
"""

from __future__ import annotations

import shutil
from pathlib import Path


def copy_generated(source: Path, target: Path) -> Path:
    """`landing/`, `truth/` and `published/` of a generated data dir (e.g. `small_cohort`)."""
    for folder in ("landing", "truth", "published"):
        shutil.copytree(source / folder, target / folder)
    return target
