"""The demo cohort generator: deterministic, in the exact export formats, and truthful.

Everything here reads the generated files back with the standard library only (csv, json,
zoneinfo), independently of the generator's code.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from pipelines.lib.demo_cohort import generate_cohort

N, WEEKS, SEED = 40, 4, 11
EXPORT_DATE = date(2026, 3, 2) + timedelta(days=WEEKS * 7 + 28)
AS_OF = EXPORT_DATE - timedelta(days=1)

KINDS = {"stretch", "stability", "breathing", "walk", "other"}
OFFSET_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
UTC_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ROSTER_COLUMNS = {
    "participant_id",
    "cohort",
    "site",
    "coach_id",
    "enrolled_on",
    "program_weeks",
    "prescribed_sessions_per_week",
    "timezone",
    "withdrawn_on",
    "fitbit_id",
    "display_name",
}
SESSION_FIELDS = [
    "session_id",
    "participant_id",
    "started_at",
    "duration_s",
    "kind",
    "target",
    "discomfort",
    "guided_breathing",
    "completed",
    "app_version",
]
CHECKIN_COLUMNS = [
    "participant_id",
    "date",
    "pain",
    "sleep_quality",
    "stress",
    "movement_confidence",
    "submitted_at",
]
FITABASE_ACTIVITY_HEADER = (
    "Id,ActivityDate,TotalSteps,TotalDistance,TrackerDistance,LoggedActivitiesDistance,"
    "VeryActiveDistance,ModeratelyActiveDistance,LightActiveDistance,SedentaryActiveDistance,"
    "VeryActiveMinutes,FairlyActiveMinutes,LightlyActiveMinutes,SedentaryMinutes,Calories"
)
FITABASE_SLEEP_HEADER = "Id,SleepDay,TotalSleepRecords,TotalMinutesAsleep,TotalTimeInBed"
REAL_FITABASE = Path("/work/shared/data/real/fitabase_furberg2016/Fitabase Data 4.12.16-5.12.16")


# --- helpers -----------------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def landing_files(landing: Path, pattern: str) -> list[Path]:
    """Files in export order: mtime, then path (the contract's "later export wins")."""
    return sorted(landing.glob(pattern), key=lambda p: (p.stat().st_mtime, p.as_posix()))


def rel(landing: Path, path: Path) -> str:
    return path.relative_to(landing).as_posix()


def parse_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def as_int(text: str, lo: int, hi: int) -> bool:
    return bool(re.fullmatch(r"\d+", text)) and lo <= int(text) <= hi


def final_roster(landing: Path) -> dict[str, dict[str, str]]:
    roster: dict[str, dict[str, str]] = {}
    for path in landing_files(landing, "roster/*.csv"):
        for row in read_csv(path)[1]:
            roster[row["participant_id"]] = row
    return roster


def fitabase_dir(landing: Path) -> Path:
    (folder,) = list((landing / "fitabase").iterdir())
    return folder


def session_rows(landing: Path):
    """(file, line, record) for every session row in every export, in export order."""
    for path in landing_files(landing, "app/sessions*"):
        name = rel(landing, path)
        if path.suffix == ".csv":
            for line, row in enumerate(read_csv(path)[1], start=2):
                yield name, line, row
        else:
            for line, obj in enumerate(read_jsonl(path), start=1):
                yield name, line, obj


def session_violations(name: str, line: int, r: dict, roster) -> list[str]:
    """Fields of one session record that break docs/program-exports.md §2."""
    bad = []
    jsonl = name.endswith(".jsonl")
    if r.get("participant_id") not in roster:
        bad.append("participant_id")
    ts = r.get("started_at") or ""
    if not (UTC_RE.match(ts) if jsonl else OFFSET_RE.match(ts)):
        bad.append("started_at")
    if r.get("kind") not in KINDS:
        bad.append("kind")
    dur, disc = r.get("duration_s"), r.get("discomfort")
    comp, guided = r.get("completed"), r.get("guided_breathing")
    if jsonl:
        if not (isinstance(dur, int) and dur >= 0):
            bad.append("duration_s")
        if disc is not None and not (isinstance(disc, int) and 0 <= disc <= 10):
            bad.append("discomfort")
        if not isinstance(comp, bool):
            bad.append("completed")
        if guided is not None and not isinstance(guided, bool):
            bad.append("guided_breathing")
    else:
        if not as_int(dur, 0, 10**7):
            bad.append("duration_s")
        if disc != "" and not as_int(disc, 0, 10):
            bad.append("discomfort")
        if comp not in ("true", "false", ""):
            bad.append("completed")
        if guided not in ("true", "false", ""):
            bad.append("guided_breathing")
    return bad


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    summary = generate_cohort(out, participants=N, weeks=WEEKS, seed=SEED)
    return out, summary


@pytest.fixture(scope="module")
def landing(cohort) -> Path:
    return cohort[0] / "landing"


@pytest.fixture(scope="module")
def truth(cohort) -> Path:
    return cohort[0] / "truth"


@pytest.fixture(scope="module")
def quarantined(truth) -> dict[tuple[str, int], dict[str, str]]:
    return {(q["file"], int(q["line"])): q for q in read_csv(truth / "quarantine.csv")[1]}


@pytest.fixture(scope="module")
def participants(truth) -> dict[str, dict[str, str]]:
    return {p["participant_id"]: p for p in read_csv(truth / "participants.csv")[1]}


# --- determinism -------------------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_arguments_give_identical_bytes_and_mtimes(tmp_path):
    a = generate_cohort(tmp_path / "a", participants=N, weeks=WEEKS, seed=SEED)
    b = generate_cohort(tmp_path / "b", participants=N, weeks=WEEKS, seed=SEED)
    snap_a, snap_b = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert snap_a.keys() == snap_b.keys()
    for name in snap_a:
        assert snap_a[name] == snap_b[name], name
    a.pop("out_dir"), b.pop("out_dir")
    assert a == b
    c = generate_cohort(tmp_path / "c", participants=N, weeks=WEEKS, seed=SEED + 1)
    assert _snapshot(tmp_path / "c") != snap_a
    assert c["export_date"] == EXPORT_DATE.isoformat()


def test_regenerating_into_the_same_directory_replaces_it(tmp_path):
    generate_cohort(tmp_path, participants=12, weeks=3, seed=1)
    generate_cohort(tmp_path, participants=N, weeks=WEEKS, seed=SEED)
    fresh = tmp_path / "fresh"
    generate_cohort(fresh, participants=N, weeks=WEEKS, seed=SEED)
    snap = _snapshot(tmp_path)
    assert {k: v for k, v in snap.items() if not k.startswith("fresh/")} == _snapshot(fresh)


def test_refuses_to_overwrite_real_exports(tmp_path):
    (tmp_path / "landing" / "roster").mkdir(parents=True)
    (tmp_path / "landing" / "roster" / "real.csv").write_text("participant_id\n")
    with pytest.raises(FileExistsError):
        generate_cohort(tmp_path, participants=5, weeks=2, seed=1)


# --- summary and calendar ------------------------------------------------------------------------


def test_summary_and_file_names(cohort):
    out, s = cohort
    e = EXPORT_DATE.isoformat()
    assert s["participants"] == N and s["weeks"] == WEEKS
    assert s["export_date"] == e and s["as_of"] == AS_OF.isoformat()
    assert s["files_written"] == len(s["files"])
    for name in s["files"]:
        assert (out / name).is_file(), name
    expected = {
        f"landing/roster/roster_{(EXPORT_DATE - timedelta(days=14)).isoformat()}.csv",
        f"landing/roster/roster_{e}.csv",
        f"landing/app/sessions_{e}.jsonl",
        f"landing/app/checkins_{e}.csv",
        f"landing/prom/redcap_export_{e}.csv",
        "truth/participants.csv",
        "truth/sessions.csv",
        "truth/days.csv",
        "truth/quarantine.csv",
        "truth/effects.json",
    }
    assert expected <= set(s["files"])
    assert any(re.fullmatch(r"landing/app/sessions_\d{4}-\d\d-\d\d\.csv", f) for f in s["files"])
    folder = fitabase_dir(out / "landing").name
    assert folder == f"Fitabase Data 2.16.26-{AS_OF.month}.{AS_OF.day}.26"


def test_every_landing_file_is_stamped_with_its_export_date(landing):
    for path in landing.rglob("*"):
        if path.is_file():
            stamp = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            assert stamp.time().hour == 6 and stamp.minute == 0, path
            m = re.search(r"(\d{4}-\d\d-\d\d)\.\w+$", path.name)
            expected = date.fromisoformat(m.group(1)) if m else EXPORT_DATE
            assert stamp.date() == expected, path


def test_cohorts_enrol_on_weekdays_in_their_windows(participants):
    by_cohort = defaultdict(list)
    for p in participants.values():
        by_cohort[p["cohort"]].append(date.fromisoformat(p["enrolled_on"]))
    assert set(by_cohort) == {"2026-spring-A", "2026-spring-B", "2026-summer-A"}
    a = by_cohort["2026-spring-A"]
    assert min(a) == date(2026, 3, 2) and max(a) <= date(2026, 3, 6)
    for days in by_cohort.values():
        assert all(d.weekday() < 5 for d in days)
        assert (max(days) - min(days)).days <= 4
    # the last cohort is mid-program at the export date
    c = min(by_cohort["2026-summer-A"])
    assert c < EXPORT_DATE < c + timedelta(days=WEEKS * 7)
    counts = Counter(p["cohort"] for p in participants.values())
    assert counts["2026-spring-A"] > counts["2026-summer-A"]


# --- roster ------------------------------------------------------------------------------------


def test_roster_exports(landing, participants):
    first, last = landing_files(landing, "roster/*.csv")
    assert first.stat().st_mtime < last.stat().st_mtime
    h1, r1 = read_csv(first)
    h2, r2 = read_csv(last)
    assert set(h1) == set(h2) == ROSTER_COLUMNS
    assert h1 != h2  # column order is free: the re-export reorders them
    assert [r["participant_id"] for r in r1] == [r["participant_id"] for r in r2]
    assert all(r["withdrawn_on"] == "" for r in r1)
    for r in r2:
        t = participants[r["participant_id"]]
        assert re.fullmatch(r"P-\d{5}", r["participant_id"])
        assert re.fullmatch(r"C-\d\d", r["coach_id"])
        ZoneInfo(r["timezone"])
        date.fromisoformat(r["enrolled_on"])
        assert r["program_weeks"] == str(WEEKS)
        assert r["prescribed_sessions_per_week"] in {"3", "5", "7"}
        assert r["fitbit_id"] == "" or re.fullmatch(r"[1-9]\d{9}", r["fitbit_id"])
        for col in (
            "coach_id",
            "withdrawn_on",
            "fitbit_id",
            "timezone",
            "cohort",
            "site",
            "display_name",
        ):
            assert r[col] == t[col], col
        assert r["display_name"] == "" or re.fullmatch(r"[A-Z][a-z]+ [A-Z]\.", r["display_name"])
    coach_changes = [
        a["participant_id"] for a, b in zip(r1, r2, strict=True) if a["coach_id"] != b["coach_id"]
    ]
    assert len(coach_changes) == 1
    withdrawn = [r for r in r2 if r["withdrawn_on"]]
    assert 1 <= len(withdrawn) <= max(2, N // 10)
    for r in withdrawn:
        w = date.fromisoformat(r["withdrawn_on"])
        start = date.fromisoformat(r["enrolled_on"])
        assert start < w <= AS_OF and w < start + timedelta(days=WEEKS * 7)
    share = sum(bool(r["fitbit_id"]) for r in r2) / N
    assert 0.6 <= share <= 0.8
    # display_name is optional: most rows have one, a few leave it blank
    assert 1 <= sum(r["display_name"] == "" for r in r2) <= N // 10
    assert {r["timezone"] for r in r2} >= {"America/Chicago", "Asia/Kolkata", "Australia/Sydney"}


# --- app sessions ------------------------------------------------------------------------------


def test_session_exports_follow_the_spec_except_planted_rows(landing, quarantined):
    roster = final_roster(landing)
    found = set()
    csv_files = landing_files(landing, "app/sessions*.csv")
    jsonl_files = landing_files(landing, "app/sessions*.jsonl")
    assert len(csv_files) == 1 and len(jsonl_files) == 1
    header = read_csv(csv_files[0])[0]
    assert header[: len(SESSION_FIELDS)] == SESSION_FIELDS and "device_model" in header
    for name, line, r in session_rows(landing):
        for f in session_violations(name, line, r, roster):
            found.add((name, line, f))
        if name.endswith(".csv") and r["discomfort"]:
            assert r["kind"] in {"stretch", "yoga"} or (name, line) in quarantined
        if name.endswith(".jsonl"):
            assert set(r) <= set(SESSION_FIELDS)
    planted = {(f, line, q["field"]) for (f, line), q in quarantined.items() if "sessions" in f}
    assert found == planted
    assert {q["field"] for q in quarantined.values()} >= {
        "discomfort",
        "kind",
        "started_at",
        "participant_id",
        "pain",
    }


def test_truth_sessions_equal_landing_after_dedupe_and_corrections(landing, truth, quarantined):
    roster = final_roster(landing)
    latest: dict[str, dict] = {}
    seen_in = defaultdict(set)
    for name, line, r in session_rows(landing):
        if (name, line) in quarantined:
            continue
        latest[r["session_id"]] = r  # a later file (mtime) / later line wins
        seen_in[r["session_id"]].add(name)

    def norm(r: dict) -> dict:
        def boolean(v, default=None):
            if v in ("", None):
                return default
            return v is True or v == "true"

        def integer(v):
            return None if v in ("", None) else int(v)

        start = parse_ts(r["started_at"])
        local = start.astimezone(ZoneInfo(roster[r["participant_id"]]["timezone"]))
        return {
            "participant_id": r["participant_id"],
            "started_at_utc": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "local_day": local.date().isoformat(),
            "local_time": local.strftime("%H:%M"),
            "kind": r["kind"],
            "target": r.get("target") or None,
            "duration_s": integer(r["duration_s"]),
            "discomfort": integer(r.get("discomfort")),
            "guided_breathing": boolean(r.get("guided_breathing")),
            "completed": boolean(r.get("completed"), default=True),
        }

    _, rows = read_csv(truth / "sessions.csv")
    expected = {}
    for t in rows:
        expected[t["session_id"]] = {
            "participant_id": t["participant_id"],
            "started_at_utc": t["started_at_utc"],
            "local_day": t["local_day"],
            "local_time": t["local_time"],
            "kind": t["kind"],
            "target": t["target"] or None,
            "duration_s": int(t["duration_s"]),
            "discomfort": int(t["discomfort"]) if t["discomfort"] else None,
            "guided_breathing": {"true": True, "false": False, "": None}[t["guided_breathing"]],
            "completed": t["completed"] == "true",
        }
    assert len(expected) == len(rows)
    recomputed = {sid: norm(r) for sid, r in latest.items()}
    assert recomputed.keys() == expected.keys()
    for sid in expected:
        assert recomputed[sid] == expected[sid], sid
    # the two exports overlap, and some overlapped sessions were corrected
    both = [sid for sid, files in seen_in.items() if len(files) == 2]
    assert both
    corrections = read_csv(truth / "corrections.csv")[1]
    assert corrections and all(c["session_id"] in both for c in corrections)
    assert {c["field"] for c in corrections} <= {"duration_s", "discomfort", "completed"}
    assert all(c["first_value"] != c["final_value"] for c in corrections)
    assert len(corrections) <= max(3, 0.1 * len(both))
    versions = defaultdict(dict)
    for name, _, r in session_rows(landing):
        versions[r["session_id"]][name.rsplit(".", 1)[1]] = r
    for c in corrections:
        v = versions[c["session_id"]]
        first, final = v["csv"][c["field"]], v["jsonl"][c["field"]]
        assert first == c["first_value"]
        assert (str(final).lower() if isinstance(final, bool) else str(final)) == c["final_value"]
    kinds = Counter(t["kind"] for t in rows)
    assert set(kinds) == KINDS
    stretch = [t for t in rows if t["kind"] == "stretch"]
    assert {t["target"] for t in stretch} == {"hamstrings", "hip_flexors", "full_body"}
    assert any(t["completed"] == "false" for t in stretch)
    assert all(t["discomfort"] == "" for t in rows if t["kind"] != "stretch")


def test_evening_sessions_at_2230_cross_the_utc_day(truth, participants):
    rows = read_csv(truth / "sessions.csv")[1]
    at_2230 = [r for r in rows if r["local_time"] == "22:30"]
    assert at_2230
    crossing = [r for r in at_2230 if r["started_at_utc"][:10] != r["local_day"]]
    assert crossing
    assert any(participants[r["participant_id"]]["archetype"] == "evening" for r in crossing)
    assert any(
        participants[r["participant_id"]]["timezone"].startswith("America/") for r in crossing
    )


def test_a_dst_change_lies_inside_a_program(participants):
    def offset(tz: str, d: date):
        return datetime(d.year, d.month, d.day, 12, tzinfo=ZoneInfo(tz)).utcoffset()

    changed = [
        p
        for p in participants.values()
        if offset(p["timezone"], date.fromisoformat(p["enrolled_on"]))
        != offset(
            p["timezone"],
            min(AS_OF, date.fromisoformat(p["enrolled_on"]) + timedelta(days=WEEKS * 7 - 1)),
        )
    ]
    assert any(p["timezone"] == "America/Chicago" for p in changed)


def test_no_data_after_the_export_date_or_withdrawal(landing, truth, participants):
    rows = read_csv(truth / "sessions.csv")[1]
    for r in rows:
        p = participants[r["participant_id"]]
        day = date.fromisoformat(r["local_day"])
        assert date.fromisoformat(p["enrolled_on"]) <= day <= AS_OF
        if p["withdrawn_on"]:
            assert day < date.fromisoformat(p["withdrawn_on"])
    export_instant = datetime.combine(EXPORT_DATE, datetime.min.time(), UTC) + timedelta(hours=6)
    assert max(parse_ts(r["started_at_utc"]) for r in rows) < export_instant
    for c in read_csv(landing / f"app/checkins_{EXPORT_DATE.isoformat()}.csv")[1]:
        p = participants[c["participant_id"]]
        day = date.fromisoformat(c["date"])
        assert date.fromisoformat(p["enrolled_on"]) <= day <= AS_OF
        if p["withdrawn_on"]:
            assert day < date.fromisoformat(p["withdrawn_on"])


# --- check-ins ---------------------------------------------------------------------------------


def test_checkins_follow_the_spec_except_planted_rows(landing, quarantined, participants):
    path = landing / f"app/checkins_{EXPORT_DATE.isoformat()}.csv"
    header, rows = read_csv(path)
    assert header == CHECKIN_COLUMNS
    name = rel(landing, path)
    bad = set()
    keys = Counter()
    for line, r in enumerate(rows, start=2):
        keys[(r["participant_id"], r["date"])] += 1
        if not as_int(r["pain"], 0, 10):
            bad.add((name, line, "pain"))
        for col in ("sleep_quality", "stress", "movement_confidence"):
            assert r[col] == "" or as_int(r[col], 0, 10)
        assert OFFSET_RE.match(r["submitted_at"])
        local = parse_ts(r["submitted_at"]).astimezone(
            ZoneInfo(participants[r["participant_id"]]["timezone"])
        )
        assert local.date().isoformat() == r["date"]
    assert bad == {(f, line, q["field"]) for (f, line), q in quarantined.items() if f == name}
    assert max(keys.values()) == 1
    # missing check-ins: nobody checks in every elapsed day
    per_person = Counter(r["participant_id"] for r in rows)
    assert len(per_person) >= N * 0.8


# --- questionnaires ----------------------------------------------------------------------------


def test_redcap_export(landing, truth, participants):
    header, rows = read_csv(landing / f"prom/redcap_export_{EXPORT_DATE.isoformat()}.csv")
    assert header[:5] == [
        "record_id",
        "redcap_event_name",
        "redcap_repeat_instrument",
        "redcap_repeat_instance",
        "prom_date",
    ]
    odi_cols = [f"odi_{k}" for k in range(1, 11)]
    tsk_cols = [f"tsk_{k}" for k in range(1, 12)]
    assert set(header) == set(header[:5]) | set(odi_cols) | set(tsk_cols) | {
        "oswestry_complete",
        "tsk_complete",
        "psqi_total",
    }
    events = Counter(r["redcap_event_name"] for r in rows)
    assert set(events) == {"baseline_arm_1", "week_4_arm_1"}  # weeks 8/12 beyond a 4-week program
    assert events["baseline_arm_1"] == N
    truth_rows = {
        (t["participant_id"], t["redcap_event_name"]): t for t in read_csv(truth / "proms.csv")[1]
    }
    assert len(truth_rows) == len(rows)
    for r in rows:
        assert r["record_id"] in participants
        assert r["redcap_repeat_instrument"] == r["redcap_repeat_instance"] == ""
        prom = date.fromisoformat(r["prom_date"])
        start = date.fromisoformat(participants[r["record_id"]]["enrolled_on"])
        assert prom <= AS_OF
        if r["redcap_event_name"] == "baseline_arm_1":
            assert -3 <= (prom - start).days <= 0
        assert all(r[c] == "" or as_int(r[c], 0, 5) for c in odi_cols)
        assert all(r[c] == "" or as_int(r[c], 1, 4) for c in tsk_cols)
        assert r["oswestry_complete"] in {"0", "1", "2"} and r["tsk_complete"] in {"0", "1", "2"}
        assert r["psqi_total"] == "" or as_int(r["psqi_total"], 0, 21)
        # ODI scored per the spec: sum / (5 × answered) × 100, at most one item missing
        answered = [int(r[c]) for c in odi_cols if r[c] != ""]
        score = None
        if r["oswestry_complete"] == "2" and len(answered) >= 9:
            score = round(sum(answered) / (5 * len(answered)) * 100, 2)
        t = truth_rows[(r["record_id"], r["redcap_event_name"])]
        assert (float(t["odi_score"]) if t["odi_score"] else None) == score
        tsk = [r[c] for c in tsk_cols]
        tsk_score = sum(map(int, tsk)) if r["tsk_complete"] == "2" and "" not in tsk else None
        assert (int(t["tsk_score"]) if t["tsk_score"] else None) == tsk_score


def test_redcap_has_missing_items_and_incomplete_instruments(tmp_path):
    # needs more rows than the small fixture to be sure every quirk occurs
    generate_cohort(tmp_path, participants=150, weeks=12, seed=3)
    rows = read_csv(next((tmp_path / "landing/prom").glob("*.csv")))[1]
    odi_cols = [f"odi_{k}" for k in range(1, 11)]
    missing = Counter(
        sum(r[c] == "" for c in odi_cols) for r in rows if r["oswestry_complete"] == "2"
    )
    assert missing[1] > 0 and missing[2] > 0
    assert any(r["oswestry_complete"] in {"0", "1"} for r in rows)
    assert any(r["tsk_complete"] in {"0", "1"} for r in rows)
    assert {r["redcap_event_name"] for r in rows} == {
        "baseline_arm_1",
        "week_4_arm_1",
        "week_8_arm_1",
        "week_12_arm_1",
    }


# --- Fitabase ----------------------------------------------------------------------------------


def test_fitabase_files_match_the_real_format(landing):
    folder = fitabase_dir(landing)
    act = (folder / "dailyActivity_merged.csv").read_bytes()
    sleep = (folder / "sleepDay_merged.csv").read_bytes()
    for blob in (act, sleep):
        assert blob.endswith(b"\r\n") and blob.count(b"\n") == blob.count(b"\r\n")
    assert act.split(b"\r\n", 1)[0].decode() == FITABASE_ACTIVITY_HEADER
    assert sleep.split(b"\r\n", 1)[0].decode() == FITABASE_SLEEP_HEADER
    if REAL_FITABASE.exists():
        for name in ("dailyActivity_merged.csv", "sleepDay_merged.csv"):
            real = (REAL_FITABASE / name).read_text().splitlines()[0]
            ours = (folder / name).read_text().splitlines()[0]
            assert ours == real
    _, rows = read_csv(folder / "dailyActivity_merged.csv")
    for r in rows:
        assert re.fullmatch(r"\d{10}", r["Id"])
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}", r["ActivityDate"])
        float(r["TotalDistance"])
        assert datetime.strptime(r["ActivityDate"], "%m/%d/%Y").date() <= AS_OF
    _, srows = read_csv(folder / "sleepDay_merged.csv")
    for r in srows:
        assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} 12:00:00 AM", r["SleepDay"])
        assert int(r["TotalTimeInBed"]) >= int(r["TotalMinutesAsleep"]) > 0


def test_non_wear_days_and_sleep_duplicates(landing, truth):
    folder = fitabase_dir(landing)
    _, rows = read_csv(folder / "dailyActivity_merged.csv")
    nonwear = [r for r in rows if r["TotalSteps"] == "0"]
    assert 0.02 * len(rows) < len(nonwear) < 0.25 * len(rows)
    zero_cols = [
        "TotalDistance",
        "TrackerDistance",
        "LoggedActivitiesDistance",
        "VeryActiveDistance",
        "ModeratelyActiveDistance",
        "LightActiveDistance",
        "SedentaryActiveDistance",
        "VeryActiveMinutes",
        "FairlyActiveMinutes",
        "LightlyActiveMinutes",
    ]
    for r in nonwear:
        assert all(float(r[c]) == 0 for c in zero_cols)
        assert r["SedentaryMinutes"] == "1440"
        assert 1200 <= int(r["Calories"]) <= 1900  # Fitbit still estimates BMR
    lines = (folder / "sleepDay_merged.csv").read_text().splitlines()[1:]
    dup = [k for k, n in Counter(lines).items() if n > 1]
    assert dup
    effects = json.loads((truth / "effects.json").read_text())
    assert sorted(",".join(k) for k in effects["sleep_duplicates"]) == sorted(
        ",".join(k.split(",")[:2]) for k in dup
    )
    sleep_keys = {tuple(line.split(",")[:2]) for line in lines}
    for r in nonwear:  # no sleep record the night before a non-wear day
        assert (r["Id"], r["ActivityDate"] + " 12:00:00 AM") not in sleep_keys
    # a multi-day gap exists somewhere
    by_id = defaultdict(list)
    for r in rows:
        by_id[r["Id"]].append(r["TotalSteps"] == "0")
    assert any("TTT" in "".join("T" if x else "F" for x in v) for v in by_id.values())


def test_fitabase_ids_link_to_the_roster_except_a_test_device(landing, participants):
    folder = fitabase_dir(landing)
    ids = {r["Id"] for r in read_csv(folder / "dailyActivity_merged.csv")[1]}
    roster_ids = {p["fitbit_id"] for p in participants.values() if p["fitbit_id"]}
    assert roster_ids <= ids
    assert len(ids - roster_ids) == 1


# --- truth tables ------------------------------------------------------------------------------


def test_days_truth(landing, truth, participants):
    _, days = read_csv(truth / "days.csv")
    per_person = Counter(r["participant_id"] for r in days)
    assert set(per_person) == set(participants)
    assert set(per_person.values()) == {WEEKS * 7}
    folder = fitabase_dir(landing)
    fid_to_pid = {p["fitbit_id"]: pid for pid, p in participants.items() if p["fitbit_id"]}
    steps = {}
    for r in read_csv(folder / "dailyActivity_merged.csv")[1]:
        if r["Id"] in fid_to_pid:
            d = datetime.strptime(r["ActivityDate"], "%m/%d/%Y").date().isoformat()
            steps[(fid_to_pid[r["Id"]], d)] = r["TotalSteps"]
    sleep = {}
    for r in read_csv(folder / "sleepDay_merged.csv")[1]:
        if r["Id"] in fid_to_pid:
            d = datetime.strptime(r["SleepDay"], "%m/%d/%Y %I:%M:%S %p").date().isoformat()
            sleep[(fid_to_pid[r["Id"]], d)] = r["TotalMinutesAsleep"]
    pain = {
        (c["participant_id"], c["date"]): c["pain"]
        for c in read_csv(landing / f"app/checkins_{EXPORT_DATE.isoformat()}.csv")[1]
        if c["pain"].isdigit()
    }
    done = Counter(
        (s["participant_id"], s["local_day"])
        for s in read_csv(truth / "sessions.csv")[1]
        if s["kind"] == "stretch" and s["completed"] == "true"
    )
    for r in days:
        p = participants[r["participant_id"]]
        key = (r["participant_id"], r["day"])
        day = date.fromisoformat(r["day"])
        start = date.fromisoformat(p["enrolled_on"])
        assert int(r["program_day"]) == (day - start).days + 1
        assert int(r["program_week"]) == (int(r["program_day"]) - 1) // 7 + 1
        elapsed = day <= AS_OF and (
            not p["withdrawn_on"] or day <= date.fromisoformat(p["withdrawn_on"])
        )
        assert r["elapsed"] == ("true" if elapsed else "false")
        if elapsed:
            assert int(r["completed_stretch_sessions"]) == done[key]
        else:
            assert r["completed_stretch_sessions"] == "" and r["pain"] == ""
        if not p["fitbit_id"] or day > AS_OF:
            assert r["worn"] == ""
        if r["worn"] == "true":
            assert r["steps_recorded"] == steps[key] != "0"
        elif r["worn"] == "false":
            assert steps[key] == "0" and r["steps_recorded"] == ""
        assert r["sleep_minutes_recorded"] == sleep.get(key, "")
        assert r["pain"] == pain.get(key, "")
    assert any(r["pain"] for r in days) and any(r["worn"] == "false" for r in days)


def test_effects_json(truth):
    e = json.loads((truth / "effects.json").read_text())
    assert e["seed"] == SEED and e["as_of"] == AS_OF.isoformat()
    assert e["export_date"] == EXPORT_DATE.isoformat()
    expected = {
        "sleep_prev_night_h": -0.40,
        "consistency_10pct": -0.15,
        "steps_1000": -0.10,
        "consistency_10pct_between": -0.30,
        "steps_1000_between": -0.20,
        "week": -0.10,
    }
    assert {k: v["estimate"] for k, v in e["effects"].items()} == expected
    assert all(v["unit"] for v in e["effects"].values())
    assert e["effects"]["steps_1000_between"]["level"] == "between"


def test_archetypes_behave_as_documented(tmp_path):
    generate_cohort(tmp_path, participants=120, weeks=8, seed=5)
    people = {p["participant_id"]: p for p in read_csv(tmp_path / "truth/participants.csv")[1]}
    sessions = read_csv(tmp_path / "truth/sessions.csv")[1]
    assert {p["archetype"] for p in people.values()} == {
        "steady",
        "boom_bust",
        "too_hard",
        "evening",
        "fading",
    }
    by_arch = defaultdict(list)
    for s in sessions:
        if s["kind"] == "stretch" and s["discomfort"]:
            by_arch[people[s["participant_id"]]["archetype"]].append(int(s["discomfort"]))
    too_hard = by_arch.pop("too_hard")
    assert sum(6 <= d <= 9 for d in too_hard) / len(too_hard) > 0.7
    others = [d for v in by_arch.values() for d in v]
    assert sum(d >= 6 for d in others) / len(others) < 0.15
    evening = [
        s["local_time"]
        for s in sessions
        if people[s["participant_id"]]["archetype"] == "evening" and s["kind"] == "stretch"
    ]
    assert sum("21:30" <= t <= "23:30" for t in evening) / len(evening) > 0.9
    # boom_bust: ≥ 3 stretches on a day, then ≥ 5 days without any
    per_day = defaultdict(Counter)
    for s in sessions:
        if s["kind"] == "stretch" and people[s["participant_id"]]["archetype"] == "boom_bust":
            per_day[s["participant_id"]][s["local_day"]] += 1
    assert max(n for c in per_day.values() for n in c.values()) >= 3
    # fading: no stretching in the final program weeks although still enrolled
    weeks = read_csv(tmp_path / "truth/weeks.csv")[1]
    fading_tail = [
        w
        for w in weeks
        if people[w["participant_id"]]["archetype"] == "fading"
        and int(w["program_week"]) == 8
        and w["completed_stretch_sessions"] != ""
        and not people[w["participant_id"]]["withdrawn_on"]
    ]
    assert fading_tail and all(w["completed_stretch_sessions"] == "0" for w in fading_tail)


def test_quarantine_truth_points_at_the_planted_values(landing, quarantined):
    for (name, line), q in quarantined.items():
        path = landing / name
        if name.endswith(".jsonl"):
            record = json.loads(path.read_text().splitlines()[line - 1])
            assert str(record[q["field"]]) == q["value"]
        else:
            header, rows = read_csv(path)
            assert rows[line - 2][q["field"]] == q["value"]
    assert len(quarantined) == 5
