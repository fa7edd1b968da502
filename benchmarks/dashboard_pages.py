"""How fast each dashboard page is, server-side and in a real browser, by cohort size.

    .venv/bin/python benchmarks/dashboard_pages.py DATA_DIR [DATA_DIR ...]

Each DATA_DIR must hold a published snapshot (e.g. `steadyback generate --out D
--participants 10000` then `steadyback run --data-dir D`). Benchmark users are
added to each data dir. For every page and role it measures:

- **server-side**: the wall time of one script run of the page (Streamlit's
  AppTest, in-process) — *cold* right after the caches were cleared (what the
  first viewer sees after a new publish) and *warm* (the same view again);
  the person page is measured on several people, each a first view;
- **in the browser**: `steadyback serve` in headless Chromium, from the click on
  "Log in" (the page URL already chosen) until every Plotly chart is drawn and
  the script run is over — the login's argon2 check is included and reported on
  its own line.

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


def server_side(data_dir: Path, users, people: list[str]) -> dict[str, tuple[float, float]]:
    """(cold, warm) seconds per page; person: median over several people."""
    results = {}
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
    at, st = _logged_in_app(data_dir, users["coach"][0])
    at.switch_page(PAGE_FILES["person"])
    cold_runs, warm_runs = [], []
    for pid in people:
        at.query_params["pid"] = pid
        cold_runs.append(_timed_run(at))
        warm_runs.append(_timed_run(at))
        assert at.get("plotly_chart"), f"no charts for {pid}"
    results["person"] = (statistics.median(cold_runs), statistics.median(warm_runs))
    return results


# --- browser --------------------------------------------------------------------------------


def browser_times(data_dir: Path, users, people: list[str]) -> dict[str, float]:
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
    results: dict[str, float] = {}
    try:
        wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            views = [
                ("cohort", "program_manager", f"{url}/cohort"),
                ("caseload", "coach", f"{url}/caseload"),
                ("data-health", "analyst", f"{url}/data-health"),
            ] + [("person", "coach", f"{url}/person?pid={pid}") for pid in people]
            person_times = []
            for page_name, role, address in views:
                elapsed = _time_to_charts(chromium, address, users[role][0])
                if page_name == "person":
                    person_times.append(elapsed)
                else:
                    results[page_name] = elapsed
            results["person"] = statistics.median(person_times)
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return results


def _time_to_charts(chromium, address: str, username: str) -> float:
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(address, wait_until="domcontentloaded")
        page.get_by_label("Username", exact=True).fill(username)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        started = time.perf_counter()
        page.get_by_role("button", name="Log in").click()
        page.wait_for_selector('[data-testid="stSidebar"] >> text=Log out', timeout=120_000)
        page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=120_000)
        page.wait_for_function(
            """() => {
                const plots = [...document.querySelectorAll('.js-plotly-plot')];
                return plots.every(p => p.querySelector('.main-svg'));
            }""",
            timeout=120_000,
        )
        elapsed = time.perf_counter() - started
        assert page.locator('[data-testid="stException"]').count() == 0, address
        return elapsed
    finally:
        page.close()


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
        server = server_side(data_dir, users, people)
        browser = {} if args.no_browser else browser_times(data_dir, users, people)
        login = argon2_verify_s(data_dir, users["coach"][0])
        for page in ("cohort", "caseload", "person", "data-health"):
            cold, warm = server[page]
            in_browser = f"{browser[page]:.2f}" if page in browser else "—"
            target = f"< {TARGETS_S[page]:.1f}" if page in TARGETS_S else ""
            rows.append(
                f"| {participants:,} | {page} | {cold:.2f} | {warm:.2f} | {in_browser} | {target} |"
            )
        rows.append(f"| {participants:,} | (login: argon2 verify) | {login:.3f} | | | |")

    print(
        f"\nMachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}\n"
    )
    print(
        "| participants | page | server cold s | server warm s | browser: log in → charts drawn s | target s |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
