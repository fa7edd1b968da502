"""A whole `steadyback run` on one Apple Health export, beside healthkit-to-sqlite and a bare
standard-library iterparse of the same file, in one run.

For each size, writes the synthetic export of `apple_health_memory.py` (an iPhone + Watch
user; zipped as the Health app does) into a temporary folder, then runs, N times and
interleaved (the order turns each round, so no contender always follows another):

- `healthkit-to-sqlite export.zip out.db` (pip install -e '.[bench]'), into a new file;
- `steadyback run` as a CLI subprocess on a fresh data dir: landing/roster/roster.csv with
  one participant and landing/apple_health/<participant_id>/export.zip — everything from
  parsing to publishing; with `--before DIR`, also the same from another checkout (e.g. a
  worktree of an older commit), as "steadyback (before)";
- the floor: `xml.etree.ElementTree.iterparse` over the zip member, each Record freed.

Each is timed from start to exit; its peak memory is the largest sum of the RSS of the
process and all its children, sampled every 20 ms. Prints a Markdown table of medians,
steadyback's step times (from its run summary) and the ratios, with the machine and its
load average before and after (the machine may be shared).

    .venv/bin/python benchmarks/apple_health_run.py 30 300 --runs 3 [--before ../apple-before]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from apple_health_memory import write_export

REPO = Path(__file__).resolve().parents[1]
HEALTHKIT_TO_SQLITE = Path(sys.executable).with_name("healthkit-to-sqlite")
PARTICIPANT = "P-00001"
ROSTER = (
    "participant_id,cohort,site,coach_id,enrolled_on,program_weeks,timezone\n"
    f"{PARTICIPANT},benchmark,site-1,C-01,2023-01-01,12,America/Los_Angeles\n"
)
# a key for synthetic data only; `steadyback run` refuses real data without one of its own
BENCHMARK_KEY = "apple-health-benchmark-key-not-for-real-data"
FLOOR = """
import sys, zipfile
from xml.etree import ElementTree
with zipfile.ZipFile(sys.argv[1]) as archive, archive.open("apple_health_export/export.xml") as xml:
    events = ElementTree.iterparse(xml, events=("start", "end"))
    _, root = next(events)
    records = 0
    for event, element in events:
        if event == "end" and element.tag == "Record":
            records += 1
            root.clear()
print(records)
"""
SAMPLE_S = 0.02


@dataclass
class Result:
    wall: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    steps: list[dict[str, float]] = field(default_factory=list)


def tree_rss(process: psutil.Process) -> int:
    total = 0
    for p in [process, *process.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def timed(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) of the process tree, and stdout of `command`."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env, cwd=cwd)
        process = psutil.Process(child.pid)
        peak = 0
        while child.poll() is None:
            try:
                peak = max(peak, tree_rss(process))
            except psutil.Error:
                pass
            time.sleep(SAMPLE_S)
        wall = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise SystemExit(f"{command[:4]} failed ({child.returncode}):\n{err.read()[-3000:]}")
        return wall, peak / 2**20, out.read()


def step_seconds(summary: str) -> dict[str, float]:
    """Dagster's step durations from `steadyback run`'s summary line "Steps: parse 7.1 s (…), …"."""
    line = next(line for line in summary.splitlines() if line.startswith("Steps: "))
    return {name: float(s) for name, s in re.findall(r"(\w+) (\d+\.\d+) s", line)}


def steadyback_run(repo: Path, archive: Path, work: Path) -> tuple[float, float, str]:
    data_dir = work / "data"
    shutil.rmtree(data_dir, ignore_errors=True)
    person = data_dir / "landing" / "apple_health" / PARTICIPANT
    person.mkdir(parents=True)
    shutil.copy(archive, person / "export.zip")
    (data_dir / "landing" / "roster").mkdir()
    (data_dir / "landing" / "roster" / "roster.csv").write_text(ROSTER)
    env = os.environ | {"PYTHONPATH": str(repo), "STEADYBACK_PSEUDONYM_KEY": BENCHMARK_KEY}
    command = [sys.executable, "-m", "pipelines.cli", "run", "--data-dir", str(data_dir)]
    wall, peak, summary = timed(command, env, repo)
    if "Published:" not in summary:
        raise SystemExit(f"steadyback run from {repo} did not publish:\n{summary}")
    return wall, peak, summary


def healthkit_to_sqlite(archive: Path, work: Path) -> tuple[float, float, str]:
    database = work / "healthkit.db"
    database.unlink(missing_ok=True)
    return timed([str(HEALTHKIT_TO_SQLITE), str(archive), str(database)], dict(os.environ), work)


def floor(archive: Path, work: Path) -> tuple[float, float, str]:
    return timed([sys.executable, "-c", FLOOR, str(archive)], dict(os.environ), work)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return (
        f"{model}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
        f"python {platform.python_version()}"
    )


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(megabytes: int, runs: int, before: Path | None) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="apple_health_run_") as tmp:
        work = Path(tmp)
        xml, archive, days = write_export(work, megabytes)
        xml_mb = xml.stat().st_size / 2**20
        zip_mb = archive.stat().st_size / 2**20
        xml.unlink()  # the contenders read the zip, as a person sends it
        contenders = {"healthkit-to-sqlite": lambda: healthkit_to_sqlite(archive, work)}
        if before is not None:
            contenders["steadyback (before)"] = lambda: steadyback_run(before, archive, work)
        contenders["steadyback"] = lambda: steadyback_run(REPO, archive, work)
        contenders["stdlib iterparse (floor)"] = lambda: floor(archive, work)
        results = {name: Result() for name in contenders}
        names = list(contenders)
        for round_ in range(runs):
            turn = round_ % len(names)
            for name in names[turn:] + names[:turn]:
                wall, peak, out = contenders[name]()
                results[name].wall.append(wall)
                results[name].peak_mb.append(peak)
                if name.startswith("steadyback"):
                    results[name].steps.append(step_seconds(out))
                print(
                    f"  {xml_mb:.0f} MB, round {round_ + 1}: {name} {wall:.1f} s, peak {peak:.0f} MB",
                    flush=True,
                )
    rows = []
    median = {name: statistics.median(r.wall) for name, r in results.items()}
    for name, r in results.items():
        steps = ""
        if r.steps:
            step_names = r.steps[0].keys()
            steps = ", ".join(
                f"{s} {statistics.median(x[s] for x in r.steps):.1f}" for s in step_names
            )
        rows.append(
            f"| {xml_mb:.0f} MB ({days} days, zip {zip_mb:.0f} MB) | {name} | "
            f"{median[name]:.1f} | {min(r.wall):.1f}–{max(r.wall):.1f} | "
            f"{statistics.median(r.peak_mb):.0f} | "
            f"{median[name] / median['healthkit-to-sqlite']:.2f} | {steps} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[30, 300], help="export.xml MB")
    parser.add_argument("--runs", type=int, default=3, help="runs of each contender (median)")
    parser.add_argument("--before", type=Path, help="another checkout to run as the before side")
    args = parser.parse_args()
    if not HEALTHKIT_TO_SQLITE.exists():
        raise SystemExit(
            f"{HEALTHKIT_TO_SQLITE} not found: .venv/bin/pip install -e '.[bench]' first"
        )
    print(machine())
    print(f"load average before: {load()}")
    rows = []
    for megabytes in args.sizes:
        rows += measure(megabytes, args.runs, args.before)
    print(f"load average after: {load()}")
    print()
    print(
        f"| export.xml | contender | wall s (median of {args.runs}) | min–max | "
        "peak RSS MB (process tree) | × healthkit-to-sqlite | steadyback steps s (median) |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
