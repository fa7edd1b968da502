"""How long a whole `steadyback run` takes as the cohort grows, cold and re-run, beside a reference.

For each cohort size: generate the demo cohort once (seed 7, this tree's generator; kept in
`--cohorts DIR` for the next benchmark), then for each code tree (`--reference TREE`, e.g. a
worktree of an older commit, and this one) copy its exports into a fresh data dir and run
`steadyback run` there as a subprocess twice: cold (every export parsed) and re-run (the same
exports: nothing parsed, the warehouse rebuilt and published). Wall time and the peak memory
of the whole process tree (the run and any Dask worker processes it starts; RSS summed,
sampled every 0.1 s) are reported, with the cold run's cost per 1,000 people.

    .venv/bin/python benchmarks/pipeline_scale.py 1000 10000 50000 \\
        --reference /work/wt/ref --cohorts /tmp/steadyback-cohorts
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psutil
from apple_health_run import tree_rss

HERE = Path(__file__).resolve().parents[1]
COPIED = ("landing", "access", "truth")


def generate(cohorts: Path, participants: int, weeks: int) -> tuple[Path, float]:
    out = cohorts / f"{participants}x{weeks}"
    if (out / "landing").is_dir():
        return out, float("nan")
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "generate", "--participants", str(participants),
         "--weeks", str(weeks), "--seed", "7", "--out", str(out)],
        cwd=HERE, env=_env(HERE), check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return out, time.perf_counter() - started


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STEADYBACK_")}
    return env | {"PYTHONPATH": str(tree)}


def run(tree: Path, data_dir: Path) -> tuple[float, float]:
    """One `steadyback run` of `tree`'s code: (wall seconds, peak MB of the process tree)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data_dir)],
        cwd=tree, env=_env(tree), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        process = psutil.Process(child.pid)
        while not done.is_set():
            try:
                peak = max(peak, tree_rss(process))
            except psutil.Error:
                return
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = child.communicate()
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    if child.returncode != 0:
        raise SystemExit(f"{tree}: steadyback run failed:\n{err[-3000:]}")
    return wall, peak / 2**20


def participant_days(data_dir: Path) -> int:
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        return con.execute("select count(*) from marts.participant_day").fetchone()[0]


def measure(cohort: Path, participants: int, weeks: int, trees: list[tuple[str, Path]]):
    for name, tree in trees:
        with tempfile.TemporaryDirectory(prefix="steadyback-scale-") as tmp:
            data_dir = Path(tmp)
            for part in COPIED:
                if (cohort / part).exists():
                    shutil.copytree(cohort / part, data_dir / part)
            cold, cold_peak = run(tree, data_dir)
            again, again_peak = run(tree, data_dir)
            days = participant_days(data_dir)
        per_1000 = cold / participants * 1000
        yield (
            f"| {participants:,} × {weeks} | {days:,} | {name} | {cold:.1f} | {cold_peak:,.0f} | "
            f"{again:.1f} | {again_peak:,.0f} | {per_1000:.2f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[1000, 10000])
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--reference", type=Path, help="another checkout to run beside this one")
    parser.add_argument("--cohorts", type=Path, help="keep generated cohorts here (reused)")
    args = parser.parse_args()
    trees = [("this", HERE)]
    if args.reference:
        trees.insert(0, (f"reference ({args.reference.name})", args.reference.resolve()))
    cohorts = args.cohorts or Path(tempfile.mkdtemp(prefix="steadyback-cohorts-"))
    cohorts.mkdir(parents=True, exist_ok=True)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, {platform.machine()}; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print()
    print(
        "| cohort | participant-days | code | cold s | cold peak MB | re-run s | re-run peak MB "
        "| cold s per 1,000 people |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        cohort, _ = generate(cohorts, size, args.weeks)
        for row in measure(cohort, size, args.weeks, trees):
            print(row, flush=True)
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
