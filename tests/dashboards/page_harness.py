"""Helpers for the page tests: read the snapshot independently, log in through the real form.

Expected values in page tests are computed here straight from the snapshot with
DuckDB (not through `dashboards.queries`), so they hold for any valid snapshot.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import NamedTuple

import duckdb
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from dashboards.disclosure import MIN_CELL_SIZE  # noqa: F401 — the disclosure rule, for the tests
from pipelines.lib.pseudonym import pseudonym_key, pseudonymize
from pipelines.lib.rules import ProgramRules, rules_from_rows
from pipelines.lib.users import UserStore

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
PASSWORD = "correct horse battery"
PAGES = {
    "cohort": "app_pages/cohort.py",
    "caseload": "app_pages/caseload.py",
    "person": "app_pages/person.py",
    "data-health": "app_pages/data_health.py",
}
USERS = {  # key -> (username, role, coach id or None; "first" = the snapshot's first coach)
    "program_manager": ("pm", "program_manager", None),
    "coach": ("coach", "coach", "first"),
    "other_coach": ("coach-other", "coach", "C-NOBODY"),
    "analyst": ("analyst", "analyst", None),
}


def snapshot_file(data_dir: Path) -> Path:
    return data_dir / "published" / "current.duckdb"


def query(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(snapshot_file(data_dir)), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def snapshot_rules(data_dir: Path) -> ProgramRules:
    """The program rules the snapshot records (`meta.rules`), e.g. its adherent-week share."""
    return rules_from_rows(query(data_dir, "select key, value, source from meta.rules")).rules


def first_coach(data_dir: Path) -> str:
    if not snapshot_file(data_dir).exists():
        return "C-01"
    return query(data_dir, "select min(coach_id) from marts.participants")[0][0]


def caseload_pids(data_dir: Path, coach_id: str) -> set[str]:
    """The pids of a coach's participants in the snapshot."""
    return {
        pid
        for (pid,) in query(
            data_dir, "select pid from marts.participants where coach_id = ?", [coach_id]
        )
    }


def add_test_users(data_dir: Path) -> None:
    """One user per role (and a coach with nobody in the snapshot), password `PASSWORD`."""
    store = UserStore.at(data_dir)
    for username, role, coach in USERS.values():
        coach_id = first_coach(data_dir) if coach == "first" else coach
        store.add(username, role, PASSWORD, coach_id=coach_id, replace=True)


def log_in(at: AppTest, username: str, password: str = PASSWORD) -> AppTest:
    """Fill in the login form as a person would and submit it."""
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    return at


def open_app(
    data_dir: Path, monkeypatch, role: str, page: str | None = None, **query_params: str
) -> AppTest:
    """A logged-in AppTest for `role` (a USERS key) on `page` (a PAGES key), no exception."""
    if not UserStore.at(data_dir).path.exists():
        add_test_users(data_dir)
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    log_in(at, USERS[role][0])
    assert not at.exception, [e.value for e in at.exception]
    for name, value in query_params.items():
        at.query_params[name] = value
    if page is not None:
        at.switch_page(PAGES[page]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def sent_text(at: AppTest) -> str:
    """Everything the app sent to the browser: every element's protobuf, as text."""

    def nodes(node):
        yield node
        for child in getattr(node, "children", {}).values():
            yield from nodes(child)

    return "\n".join(str(node.proto) for node in nodes(at._tree) if hasattr(node, "proto"))


def page_text(at: AppTest) -> str:
    """Every caption, markdown, info, warning and error on the page, as one string."""
    parts = [
        e.value
        for kind in ("caption", "markdown", "info", "warning", "error")
        for e in getattr(at, kind)
    ]
    return "\n".join(str(p) for p in parts)


def expected_identities(data_dir: Path) -> dict[str, tuple[str, str | None, str]]:
    """pid → (participant id, display name or None, coach id), from the generator's truth."""
    key = pseudonym_key()
    with (data_dir / "truth" / "participants.csv").open(newline="", encoding="utf-8") as handle:
        return {
            pseudonymize(p["participant_id"], key): (
                p["participant_id"],
                p["display_name"] or None,
                p["coach_id"],
            )
            for p in csv.DictReader(handle)
        }


def copy_published(data_dir: Path, into: Path, identities: bool = True) -> Path:
    """A fresh data dir with `data_dir`'s snapshot, users file and (optionally) identities."""
    snapshot_file(into).parent.mkdir(parents=True)
    shutil.copy(snapshot_file(data_dir), snapshot_file(into))
    (into / "access").mkdir(mode=0o700)
    shutil.copy(data_dir / "access" / "users.json", into / "access" / "users.json")
    if identities:
        shutil.copy(data_dir / "access" / "identities.json", into / "access" / "identities.json")
    return into


class Download(NamedTuple):
    file_id: str  # the stem of the download button's URL
    name: str | None  # the file name the browser saves it under
    data: bytes


def capture_downloads(monkeypatch) -> list[Download]:
    """Files the app hands to the browser for download from now on, in the order it does
    (AppTest keeps them in memory; the same file handed again is listed again)."""
    files: list[Download] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        file_id = original(self, path_or_data, mimetype, kind, filename)
        if isinstance(path_or_data, bytes):
            files.append(Download(file_id, filename, path_or_data))
        return file_id

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files


def offered(downloads: list[Download], button) -> bytes:
    """What a download button offers (AppTest's `download_button`), from `downloads`."""
    file_id = Path(button.proto.url).stem
    return next(d.data for d in downloads if d.file_id == file_id)


def expected_risk(data_dir: Path) -> dict[str, dict]:
    """pid → the early warning as the pages must show it, straight from the snapshot.

    `current`: the person's `models.disengagement_risk` row of their latest completed program
    week (`marts.participant_week.week_complete`) while their status is active, else None;
    also their status, latest completed week, latest published week and `disengaged_on`
    (`marts.engagement_spells`).
    """
    people = {
        pid: {"status": status, "latest_complete": None, "latest_published": None, "current": None,
              "disengaged_on": disengaged_on}
        for pid, status, disengaged_on in query(
            data_dir,
            "select p.pid, p.status, s.disengaged_on from marts.participants as p "
            "left join marts.engagement_spells as s using (pid)",
        )
    }  # fmt: skip
    for pid, week in query(
        data_dir,
        "select pid, max(week) from marts.participant_week where week_complete group by pid",
    ):
        people[pid]["latest_complete"] = week
    for pid, week, as_of, probability, band, reasons, model in query(
        data_dir,
        "select pid, week, as_of, probability, band, reasons, model "
        "from models.disengagement_risk order by pid, week",
    ):
        person = people[pid]
        person["latest_published"] = week
        row = {"week": week, "as_of": as_of, "probability": probability, "band": band,
               "reasons": reasons, "model": model}  # fmt: skip
        current = week == person["latest_complete"] and person["status"] == "active"
        person["current"] = row if current else None
    return people


def computed_text(as_of, week: int) -> str:
    """How the pages date a prediction: "6 May 2026 (week 2)"."""
    return f"{as_of.day} {as_of:%b %Y} (week {week})"
