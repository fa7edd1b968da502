"""How fast each dashboard page is, server-side and in a real browser, by cohort size.

    .venv/bin/python benchmarks/dashboard_pages.py DATA_DIR [DATA_DIR ...]

Each DATA_DIR must hold a published snapshot (e.g. `steadyback generate --out D
--participants 10000` then `steadyback run --data-dir D`). Benchmark users are
added to each data dir. For every page and role it measures:

- **server-side**: the wall time of one script run of the page (Streamlit's
  AppTest, in-process) — *cold* right after the caches were cleared (what the
  first viewer sees after a new publish) and *warm* (the same view again);
  the person page is measured on several people, each a first view;
- **in the browser** (`steadyback serve`, headless Chromium), until the page's
  title is up, its script run is over and every one of its Plotly charts is
  drawn (as many as AppTest counted for the same view):
  *URL + log in* — from the click on "Log in" with the page's URL already open
  (a new session: includes the argon2 check, reported on its own line, and
  loading Plotly's JavaScript; the form was up 3 s before, as when a person
  types, during which the server imports scipy and Dagster in the background); *in-session* — from a click in the sidebar (or,
  for a person, choosing them in the Person page's picker) to drawn.

Prints one Markdown table; the first data dir is the reference the others are
read against.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(PROJECT_ROOT / "tests" / "browser"))

from pipelines.lib.users import UserStore  # noqa: E402

APP = PROJECT_ROOT / "dashboards" / "streamlit_app.py"
PASSWORD = "benchmark-password"
PAGE_FILES = {
    "cohort": "app_pages/cohort.py",
    "caseload": "app_pages/caseload.py",
    "person": "app_pages/person.py",
    "data-health": "app_pages/data_health.py",
}
TARGETS_S = {"cohort": 1.0, "person": 0.5}
PEOPLE_PER_SIZE = 5
TYPING_MS = 3000  # the login form is up this long before "Log in" is clicked (a person typing)


def snapshot_rows(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def add_users(data_dir: Path) -> dict[str, tuple[str, str | None]]:
    [(coach_id,)] = snapshot_rows(
        data_dir,
        "select coach_id from marts.participants group by coach_id order by count(*) desc, coach_id limit 1",
    )
    store = UserStore.at(data_dir)
    users = {
        "program_manager": ("bench-pm", None),
        "coach": ("bench-coach", coach_id),
        "analyst": ("bench-analyst", None),
    }
    for role, (username, coach) in users.items():
        store.add(username, role, PASSWORD, coach_id=coach, replace=True)
    return users


def people_to_view(data_dir: Path, coach_id: str) -> list[str]:
    rows = snapshot_rows(
        data_dir,
        "select pid from marts.participants where coach_id = ? order by hash(pid) limit ?",
        [coach_id, PEOPLE_PER_SIZE],
    )
    return [pid for (pid,) in rows]


# --- server side ----------------------------------------------------------------------------


def _logged_in_app(data_dir: Path, username: str):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["STEADYBACK_DATA_DIR"] = str(data_dir)
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at, st


def _timed_run(at) -> float:
    started = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - started
    assert not at.exception, [e.value for e in at.exception]
    return elapsed


def server_side(data_dir: Path, users, people: list[str]) -> tuple[dict, dict]:
    """(cold, warm) seconds per page (person: median over several people), and chart counts."""
    results, charts = {}, {}
    for page, role in (
        ("cohort", "program_manager"),
        ("caseload", "coach"),
        ("data-health", "analyst"),
    ):
        at, st = _logged_in_app(data_dir, users[role][0])
        at.switch_page(PAGE_FILES[page])
        st.cache_data.clear()
        cold = _timed_run(at)
        warm = _timed_run(at)
        results[page] = (cold, warm)
        charts[page] = len(at.get("plotly_chart"))
    at, st = _logged_in_app(data_dir, users["coach"][0])
    at.switch_page(PAGE_FILES["person"])
    cold_runs, warm_runs = [], []
    for pid in people:
        at.query_params["pid"] = pid
        cold_runs.append(_timed_run(at))
        warm_runs.append(_timed_run(at))
        charts[pid] = len(at.get("plotly_chart"))
        assert charts[pid], f"no charts for {pid}"
    results["person"] = (statistics.median(cold_runs), statistics.median(warm_runs))
    return results, charts


# --- browser --------------------------------------------------------------------------------

DRAWN = """n => {
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    return plots.length === n && plots.every(p => p.querySelector('.main-svg'));
}"""


def _done(page, charts: int, heading: str) -> None:
    """The page named `heading` is on screen, its script run is over and all its charts drew."""
    page.wait_for_function(
        "h => [...document.querySelectorAll('h1')].some(e => e.innerText.trim() === h)",
        arg=heading,
        timeout=120_000,
    )
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
    page.wait_for_function(DRAWN, arg=charts, timeout=120_000)
    if heading == "Caseload":  # its content is a table, drawn on a canvas
        page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=120_000)
    assert page.locator('[data-testid="stException"]').count() == 0, page.url


def _first_load(chromium, address: str, username: str, charts: int, heading: str):
    """Seconds from the click on "Log in" (the URL already chosen) to the page drawn; the page."""
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(address, wait_until="domcontentloaded")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.wait_for_timeout(TYPING_MS)
    started = time.perf_counter()
    page.get_by_role("button", name="Log in").click()
    _done(page, charts, heading)
    return time.perf_counter() - started, page


def _navigate(page, link: str, charts: int, heading: str) -> float:
    """Seconds from a click on a sidebar link to that page drawn (same session, no reload)."""
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    _done(page, charts, heading)
    return time.perf_counter() - started


def browser_times(data_dir: Path, users, people: list[str], charts: dict) -> dict[str, tuple]:
    """(first load, in-session) seconds per page."""
    from playwright.sync_api import sync_playwright
    from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_healthy

    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "serve",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    results: dict[str, tuple] = {}
    try:
        wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            # program manager: /cohort, then away to Person and back in the same session
            first, page = _first_load(
                chromium, f"{url}/cohort", users["program_manager"][0], charts["cohort"], "Cohort"
            )
            _navigate(page, "Person", 0, "Person")
            again = _navigate(page, "Cohort", charts["cohort"], "Cohort")
            results["cohort"] = (first, again)
            page.close()
            # coach: one person by URL, then each person through the Person page's picker
            person_first, person_again = [], []
            for pid in people:
                first, page = _first_load(
                    chromium, f"{url}/person?pid={pid}", users["coach"][0], charts[pid], "Person"
                )
                person_first.append(first)
                _navigate(page, "Caseload", 0, "Caseload")
                person_again.append(_navigate_to_person(page, pid, charts[pid]))
                page.close()
            results["person"] = (statistics.median(person_first), statistics.median(person_again))
            first, page = _first_load(
                chromium, f"{url}/caseload", users["coach"][0], charts["caseload"], "Caseload"
            )
            _navigate(page, "Person", 0, "Person")
            results["caseload"] = (
                first,
                _navigate(page, "Caseload", charts["caseload"], "Caseload"),
            )
            page.close()
            first, page = _first_load(
                chromium,
                f"{url}/data-health",
                users["analyst"][0],
                charts["data-health"],
                "Data health",
            )
            _navigate(page, "Cohort", charts["cohort"], "Cohort")
            again = _navigate(page, "Data health", charts["data-health"], "Data health")
            results["data-health"] = (first, again)
            page.close()
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def _navigate_to_person(page, pid: str, charts: int) -> float:
    """Seconds from choosing `pid` in the Person page's picker (reached from the sidebar) to drawn."""
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Person", exact=True).click()
    _done(page, 0, "Person")
    picker = page.locator('[data-testid="stSelectbox"]').first
    picker.click()
    page.keyboard.type(pid)
    started = time.perf_counter()
    page.keyboard.press("Enter")
    _done(page, charts, "Person")
    assert f"pid={pid}" in page.url, page.url
    return time.perf_counter() - started


def argon2_verify_s(data_dir: Path, username: str) -> float:
    store = UserStore.at(data_dir)
    started = time.perf_counter()
    for _ in range(5):
        assert store.verify(username, PASSWORD)
    return (time.perf_counter() - started) / 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()

    rows = []
    for data_dir in args.data_dirs:
        users = add_users(data_dir)
        [(participants, days)] = snapshot_rows(
            data_dir,
            "select (select count(*) from marts.participants), (select count(*) from marts.participant_day)",
        )
        people = people_to_view(data_dir, users["coach"][1])
        print(
            f"{data_dir}: {participants:,} participants, {days:,} participant-days …",
            file=sys.stderr,
        )
        server, charts = server_side(data_dir, users, people)
        browser = {} if args.no_browser else browser_times(data_dir, users, people, charts)
        login = argon2_verify_s(data_dir, users["coach"][0])
        for page in ("cohort", "caseload", "person", "data-health"):
            cold, warm = server[page]
            first, again = browser.get(page, (None, None))
            in_browser = "—" if first is None else f"{first:.2f} | {again:.2f}"
            target = f"< {TARGETS_S[page]:.1f}" if page in TARGETS_S else ""
            rows.append(
                f"| {participants:,} | {page} | {cold:.2f} | {warm:.2f} | {in_browser} | {target} |"
            )
        rows.append(f"| {participants:,} | (login: argon2 verify) | {login:.3f} | | | | |")

    print(
        f"\nMachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}\n"
    )
    print(
        "| participants | page | server cold s | server warm s "
        "| browser, URL + log in → drawn s | browser, in-session → drawn s | target s |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
