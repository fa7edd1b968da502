"""Real vendor exports from ../shared/data/real, dropped into landing/ as participants would, run end to end.

Each participant wears one device. The expected values are read straight from
the vendor files here (csv/json), not from the parsers: a night's minutes
asleep, a day's steps, a resting heart rate, a workout that became a session.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import pytest

from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.runner import run_pipeline

pytestmark = pytest.mark.pipeline

ROSTER = [
    # participant_id, enrolled_on, weeks, timezone
    ("P-OURA", "2020-01-06", 4, "America/Chicago"),
    ("P-FITBIT", "2019-11-04", 8, "Europe/Oslo"),
    ("P-GARMIN", "2014-12-22", 2, "America/Chicago"),
    ("P-RUNNER", "2017-06-05", 2, "America/Los_Angeles"),
    ("P-APPLE", "2017-06-12", 2, "Asia/Jerusalem"),
]


@pytest.fixture(scope="module")
def run(real_data, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("real_wearables")
    landing = data_dir / "landing"
    (landing / "roster").mkdir(parents=True)
    (landing / "roster" / "roster.csv").write_text(
        "participant_id,cohort,coach_id,enrolled_on,program_weeks,timezone\n"
        + "".join(f"{p},real,C-1,{d},{w},{tz}\n" for p, d, w, tz in ROSTER)
    )
    person = lambda source, pid: landing / source / pid  # noqa: E731
    person("oura", "P-OURA").mkdir(parents=True)
    shutil.copy(
        real_data / "oura_trends" / "oura.csv", person("oura", "P-OURA") / "oura_trends.csv"
    )
    shutil.copytree(real_data / "pmdata_simula" / "p03" / "fitbit", person("fitbit", "P-FITBIT"))
    person("garmin", "P-GARMIN").mkdir(parents=True)
    shutil.copy(real_data / "garmin_fit" / "MonitoringFile.fit", person("garmin", "P-GARMIN"))
    person("garmin", "P-RUNNER").mkdir(parents=True)
    shutil.copy(real_data / "garmin_fit" / "garmin-fenix-5-run.fit", person("garmin", "P-RUNNER"))
    person("apple_health", "P-APPLE").mkdir(parents=True)
    shutil.copy(
        real_data / "apple_health_export" / "hkimport_2017" / "export.xml",
        person("apple_health", "P-APPLE"),
    )
    person("garmin", "P-NOBODY").mkdir(parents=True)
    shutil.copy(real_data / "garmin_fit" / "Activity.fit", person("garmin", "P-NOBODY"))
    report = run_pipeline(data_dir, log_level="WARNING")
    assert report.published, report.render()
    con = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    yield con
    con.close()


def day(con, participant_id: str, on: str) -> dict:
    cursor = con.execute(
        "select * from marts.participant_day where pid = ? and day = ?",
        [pseudonymize(participant_id, pseudonym_key()), on],
    )
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None, f"{participant_id} has no program day {on}"
    return dict(zip(names, row, strict=True))


def test_oura_night_steps_and_resting_heart_rate(run, real_data):
    with (real_data / "oura_trends" / "oura.csv").open(newline="") as handle:
        rows = {r["date"]: r for r in csv.DictReader(handle)}
    checked = 0
    for on in ("2020-01-10", "2020-01-15", "2020-01-22"):
        raw, got = rows[on], day(run, "P-OURA", on)
        if raw["Total Sleep Duration"] != "None":
            assert got["sleep_minutes"] == round(int(raw["Total Sleep Duration"]) / 60)
            assert got["sleep_source"] == "oura"
            checked += 1
        if raw["Lowest Resting Heart Rate"] != "None":
            assert got["resting_hr"] == pytest.approx(float(raw["Lowest Resting Heart Rate"]))
        worn = 1440 - int(raw["Non-wear Time"]) / 60
        assert got["wear_minutes"] == round(worn)
        assert got["steps"] == (int(raw["Steps"]) if worn >= 600 else None)
    assert checked >= 2


def test_fitbit_archive_main_sleep_and_local_day_steps(run, real_data):
    folder = real_data / "pmdata_simula" / "p03" / "fitbit"
    nights = [s for s in json.loads((folder / "sleep.json").read_text()) if s["mainSleep"]]
    for on in ("2019-11-06", "2019-11-13", "2019-12-21"):
        night = next(s for s in nights if s["dateOfSleep"] == on)
        assert day(run, "P-FITBIT", on)["sleep_minutes"] == night["minutesAsleep"]

    oslo = ZoneInfo("Europe/Oslo")
    per_day = defaultdict(int)
    for r in json.loads((folder / "steps.json").read_text()):
        at = datetime.strptime(r["dateTime"], "%Y-%m-%d %H:%M:%S").replace(
            tzinfo=UTC
        )  # the archive's minutes are UTC
        per_day[at.astimezone(oslo).date()] += int(r["value"])
    worn_days = run.execute(
        "select day, steps from marts.participant_day where pid = ? and wear_state = 'worn'",
        [pseudonymize("P-FITBIT", pseudonym_key())],
    ).fetchall()
    assert len(worn_days) >= 15, "minute steps give waking wear by the non-wear rule"
    assert all(steps == per_day[on] for on, steps in worn_days)


def test_garmin_monitoring_steps_on_the_local_day(run):
    got = day(run, "P-GARMIN", "2014-12-27")
    assert got["steps"] == 3173  # the vivofit's own daily summary: 3,142 walking + 31 running
    assert got["steps_source"] == "garmin" and got["wear_state"] == "worn"


def test_a_garmin_run_becomes_a_session(run, real_data):
    (session,) = run.execute(
        "select source, kind, duration_s, day::varchar, started_at from marts.sessions where pid = ?",
        [pseudonymize("P-RUNNER", pseudonym_key())],
    ).fetchall()
    with (real_data / "garmin_fit" / "garmin-fenix-5-run-records.csv").open(newline="") as handle:
        stamps = [r["timestamp"] for r in csv.DictReader(handle)]
    first, last = (
        datetime.strptime(t.replace(" PDT", ""), "%a %b %d %H:%M:%S %Y")
        for t in (stamps[0], stamps[-1])
    )
    assert session[:2] == ("garmin", "other")  # a run is not part of the stretching program
    assert session[3] == first.date().isoformat(), "on the runner's local (Pacific) day"
    assert 0 < session[2] <= (last - first).total_seconds() + 1
    local_start = session[4].astimezone(ZoneInfo("America/Los_Angeles")).replace(tzinfo=None)
    assert abs((local_start - first).total_seconds()) <= 60


def test_apple_health_iphone_steps_on_the_roster_day_and_the_night_from_pillow(run, real_data):
    from xml.etree import ElementTree

    jerusalem = ZoneInfo("Asia/Jerusalem")
    expected = 0.0
    for _, element in ElementTree.iterparse(
        real_data / "apple_health_export" / "hkimport_2017" / "export.xml"
    ):
        if element.tag == "Record" and element.get("type") == "HKQuantityTypeIdentifierStepCount":
            start = datetime.strptime(element.get("startDate"), "%Y-%m-%d %H:%M:%S %z")
            if start.astimezone(jerusalem).date().isoformat() == "2017-06-15":
                assert element.get("sourceName") == "Jonathan’s iPhone"  # one source that day
                expected += float(element.get("value"))
        element.clear()
    got = day(run, "P-APPLE", "2017-06-15")
    assert got["wear_state"] == "worn" and got["wear_minutes"] is None, (
        "an iPhone says nothing about wear"
    )
    assert got["steps"] == round(expected)
    assert day(run, "P-APPLE", "2017-06-21")["sleep_minutes"] == 375
    assert day(run, "P-APPLE", "2017-06-21")["sleep_source"] == "apple_health"


def test_ids_in_folder_and_file_names_never_reach_the_snapshot(run):
    texts = run.execute(
        "select file from meta.source_files union all select file from marts.ingest_issues "
        "union all select coalesce(value, '') from marts.ingest_issues"
    ).fetchall()
    assert len(texts) > 10
    for (text,) in texts:
        assert "P-" not in text, text
    assert any(pseudonymize("P-OURA", pseudonym_key()) in t for (t,) in texts)


def test_a_folder_not_on_the_roster_is_reported_by_pseudonym(run):
    issues = run.execute(
        "select file, reason from marts.ingest_issues where action = 'row not linked' and source = 'garmin'"
    ).fetchall()
    assert issues and all("P-NOBODY" not in f for f, _ in issues)
    assert any(pseudonymize("P-NOBODY", pseudonym_key()) in f for f, _ in issues)
