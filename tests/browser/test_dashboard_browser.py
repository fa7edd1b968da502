"""The dashboard served by `steadyback serve` and used in a real headless Chromium, once per role.

Why: AppTest runs the scripts but never draws a chart nor goes through a browser's
URL handling. This starts the real server on a free port against a published
snapshot, opens each page's URL, logs in through the form as a program manager,
a coach and an analyst, waits for Plotly to draw, checks that no Streamlit
exception box appears, and saves screenshots (to docs/screenshots/ with
STEADYBACK_SCREENSHOTS=docs/screenshots).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from live_server import chromium, free_port, serving

from pipelines.lib.users import User

pytestmark = [pytest.mark.browser, pytest.mark.pipeline]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# Screenshots for the docs are refreshed on request (STEADYBACK_SCREENSHOTS=docs/screenshots);
# a plain test run keeps them out of the work tree.
SCREENSHOTS = Path(
    os.environ.get("STEADYBACK_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "steadyback-screenshots"
)


PASSWORD = "browser-test-password"


def snapshot_rows(data_dir: Path, sql: str, params: list | None = None) -> list[tuple]:
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def served_dir(request) -> Path:
    """The small test cohort, or STEADYBACK_BROWSER_DATA_DIR (e.g. the demo's, for screenshots)."""
    chosen = os.environ.get("STEADYBACK_BROWSER_DATA_DIR")
    return Path(chosen) if chosen else request.getfixturevalue("published_data_dir")


@pytest.fixture(scope="module")
def users(served_dir: Path) -> dict[str, User]:
    """One dashboard user per role; the coach has the caseload of the snapshot's first coach."""
    from pipelines.lib.users import UserStore

    store = UserStore.at(served_dir)
    [(coach_id,)] = snapshot_rows(served_dir, "select min(coach_id) from marts.participants")
    return {
        "program_manager": store.add("browser-pm", "program_manager", PASSWORD, replace=True),
        "coach": store.add("browser-coach", "coach", PASSWORD, coach_id=coach_id, replace=True),
        "analyst": store.add("browser-analyst", "analyst", PASSWORD, replace=True),
    }


@pytest.fixture(scope="module")
def dashboard_url(served_dir: Path, users, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(served_dir)]
    command += ["--port", str(port), "--host", "127.0.0.1"]
    with serving(command, port, log_path, PROJECT_ROOT, dict(os.environ)) as url:
        yield url
    server_log = log_path.read_text()
    assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def open_logged_in(browser, url: str, user: User):
    """Open `url`, log in through the form, and wait for the page the URL names to draw."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_label("Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector('[data-testid="stSidebar"] >> text=Log out', timeout=30_000)
    settle(page)
    return page


def settle(page) -> None:
    """Wait until the script run is over and Plotly has finished drawing."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(800)


def assert_rendered_cleanly(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


def screenshot(page, name: str) -> None:
    """Save the whole page: Streamlit scrolls inside its main block, so grow the viewport."""
    content_height = page.evaluate(
        "document.querySelector('[data-testid=stMainBlockContainer]').scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": max(1000, content_height + 80)})
    page.wait_for_timeout(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def a_person_of(data_dir: Path, coach_id: str) -> str:
    """The coach's active participant with the most done days (their calendar has days to come)."""
    return snapshot_rows(
        data_dir,
        """
        select d.pid
        from marts.participant_day as d
        join marts.participants as p using (pid)
        where p.coach_id = ?
        group by d.pid, p.status
        order by p.status = 'active' desc,
                 count(*) filter (where d.day_state = 'done') desc,
                 d.pid
        limit 1
        """,
        [coach_id],
    )[0][0]


def someone_else(data_dir: Path, coach_id: str) -> str:
    return snapshot_rows(
        data_dir,
        "select min(pid) from marts.participants where coach_id <> ?",
        [coach_id],
    )[0][0]


def test_login_form_guards_every_page(browser, dashboard_url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{dashboard_url}/cohort", wait_until="domcontentloaded")
        page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == 0
        assert page.locator('[data-testid="stMetric"]').count() == 0
        page.get_by_label("Username", exact=True).fill("browser-pm")
        page.get_by_label("Password", exact=True).fill("not the password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_text("Unknown username or wrong password").wait_for(timeout=30_000)
        assert page.locator('[data-testid="stMetric"]').count() == 0
        screenshot(page, "login.png")
    finally:
        page.close()


def test_program_manager_sees_the_cohort_page(browser, dashboard_url, users):
    page = open_logged_in(browser, f"{dashboard_url}/cohort", users["program_manager"])
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        assert heading(page) == "Cohort"
        assert page.url.rstrip("/").endswith("/cohort")
        assert page.get_by_text("Data as of").count() >= 1
        assert page.get_by_text("Adherence by program week").count() == 1
        assert page.locator(".js-plotly-plot").count() >= 1
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert "Cohort" in nav and "Person" in nav
        assert "Caseload" not in nav and "Data health" not in nav
        screenshot(page, "cohort.png")
    finally:
        page.close()


def test_coach_sees_own_caseload_and_person_but_not_others(
    browser, dashboard_url, users, served_dir
):
    coach = users["coach"]
    page = open_logged_in(browser, f"{dashboard_url}/", coach)
    try:
        assert heading(page) == "Caseload"
        assert page.url.rstrip("/").endswith("/caseload")
        assert_rendered_cleanly(page)
        # the early warning: its column (the grid draws on a canvas; its column menu lists it),
        # and its headline figure
        grid = page.locator('[data-testid="stDataFrame"]')
        grid.hover()
        grid.get_by_role("button", name="Show/hide columns").click()
        columns = page.get_by_test_id("stDataFrameColumnVisibilityMenu")
        columns.get_by_text("Risk of stopping", exact=True).wait_for(timeout=10_000)
        page.keyboard.press("Escape")
        assert page.get_by_text("Risk raised or high").count() == 1
        screenshot(page, "caseload.png")

        pid = a_person_of(served_dir, coach.coach_id)
        # a new page load keeps the sign-in (tests/browser/test_signed_in.py)
        page.goto(f"{dashboard_url}/person?pid={pid}", wait_until="domcontentloaded")
        page.wait_for_selector(".js-plotly-plot .heatmaplayer .hm", timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        assert heading(page) == "Person"
        assert "pid=" + pid in page.url
        assert page.locator(".js-plotly-plot").count() >= 2
        assert page.get_by_role("heading", name="Risk of stopping").count() == 1
        screenshot(page, "person.png")

        other = someone_else(served_dir, coach.coach_id)
        page.goto(f"{dashboard_url}/person?pid={other}", wait_until="domcontentloaded")
        page.get_by_text("not in your caseload").wait_for(timeout=30_000)
        settle(page)
        assert page.locator(".js-plotly-plot").count() == 0
        assert page.locator('[data-testid="stMetric"]').count() == 0
        assert_rendered_cleanly(page)
    finally:
        page.close()


def test_coach_finds_their_person_by_participant_id_and_no_one_else(
    browser, dashboard_url, users, served_dir
):
    coach = users["coach"]
    people = json.loads((served_dir / "access" / "identities.json").read_text())["people"]
    pid = a_person_of(served_dir, coach.coach_id)
    mine, theirs = people[pid], people[someone_else(served_dir, coach.coach_id)]
    page = open_logged_in(browser, f"{dashboard_url}/caseload", coach)
    try:
        search = page.get_by_role("textbox", name="Search your caseload")
        search.fill(theirs["participant_id"])
        search.press("Enter")
        page.get_by_text("This participant is not in your caseload.").wait_for(timeout=30_000)
        settle(page)
        assert page.locator('[data-testid="stDataFrame"]').count() == 0

        search.fill(mine["participant_id"].lower())
        search.press("Enter")
        page.locator('[data-testid="stDataFrame"]').wait_for(timeout=30_000)
        settle(page)
        assert page.get_by_text("not in your caseload").count() == 0
        assert_rendered_cleanly(page)

        page.goto(f"{dashboard_url}/person?pid={pid}", wait_until="domcontentloaded")
        named = " · ".join(part for part in (mine["participant_id"], mine["display_name"]) if part)
        page.locator("h3", has_text=named).wait_for(timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        assert theirs["participant_id"] not in page.content()
    finally:
        page.close()


def test_analyst_sees_data_health_and_no_person_pages(browser, dashboard_url, users, served_dir):
    page = open_logged_in(browser, f"{dashboard_url}/", users["analyst"])
    try:
        assert heading(page) == "Data health"
        page.get_by_text("Coverage by source and week").wait_for(timeout=30_000)
        page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        for section in (
            "Runs",
            "Freshness per source",
            "Quarantined files and rows",
            "Asset checks",
        ):
            assert page.get_by_role("heading", name=section).count() == 1, section
        assert page.get_by_text("Data as of").count() >= 1
        screenshot(page, "data-health.png")

        pid = someone_else(served_dir, "nobody")
        page.goto(f"{dashboard_url}/person?pid={pid}", wait_until="domcontentloaded")
        page.get_by_text("not available to an analyst").wait_for(timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == 0
        assert_rendered_cleanly(page)
    finally:
        page.close()
