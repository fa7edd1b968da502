"""TEMPORARY: borrow the stand-in `published_data_dir` from tests/dashboards/conftest.py.

TEMPORARY — delete this file together with tests/dashboards/conftest.py once
`tests/conftest.py` provides the real session-scoped `published_data_dir`.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "steadyback_temporary_snapshot_fixture",
    Path(__file__).resolve().parents[1] / "dashboards" / "conftest.py",
)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

published_data_dir = _module.published_data_dir
