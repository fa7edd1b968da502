"""How fast each dashboard page is where people wait: before and after a change, side by side.

    git worktree add /tmp/sb-before <commit>          # the code to compare against
    .venv/bin/python benchmarks/dashboard_pages.py --reference /tmp/sb-before DATA_DIR [DATA_DIR ...]

Each DATA_DIR must hold a published snapshot (`steadyback generate --out D
--participants N` then `steadyback run --data-dir D`); benchmark users are added
to it. Both code trees serve the same snapshot with this checkout's virtualenv,
one after the other in the same run. For each tree and data dir:

- **in headless Chromium**, signed in once per role so the browser holds the
  sign-in cookie, the median of `--repeats` (default 5) of:
  - *new tab* — a new tab of that browser opened on the page's URL, from the
    navigation to the first Plotly chart drawn and to every chart (or, for the
    caseload, its table) drawn: `/person?pid=…` (a different person each time,
    each a first view for the server), `/caseload`, `/cohort`, `/data-health`;
  - *in-session switch* — from a click in the sidebar (for a person: choosing
    them in the Person page's picker) to that page drawn;
- **server-side**: the wall time of one script run of the page (Streamlit's
  AppTest, in-process) right after the caches were cleared (*cold*, the first
  viewer after a publish) and again (*warm*).

"Drawn" means: the page's title is up, its script run is over and as many
Plotly charts as AppTest counted for the same view each have their SVG.
Prints one Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "tests" / "browser"))

PASSWORD = "benchmark-password"
PAGE_FILES = {
    "cohort": "app_pages/cohort.py",
    "caseload": "app_pages/caseload.py",
    "person": "app_pages/person.py",
    "data-health": "app_pages/data_health.py",
}
HEADINGS = {
    "cohort": "Cohort",
    "caseload": "Caseload",
    "person": "Person",
    "data-health": "Data health",
}
USERS = {"program_manager": "bench-pm", "coach": "bench-coach", "analyst": "bench-analyst"}
# issue 10's targets, seconds (10,000 participants, median of 5)
TARGETS_S = {
    "person new tab → first chart": 1.0,
    "person new tab → all charts": 2.0,
    "caseload new tab → table": 1.0,
    "cohort new tab → all panels": 2.0,
    "data-health new tab → all panels": None,
    "cohort in-session switch": 0.8,
    "caseload in-session switch": 0.8,
    "person in-session switch (picker)": 0.8,
    "data-health in-session switch": 0.8,
}


def snapshot_rows(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def add_users(data_dir: Path) -> str:
    """The benchmark's three users (the coach gets the biggest caseload); that coach's id."""
    sys.path.insert(0, str(PROJECT_ROOT))
    from pipelines.lib.users import UserStore

    [(coach_id,)] = snapshot_rows(
        data_dir,
        "select coach_id from marts.participants group by coach_id order by count(*) desc, coach_id limit 1",
    )
    store = UserStore.at(data_dir)
    for role, username in USERS.items():
        store.add(
            username, role, PASSWORD, coach_id=coach_id if role == "coach" else None, replace=True
        )
    return coach_id


def people_to_view(data_dir: Path, coach_id: str, count: int) -> list[str]:
    rows = snapshot_rows(
        data_dir,
        "select pid from marts.participants where coach_id = ? order by hash(pid) limit ?",
        [coach_id, count],
    )
    return [pid for (pid,) in rows]


# --- server side (runs in a child process with the measured code tree first on sys.path) ----


def server_side(code: Path, data_dir: Path, people: list[str]) -> dict:
    """{"seconds": {page: [cold, warm]}, "charts": {page or pid: count}} for one code tree."""
    sys.path.insert(0, str(code))
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["STEADYBACK_DATA_DIR"] = str(data_dir)

    def logged_in(username: str) -> AppTest:
        at = AppTest.from_file(str(code / "dashboards" / "streamlit_app.py"), default_timeout=120)
        at.run()
        at.text_input(key="login_username").input(username)
        at.text_input(key="login_password").input(PASSWORD)
        at.button[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    def timed(at: AppTest) -> float:
        started = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - started
        assert not at.exception, [e.value for e in at.exception]
        return elapsed

    seconds, charts = {}, {}
    for page, role in (
        ("cohort", "program_manager"),
        ("caseload", "coach"),
        ("data-health", "analyst"),
    ):
        at = logged_in(USERS[role])
        at.switch_page(PAGE_FILES[page])
        st.cache_data.clear()
        seconds[page] = [timed(at), timed(at)]
        charts[page] = len(at.get("plotly_chart"))
    at = logged_in(USERS["coach"])
    at.switch_page(PAGE_FILES["person"])
    cold, warm = [], []
    for pid in people:
        at.query_params["pid"] = pid
        cold.append(timed(at))
        warm.append(timed(at))
        charts[pid] = len(at.get("plotly_chart"))
        assert charts[pid], f"no charts for {pid}"
    seconds["person"] = [statistics.median(cold), statistics.median(warm)]
    return {"seconds": seconds, "charts": charts}


def server_side_in_child(code: Path, data_dir: Path, people: list[str]) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--server-side", str(code), str(data_dir), *people],
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- browser ----------------------------------------------------------------------------------

FIRST_CHART = "() => document.querySelector('.js-plotly-plot .main-svg') !== null"
DRAWN = """n => {
    const plots = [...document.querySelectorAll('.js-plotly-plot')];
    return plots.length === n && plots.every(p => p.querySelector('.main-svg'));
}"""
TIMEOUT_MS = 120_000


def drawn(page, charts: int, heading: str) -> None:
    """The page titled `heading` is on screen, its script run is over and all its charts drew."""
    page.wait_for_function(
        "h => [...document.querySelectorAll('h1')].some(e => e.innerText.trim() === h)",
        arg=heading,
        timeout=TIMEOUT_MS,
    )
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=TIMEOUT_MS)
    page.wait_for_function(DRAWN, arg=charts, timeout=TIMEOUT_MS)
    if heading == "Caseload":  # its content is a table, drawn on a canvas
        page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=TIMEOUT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0, page.url


def signed_in_context(chromium, url: str, username: str):
    """A browser profile in which `username` signed in once: it holds the sign-in cookie."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    deadline = time.monotonic() + 30
    while not any(c["name"] == "steadyback_session" for c in context.cookies()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{username}: no sign-in cookie after logging in")
        page.wait_for_timeout(100)
    return context, page


def new_tab(context, address: str, charts: int, heading: str) -> tuple[float, float]:
    """(s to the first chart or table, s to the page drawn) for a new tab on `address`."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(address, wait_until="commit")
    if heading == "Caseload":
        page.wait_for_selector('[data-testid="stDataFrame"] canvas', timeout=TIMEOUT_MS)
    else:
        page.wait_for_function(FIRST_CHART, timeout=TIMEOUT_MS, polling=16)
    first = time.perf_counter() - started
    drawn(page, charts, heading)
    done = time.perf_counter() - started
    assert page.get_by_label("Password").count() == 0, f"{address}: asked to log in again"
    page.close()
    return first, done


def switch(page, link: str, charts: int, heading: str) -> float:
    started = time.perf_counter()
    page.locator('[data-testid="stSidebarNav"]').get_by_text(link, exact=True).click()
    drawn(page, charts, heading)
    return time.perf_counter() - started


def pick_person(page, pid: str, charts: int) -> float:
    """Seconds from choosing `pid` in the Person page's picker to their page drawn."""
    switch(page, "Person", 0, "Person")
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.keyboard.type(pid)
    started = time.perf_counter()
    page.keyboard.press("Enter")
    drawn(page, charts, "Person")
    assert f"pid={pid}" in page.url, page.url
    return time.perf_counter() - started


def browser_times(
    code: Path, data_dir: Path, people: list[str], charts: dict, repeats: int
) -> dict:
    """{metric: median seconds} for one code tree serving `data_dir`."""
    from live_server import CHROMIUM, CHROMIUM_ARGS, free_port, wait_until_healthy
    from playwright.sync_api import sync_playwright

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
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    runs: dict[str, list[float]] = {metric: [] for metric in TARGETS_S}
    try:
        wait_until_healthy(url, server)
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            pm, pm_page = signed_in_context(chromium, f"{url}/cohort", USERS["program_manager"])
            coach, coach_page = signed_in_context(chromium, f"{url}/caseload", USERS["coach"])
            analyst, analyst_page = signed_in_context(
                chromium, f"{url}/data-health", USERS["analyst"]
            )
            drawn(pm_page, charts["cohort"], "Cohort")
            drawn(coach_page, charts["caseload"], "Caseload")
            drawn(analyst_page, charts["data-health"], "Data health")
            # one untimed new tab per role: the server's imports and the browser's HTTP cache warm
            new_tab(pm, f"{url}/cohort", charts["cohort"], "Cohort")
            new_tab(analyst, f"{url}/data-health", charts["data-health"], "Data health")
            new_tab(coach, f"{url}/caseload", charts["caseload"], "Caseload")
            for pid in people[:repeats]:
                first, done = new_tab(coach, f"{url}/person?pid={pid}", charts[pid], "Person")
                runs["person new tab → first chart"].append(first)
                runs["person new tab → all charts"].append(done)
            for _ in range(repeats):
                runs["caseload new tab → table"].append(
                    new_tab(coach, f"{url}/caseload", charts["caseload"], "Caseload")[1]
                )
                runs["cohort new tab → all panels"].append(
                    new_tab(pm, f"{url}/cohort", charts["cohort"], "Cohort")[1]
                )
                runs["data-health new tab → all panels"].append(
                    new_tab(analyst, f"{url}/data-health", charts["data-health"], "Data health")[1]
                )
            for pid in people[:repeats]:
                runs["person in-session switch (picker)"].append(
                    pick_person(coach_page, pid, charts[pid])
                )
                runs["caseload in-session switch"].append(
                    switch(coach_page, "Caseload", charts["caseload"], "Caseload")
                )
                switch(pm_page, "Person", 0, "Person")
                runs["cohort in-session switch"].append(
                    switch(pm_page, "Cohort", charts["cohort"], "Cohort")
                )
                switch(analyst_page, "Cohort", charts["cohort"], "Cohort")
                runs["data-health in-session switch"].append(
                    switch(analyst_page, "Data health", charts["data-health"], "Data health")
                )
            chromium.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {metric: statistics.median(values) for metric, values in runs.items()}


def commit_of(code: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(code), "log", "-1", "--format=%h %s"], capture_output=True, text=True
    )
    dirty = subprocess.run(
        ["git", "-C", str(code), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return out.stdout.strip()[:70] + (" (+ uncommitted changes)" if dirty else "")


def main() -> None:
    if sys.argv[1:2] == ["--server-side"]:
        code, data_dir, *people = sys.argv[2:]
        print(json.dumps(server_side(Path(code), Path(data_dir), people)))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dirs", nargs="+", type=Path)
    parser.add_argument(
        "--reference", type=Path, required=True, help="a checkout of the code to compare against"
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true")
    args = parser.parse_args()
    trees = {"before": args.reference.resolve(), "after": PROJECT_ROOT}

    table = []
    for data_dir in args.data_dirs:
        coach_id = add_users(data_dir)
        people = people_to_view(data_dir, coach_id, args.repeats)
        [(participants,)] = snapshot_rows(data_dir, "select count(*) from marts.participants")
        results = {}
        for label, code in trees.items():
            print(f"{data_dir} ({participants:,} participants), {label}: {code}", file=sys.stderr)
            server = server_side_in_child(code, data_dir, people)
            browser = (
                {}
                if args.no_browser
                else browser_times(code, data_dir, people, server["charts"], args.repeats)
            )
            results[label] = (server, browser)
        for metric, target in TARGETS_S.items():
            if args.no_browser:
                break
            before, after = (results[label][1][metric] for label in trees)
            mark = "" if target is None else f"≤ {target:.1f}" + (" ✓" if after <= target else " ✗")
            table.append(f"| {participants:,} | {metric} | {before:.2f} | {after:.2f} | {mark} |")
        for page in PAGE_FILES:
            (cold_b, warm_b), (cold_a, warm_a) = (
                results[label][0]["seconds"][page] for label in trees
            )
            table.append(
                f"| {participants:,} | {page} server-side, cold / warm | "
                f"{cold_b:.2f} / {warm_b:.2f} | {cold_a:.2f} / {warm_a:.2f} | ≤ before |"
            )

    print(
        f"\nMachine: {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}, "
        f"Chromium headless (software rendering)\n"
        f"before: {commit_of(trees['before'])}\nafter: {commit_of(trees['after'])}\n"
    )
    print("| participants | median of runs, seconds | before | after | target |")
    print("|---|---|---|---|---|")
    print("\n".join(table))


if __name__ == "__main__":
    main()
