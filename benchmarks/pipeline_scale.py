"""How long a full run takes as the cohort grows, cold and re-run, side by side.

For each cohort size: generate the demo cohort, run the refresh job on a fresh
data dir (cold: every file parsed), then run it again on the same exports
(warm: raw is reused, the warehouse is rebuilt and published). Prints one
Markdown table row per size with the step times Dagster recorded.

    .venv/bin/python benchmarks/pipeline_scale.py 300 1000 3000
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("STEADYBACK_PSEUDONYM_KEY", "benchmark-key")

from pipelines.lib.demo_cohort import generate_cohort  # noqa: E402
from pipelines.runner import run_pipeline  # noqa: E402


def step(report, prefix: str) -> float:
    return sum(v for k, v in report.step_seconds.items() if k.startswith(prefix))


def measure(participants: int, weeks: int = 12) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        started = time.perf_counter()
        generate_cohort(data_dir, participants=participants, weeks=weeks, seed=7)
        generated = time.perf_counter() - started
        cells = []
        for _ in ("cold", "warm"):
            started = time.perf_counter()
            report = run_pipeline(data_dir, log_level="ERROR")
            wall = time.perf_counter() - started
            assert report.published, report.render()
            cells.append(
                f"{wall:.1f} ({step(report, 'raw__'):.1f} / {step(report, 'warehouse'):.1f} / "
                f"{step(report, 'published__'):.1f})"
            )
        days = report.table_rows["marts.participant_day"]
        sessions = report.table_rows["marts.sessions"]
    return f"| {participants} × {weeks} | {days:,} | {sessions:,} | {generated:.1f} | {cells[0]} | {cells[1]} |"


def main(sizes: list[int]) -> None:
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print()
    print(
        "| cohort | participant-days | sessions | generate s | cold run s (raw / warehouse / publish) | re-run s (raw / warehouse / publish) |"
    )
    print("|---|---|---|---|---|---|")
    for size in sizes:
        print(measure(size), flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [300, 1000, 3000])
