"""`Issue`: one problem a parser found in a landing file — its line, field, value and what was done.

Without Polars, so that a reader which only collects issues (the helper process of
apple_health/halves.py) need not load it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    line: int | None
    field: str | None
    value: str | None
    reason: str
    severity: str = "error"  # error: the row or file did not land; warning: it did
    action: str = "row quarantined"
