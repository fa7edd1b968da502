"""After a real run, no file outside landing/, raw/ and the warehouse names a participant, and none is readable by others.

The data: a generated cohort plus per-person wearable exports in real vendor formats
(an Apple Health export, an Oura trends CSV whose file name repeats the id in lower
case, an export that cannot be read, a folder of someone not on the roster). It is run
twice: with `steadyback run` (in-process, output and log records captured), and the
way Dagster's daemon runs the `refresh` job — a separate `dagster job execute` process
on the data dir's instance, one process per step, compute logs captured to files —
each started under a permissive umask. Then every other file under the data dir
(Dagster's run and event storage, compute logs, published/, access/) is read byte by
byte for every raw roster id, in any case, and every mode is checked.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
from landing_files import write_landing

from pipelines import cli
from pipelines.lib.demo_cohort import generate_cohort
from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.runner import dagster_home, run_pipeline

pytestmark = pytest.mark.pipeline

REPO = Path(__file__).resolve().parents[2]
NOT_ON_ROSTER = "P-99999"
# what a run may keep with raw ids: the exports, their parsed copies, the working database,
# and the coaches' identity map (pid → participant id, 0600, written on purpose)
KEPT_RAW = ("landing/", "raw/", "warehouse.duckdb", "access/identities.json")

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


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """A generated cohort's landing/ with per-person wearable folders added."""
    root = tmp_path_factory.mktemp("cohort")
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


def roster(landing: Path) -> dict[str, str]:
    """participant_id → enrolled_on, from every roster export."""
    people = {}
    for path in sorted((landing / "roster").glob("*.csv")):
        with path.open(newline="") as handle:
            people |= {row["participant_id"]: row["enrolled_on"] for row in csv.DictReader(handle)}
    return people


def raw_ids(landing: Path) -> set[str]:
    """Every roster participant_id, fitbit_id and display name, and the per-person folders, lower case."""
    ids = set()
    for path in (landing / "roster").glob("*.csv"):
        with path.open(newline="") as handle:
            for row in csv.DictReader(handle):
                ids |= {
                    row["participant_id"],
                    row.get("fitbit_id") or "",
                    row.get("display_name") or "",
                }
    ids |= {p.name for source in ("apple_health", "oura") for p in (landing / source).iterdir()}
    return {i.strip().lower() for i in ids if i.strip()}


def oura_person(landing: Path) -> str:
    return next(p.name for p in (landing / "oura").iterdir() if p.name != NOT_ON_ROSTER)


def fresh_data_dir(landing: Path, root: Path) -> Path:
    shutil.copytree(landing, root / "landing")
    return root


def scanned_files(root: Path) -> list[Path]:
    return [
        path
        for path in root.rglob("*")
        if path.is_file() and not path.relative_to(root).as_posix().startswith(KEPT_RAW)
    ]


def ids_found(texts: dict[str, bytes], ids: set[str]) -> list[str]:
    return [
        f"{where}: {i}" for where, text in texts.items() for i in ids if i.encode() in text.lower()
    ]


def assert_private(root: Path, ids: set[str]) -> None:
    files = scanned_files(root)
    assert any(".dagster" in p.parts for p in files), "Dagster's storage is among the scanned"
    assert (root / "published" / "current.duckdb") in files
    texts = {p.relative_to(root).as_posix(): p.read_bytes() for p in files}
    assert ids_found(texts, ids) == []

    wrong_modes = [
        f"{path.relative_to(root)}: {oct(stat.S_IMODE(path.lstat().st_mode))}"
        for path in (root, *root.rglob("*"))
        if not path.relative_to(root).as_posix().startswith("landing")
        and stat.S_IMODE(path.lstat().st_mode) != (0o700 if path.is_dir() else 0o600)
    ]
    assert wrong_modes == []


def test_steadyback_run_shows_people_only_by_pid_and_keeps_everything_private(
    landing, tmp_path, monkeypatch, capfd, caplog, permissive_umask
):
    root = fresh_data_dir(landing, tmp_path / "data")
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    # left by an older steadyback: world-readable folders and files
    (root / "published").mkdir(mode=0o755)
    (root / "published" / "old.txt").write_text("an older version's file")
    os.chmod(root / "published" / "old.txt", 0o644)

    with caplog.at_level(logging.DEBUG):
        code = cli.main(["run", "--data-dir", str(root)])
    out, err = capfd.readouterr()

    assert code == 0, out + err
    ids = raw_ids(landing)
    shown = pseudonymize(oura_person(landing), pseudonym_key())
    assert f"oura/{shown}/oura_{shown}_trends.csv" in out, "the summary lists it by pid"
    assert "FILE QUARANTINED" in out, "the unreadable export is reported"
    logs = {"stdout": out.encode(), "stderr": err.encode(), "log records": caplog.text.encode()}
    assert ids_found(logs, ids) == []
    assert_private(root, ids)


def test_a_run_launched_as_the_dagster_daemon_does_keeps_everything_private_too(landing, tmp_path):
    root = fresh_data_dir(landing, tmp_path / "data")
    home = dagster_home_for(root)
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
    done = subprocess.run(
        command,
        env=env,
        cwd=REPO,
        capture_output=True,
        timeout=900,
        preexec_fn=lambda: os.umask(0o022),  # as a daemon started from an ordinary shell
    )

    assert done.returncode == 0, done.stderr.decode()[-3000:]
    assert (root / "published" / "current.duckdb").exists()
    assert list(home.rglob("compute_logs/*")), "steps ran in their own processes, logs captured"
    shown = f"/{pseudonymize(oura_person(landing), pseudonym_key())}/".encode()
    assert any(shown in p.read_bytes() for p in home.rglob("*") if p.is_file()), (
        "the per-person paths reached Dagster's storage, by pid"
    )
    ids = raw_ids(landing)
    assert ids_found({"stdout": done.stdout, "stderr": done.stderr}, ids) == []
    assert_private(root, ids)


def dagster_home_for(root: Path) -> Path:
    from pipelines.lib.layout import DataDir

    return dagster_home(DataDir.at(root))


def test_a_failing_checks_sample_rows_show_people_by_pid(landing, tmp_path):
    root = fresh_data_dir(landing, tmp_path / "data")
    with next((landing / "roster").glob("*.csv")).open(newline="") as handle:
        wearer = next(row for row in csv.DictReader(handle) if row.get("fitbit_id"))
    # a roster typo: a new person given someone else's Fitbit, so one device links to two people
    (root / "landing" / "roster" / "roster_typo.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,timezone,fitbit_id\n"
        f"P-77777,{wearer['cohort']},{wearer['coach_id']},{wearer['enrolled_on']},"
        f"{wearer['timezone']},{wearer['fitbit_id']}\n"
    )
    with dg.DagsterInstance.ephemeral() as instance:
        report = run_pipeline(root, instance=instance, log_level="CRITICAL")
        logs = instance.all_logs(report.run_id)

    assert not report.published and "unique_participant_id_fitbit_id" in report.failure
    (check,) = [
        e.dagster_event.event_specific_data
        for e in logs
        if e.dagster_event
        and e.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION"
        and e.dagster_event.event_specific_data.check_name == "unique_participant_id_fitbit_id"
    ]
    sample = json.dumps(check.metadata["sample"].value)
    assert pseudonymize(wearer["fitbit_id"], pseudonym_key()) in sample
    events = " ".join(str(e) for e in logs).lower()
    assert wearer["fitbit_id"] not in sample and wearer["fitbit_id"] not in events
