"""The dashboard served by `steadyback serve` and opened in a real headless Chromium.

Why: AppTest runs the scripts but never draws a chart. This starts the real server
on a free port against a published snapshot, loads /cohort and /person?pid=… in
Chromium, waits for Plotly to draw, checks that no Streamlit exception box appears
and saves screenshots (to docs/screenshots/ with STEADYBACK_SCREENSHOTS=docs/screenshots).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
# Screenshots for the docs are refreshed on request (STEADYBACK_SCREENSHOTS=docs/screenshots);
# a plain test run keeps them out of the work tree.
SCREENSHOTS = Path(
    os.environ.get("STEADYBACK_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / "steadyback-screenshots"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_healthy(url: str, server: subprocess.Popen, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {server.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout_s} s")


@pytest.fixture(scope="module")
def dashboard_url(published_data_dir: Path, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = dict(os.environ)
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipelines.cli",
                "serve",
                "--data-dir",
                str(published_data_dir),
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, server)
            yield url
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    server_log = log_path.read_text()
    assert "Traceback" not in server_log, server_log


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}, which is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMetric"]', timeout=30_000)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)
    return page


def settle(page) -> None:
    """Wait until the script run is over and Plotly has finished drawing."""
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(800)


def assert_rendered_cleanly(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Page not found").count() == 0


def screenshot(page, name: str) -> None:
    """Save the whole page: Streamlit scrolls inside its main block, so grow the viewport."""
    content_height = page.evaluate(
        "document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": 1400, "height": max(1000, content_height + 80)})
    page.wait_for_timeout(500)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))


def a_person_to_show(data_dir: Path) -> str:
    """An active participant if there is one (their calendar has days still to come)."""
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        return connection.execute(
            """
            select d.pid
            from marts.participant_day as d
            join marts.participants as p using (pid)
            group by d.pid, p.status
            order by p.status = 'active' desc,
                     count(*) filter (where d.day_state = 'done') desc,
                     d.pid
            limit 1
            """
        ).fetchone()[0]
    finally:
        connection.close()


def test_cohort_page_draws_adherence_chart(browser, dashboard_url):
    # Cohort is the default page: st.navigation serves it at the root, not at /cohort.
    page = open_page(browser, f"{dashboard_url}/")
    try:
        page.wait_for_selector(".js-plotly-plot .scatterlayer .trace", timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        assert page.get_by_text("Adherence by program week").count() == 1
        assert page.locator(".js-plotly-plot .shapelayer path").count() >= 1  # the 80 % line
        screenshot(page, "cohort.png")
    finally:
        page.close()


def test_person_page_draws_calendar_heatmap(browser, dashboard_url, published_data_dir):
    pid = a_person_to_show(published_data_dir)
    page = open_page(browser, f"{dashboard_url}/person?pid={pid}")
    try:
        page.wait_for_selector(".js-plotly-plot .heatmaplayer .hm", timeout=30_000)
        page.wait_for_selector(".js-plotly-plot .barlayer .trace", timeout=30_000)
        settle(page)
        assert_rendered_cleanly(page)
        assert page.locator(".js-plotly-plot").count() == 2
        assert "pid=" + pid in page.url
        screenshot(page, "person.png")
    finally:
        page.close()
