"""Peak memory and time of the Apple Health parser as the export grows.

For each size, writes a synthetic export.xml into a temporary folder (never the
repo) — Apple's DTD header, then per simulated day the records a Watch + iPhone
user produces: iPhone and Watch steps, Watch heart rate every ~5 min, active
energy and distance (read past, as in real exports), Watch sleep stages with an
iPhone InBed, resting HR, HRV, a workout and an activity summary — and zips it
the way the Health app does (apple_health_export/export.xml). Each file is then
parsed in a fresh process; that process reports its wall time and peak RSS
(resource.getrusage ru_maxrss). Prints a Markdown table.

    .venv/bin/python benchmarks/apple_health_memory.py 30 300     # sizes in MB
"""

from __future__ import annotations

import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE HealthData [
<!-- HealthKit Export Version: 13 -->
<!ELEMENT HealthData (ExportDate,Me,(Record|Correlation|Workout|ActivitySummary)*)>
<!ATTLIST HealthData locale CDATA #REQUIRED>
<!ELEMENT ExportDate EMPTY>
<!ATTLIST ExportDate value CDATA #REQUIRED>
<!ELEMENT Me EMPTY>
<!ELEMENT Record ((MetadataEntry|HeartRateVariabilityMetadataList)*)>
<!ATTLIST Record
  type          CDATA #REQUIRED
  unit          CDATA #IMPLIED
  value         CDATA #IMPLIED
  sourceName    CDATA #REQUIRED
  sourceVersion CDATA #IMPLIED
  device        CDATA #IMPLIED
  creationDate  CDATA #IMPLIED
  startDate     CDATA #REQUIRED
  endDate       CDATA #REQUIRED
>
<!ELEMENT Workout ((MetadataEntry|WorkoutEvent|WorkoutRoute|WorkoutStatistics)*)>
<!ELEMENT ActivitySummary EMPTY>
<!ELEMENT MetadataEntry EMPTY>
<!ATTLIST MetadataEntry key CDATA #REQUIRED value CDATA #REQUIRED>
]>
<HealthData locale="en_US">
 <ExportDate value="2025-06-01 08:00:00 -0700"/>
 <Me HKCharacteristicTypeIdentifierDateOfBirth="" HKCharacteristicTypeIdentifierBiologicalSex="HKBiologicalSexNotSet" HKCharacteristicTypeIdentifierBloodType="HKBloodTypeNotSet" HKCharacteristicTypeIdentifierFitzpatrickSkinType="HKFitzpatrickSkinTypeNotSet" HKCharacteristicTypeIdentifierCardioFitnessMedicationsUse="None"/>
"""
WATCH = (
    'sourceName="Sam’s Apple Watch" sourceVersion="10.4" device="&lt;&lt;HKDevice: 0x{ptr:x}&gt;, '
    'name:Apple Watch, manufacturer:Apple Inc., model:Watch, hardware:Watch6,2, software:10.4&gt;"'
)
PHONE = (
    'sourceName="Sam’s iPhone" sourceVersion="17.4" device="&lt;&lt;HKDevice: 0x{ptr:x}&gt;, '
    'name:iPhone, manufacturer:Apple Inc., model:iPhone, hardware:iPhone14,5, software:17.4&gt;"'
)


def _date(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S -0700")


def _record(
    kind: str, who: str, unit: str | None, start: datetime, end: datetime, value, extra=""
) -> str:
    unit_attr = f' unit="{unit}"' if unit else ""
    head = (
        f' <Record type="{kind}" {who.format(ptr=random.getrandbits(36))}{unit_attr} '
        f'creationDate="{_date(end + timedelta(seconds=random.randint(5, 900)))}" '
        f'startDate="{_date(start)}" endDate="{_date(end)}" value="{value}"'
    )
    return f"{head}>\n{extra} </Record>\n" if extra else f"{head}/>\n"


def _day(day: datetime) -> str:
    out = []
    # Watch sleep stages 23:00–06:30 plus the iPhone's InBed
    t = day - timedelta(hours=1)
    zone = '  <MetadataEntry key="HKTimeZone" value="America/Los_Angeles"/>\n'
    out.append(
        _record(
            "HKCategoryTypeIdentifierSleepAnalysis",
            PHONE,
            None,
            t,
            t + timedelta(hours=7.5),
            "HKCategoryValueSleepAnalysisInBed",
            zone,
        )
    )
    while t < day + timedelta(hours=6.5):
        length = timedelta(minutes=random.randint(4, 40))
        stage = random.choice(("AsleepCore", "AsleepCore", "AsleepDeep", "AsleepREM", "Awake"))
        out.append(
            _record(
                "HKCategoryTypeIdentifierSleepAnalysis",
                WATCH,
                None,
                t,
                t + length,
                f"HKCategoryValueSleepAnalysis{stage}",
                zone,
            )
        )
        t += length
    # Watch heart rate every ~5 min while worn (06:30–23:00, and through the night)
    t = day - timedelta(hours=1)
    motion = '  <MetadataEntry key="HKMetadataKeyHeartRateMotionContext" value="1"/>\n'
    while t < day + timedelta(hours=23):
        out.append(
            _record(
                "HKQuantityTypeIdentifierHeartRate",
                WATCH,
                "count/min",
                t,
                t,
                random.randint(52, 130),
                motion,
            )
        )
        t += timedelta(seconds=random.randint(150, 420))
    # steps, distance and active energy from both devices in the waking hours
    t = day + timedelta(hours=6, minutes=30)
    while t < day + timedelta(hours=22, minutes=30):
        length = timedelta(minutes=random.randint(1, 10))
        steps = random.randint(0, 900)
        out.append(
            _record("HKQuantityTypeIdentifierStepCount", WATCH, "count", t, t + length, steps)
        )
        out.append(
            _record(
                "HKQuantityTypeIdentifierDistanceWalkingRunning",
                WATCH,
                "km",
                t,
                t + length,
                round(steps * 0.00075, 5),
            )
        )
        if random.random() < 0.6:
            out.append(
                _record(
                    "HKQuantityTypeIdentifierStepCount",
                    PHONE,
                    "count",
                    t,
                    t + length,
                    int(steps * random.uniform(0.7, 1.1)),
                )
            )
            out.append(
                _record(
                    "HKQuantityTypeIdentifierDistanceWalkingRunning",
                    PHONE,
                    "km",
                    t,
                    t + length,
                    round(steps * 0.0007, 5),
                )
            )
        for minute in range(0, length.seconds // 60, 1):
            start = t + timedelta(minutes=minute)
            out.append(
                _record(
                    "HKQuantityTypeIdentifierActiveEnergyBurned",
                    WATCH,
                    "kcal",
                    start,
                    start + timedelta(seconds=59),
                    round(random.uniform(0.05, 9), 3),
                )
            )
        t += length + timedelta(minutes=random.randint(0, 20))
    out.append(
        _record(
            "HKQuantityTypeIdentifierRestingHeartRate",
            WATCH,
            "count/min",
            day + timedelta(hours=7),
            day + timedelta(hours=22),
            random.randint(50, 62),
        )
    )
    for hour in (2, 4, 9, 15, 20):
        start = day + timedelta(hours=hour)
        out.append(
            _record(
                "HKQuantityTypeIdentifierHeartRateVariabilitySDNN",
                WATCH,
                "ms",
                start,
                start + timedelta(minutes=1),
                round(random.uniform(20, 90), 4),
            )
        )
    start = day + timedelta(hours=18, minutes=random.randint(0, 59))
    minutes = random.randint(15, 45)
    activity = random.choice(("Yoga", "Walking", "FunctionalStrengthTraining", "Flexibility"))
    out.append(
        f' <Workout workoutActivityType="HKWorkoutActivityType{activity}" duration="{minutes}" durationUnit="min" '
        f'{WATCH.format(ptr=random.getrandbits(36))} creationDate="{_date(start + timedelta(minutes=minutes))}" '
        f'startDate="{_date(start)}" endDate="{_date(start + timedelta(minutes=minutes))}">\n'
        f"{zone}"
        '  <WorkoutStatistics type="HKQuantityTypeIdentifierActiveEnergyBurned" '
        f'startDate="{_date(start)}" endDate="{_date(start)}" sum="{random.randint(40, 200)}" unit="kcal"/>\n'
        " </Workout>\n"
    )
    out.append(
        f' <ActivitySummary dateComponents="{day:%Y-%m-%d}" activeEnergyBurned="{random.randint(200, 700)}" '
        'activeEnergyBurnedGoal="500" activeEnergyBurnedUnit="kcal" appleMoveTime="0" appleMoveTimeGoal="0" '
        f'appleExerciseTime="{random.randint(0, 90)}" appleExerciseTimeGoal="30" appleStandHours="{random.randint(6, 15)}" '
        'appleStandHoursGoal="12"/>\n'
    )
    return "".join(out)


def write_export(folder: Path, megabytes: int) -> tuple[Path, Path, int]:
    random.seed(megabytes)
    xml = folder / "export.xml"
    day, days = datetime(2023, 1, 1), 0
    with xml.open("w", encoding="utf-8") as out:
        out.write(HEADER)
        while out.tell() < megabytes * 1024**2:
            out.write(_day(day))
            day += timedelta(days=1)
            days += 1
        out.write("</HealthData>\n")
    archive = folder / "export.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.write(xml, "apple_health_export/export.xml")
    return xml, archive, days


def parse_in_this_process(path: str) -> None:
    """Child mode: parse one file and print wall time, peak RSS and rows."""
    from pipelines.lib.parsers.apple_health import halves, parse
    from pipelines.lib.parsers.source import LandingFile

    halves.SPLIT_BYTES = 2**62  # one pass: the parser's own memory, without a helper process

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    parsed = parse(LandingFile(Path(path), f"apple_health/P-1/{Path(path).name}", "P-1"))
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = sum(t.height for t in parsed.tables.values())
    problems = [i.reason for i in parsed.issues if i.severity == "error"]
    print(
        f"{wall:.2f} {baseline / 1024:.0f} {peak / 1024:.0f} {parsed.rows_read} {rows} {problems!r}"
    )


def measure(path: Path) -> list[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, __file__, "--parse", str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    wall, baseline, peak, read, rows, problems = result.stdout.strip().split(" ", 5)
    if problems != "[]":
        raise SystemExit(f"{path.name}: {problems}")
    return [wall, baseline, peak, f"{int(read):,}", f"{int(rows):,}"]


def main(sizes: list[int]) -> None:
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    print()
    print(
        "| export.xml | days | zip | file | records read | rows out | wall s | RSS after imports MB | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for megabytes in sizes:
        with tempfile.TemporaryDirectory(prefix="apple_health_bench_") as tmp:
            xml, archive, days = write_export(Path(tmp), megabytes)
            for path in (xml, archive):
                wall, baseline, peak, read, rows = measure(path)
                print(
                    f"| {xml.stat().st_size / 1024**2:.0f} MB | {days} | {archive.stat().st_size / 1024**2:.0f} MB | "
                    f"{path.name} | {read} | {rows} | {wall} | {baseline} | {peak} |",
                    flush=True,
                )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--parse":
        parse_in_this_process(sys.argv[2])
    else:
        main([int(a) for a in sys.argv[1:]] or [30, 300])
