"""A data dir with people in it everywhere a run could leak them, and the run Dagster's daemon
would make of it (tests/pipeline/test_private_data_dir.py checks what both leave behind).

The landing: a generated cohort plus per-person wearable exports in real vendor formats (an
Apple Health export, an Oura trends CSV whose file name repeats the id in lower case, an
export that cannot be read, a folder of someone not on the roster).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from landing_files import write_landing

REPO = Path(__file__).resolve().parents[1]
NOT_ON_ROSTER = "P-99999"

OURA_HEADER = (
    "date,Total Sleep Duration,Total Bedtime ,Bedtime Start,Bedtime End,"
    "Lowest Resting Heart Rate,Average HRV,Steps,Medium Activity Time,High Activity Time,"
    "Non-wear Time\n"
)
WATCH = (
    'sourceName="Apple Watch" device="&lt;&lt;HKDevice: 0x2815&gt;, name:Apple Watch, '
    'manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4&gt;"'
)


def apple_health_export(first_day: date) -> str:
    records = "".join(
        f' <Record type="HKQuantityTypeIdentifierStepCount" {WATCH} unit="count" '
        f'startDate="{day} 10:00:00 -0600" endDate="{day} 10:10:00 -0600" value="{600 + n}"/>\n'
        for n, day in enumerate(first_day + timedelta(days=d) for d in range(3))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<HealthData locale="en_US">\n'
        ' <ExportDate value="2026-06-01 08:00:00 -0600"/>\n'
        f"{records}</HealthData>\n"
    )


def oura_trends(first_day: date) -> str:
    return OURA_HEADER + "".join(
        f"{day},25200,27000,{day}T00:00:00-05:00,{day}T07:30:00-05:00,52,40,8000,600,0,0\n"
        for day in (first_day + timedelta(days=d) for d in range(3))
    )


def roster(landing: Path) -> dict[str, str]:
    """participant_id → enrolled_on, from every roster export."""
    people = {}
    for path in sorted((landing / "roster").glob("*.csv")):
        with path.open(newline="") as handle:
            people |= {row["participant_id"]: row["enrolled_on"] for row in csv.DictReader(handle)}
    return people


def private_landing(root: Path) -> Path:
    """`root/landing`: a generated cohort's exports with per-person wearable folders added."""
    from pipelines.lib.demo_cohort import generate_cohort

    generate_cohort(root, participants=12, weeks=3, seed=5)
    landing = root / "landing"
    people = roster(landing)
    (apple, enrolled), (oura, _), (unreadable, _) = list(people.items())[:3]
    first_day = date.fromisoformat(enrolled)
    exports = {
        f"apple_health/{apple}/export.xml": apple_health_export(first_day),
        f"oura/{oura}/oura_{oura.lower()}_trends.csv": oura_trends(first_day),
        f"apple_health/{unreadable}/export.xml": "%PDF-1.7 not an export",
        f"oura/{NOT_ON_ROSTER}/oura_trends.csv": oura_trends(first_day),
    }
    write_landing(root, exports)
    return landing


def fresh_data_dir(landing: Path, root: Path) -> Path:
    shutil.copytree(landing, root / "landing")
    return root


@dataclass
class DaemonStyleRun:
    """The `refresh` job run the way Dagster's daemon runs it: a separate `dagster job execute`
    process on the data dir's instance, one process per step, compute logs captured to files,
    started under a permissive umask. It takes minutes of step processes, so the session
    starts it in the background (tests/conftest.py) and its test waits for it."""

    landing: Path  # what it was given (a copy of it is in root/landing)
    root: Path
    home: Path  # DAGSTER_HOME
    process: subprocess.Popen
    stdout: Path
    stderr: Path
    started: float
    timeout_s: float = 900

    @classmethod
    def start(cls, workdir: Path) -> DaemonStyleRun:
        from pipelines.lib.layout import DataDir
        from pipelines.runner import dagster_home

        landing = private_landing(workdir / "cohort")
        root = fresh_data_dir(landing, workdir / "data")
        home = dagster_home(DataDir.at(root))
        env = {
            **os.environ,
            "DAGSTER_HOME": str(home),
            "STEADYBACK_DATA_DIR": str(root),
            "PYTHONPATH": str(REPO),
        }
        # fmt: off
        command = [
            sys.executable, "-m", "dagster", "job", "execute",
            "-m", "pipelines.definitions", "-j", "refresh",
        ]
        # fmt: on
        stdout, stderr = workdir / "stdout", workdir / "stderr"
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=REPO,
                stdout=out,
                stderr=err,
                start_new_session=True,  # stop() ends its step processes too
                preexec_fn=lambda: os.umask(0o022),  # as a daemon started from an ordinary shell
            )
        return cls(landing, root, home, process, stdout, stderr, time.monotonic())

    def wait(self) -> subprocess.CompletedProcess:
        """The finished run: its exit code and everything it printed."""
        left = self.timeout_s - (time.monotonic() - self.started)
        returncode = self.process.wait(timeout=max(left, 0.1))
        return subprocess.CompletedProcess(
            self.process.args, returncode, self.stdout.read_bytes(), self.stderr.read_bytes()
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
