"""What the dashboard server gives away before anyone logs in: where it listens, what the login
page shows, what an error shows — with real servers and a real Chromium.

The servers are started from a working directory whose `.streamlit/config.toml` asks for
the opposite of every setting (all interfaces, full error details, the developer toolbar,
the agent API), and `steadyback serve` also gets STREAMLIT_* variables asking for it: the
dashboard's own settings must win.
"""

from __future__ import annotations

import os
import platform
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit
from live_server import chromium, free_port, serving

from pipelines.lib.layout import DataDir
from pipelines.lib.users import UserStore

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
APP = PROJECT_ROOT / "dashboards" / "streamlit_app.py"
SERVER = PROJECT_ROOT / "dashboards" / "server.py"
PASSWORD = "exposure-test-password"
HOSTILE_CONFIG = """\
[server]
address = "0.0.0.0"
enableAgentApi = true
[client]
showErrorDetails = "full"
toolbarMode = "developer"
"""
HOSTILE_ENV = {
    "STREAMLIT_SERVER_ADDRESS": "0.0.0.0",
    "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS": "full",
    "STREAMLIT_CLIENT_TOOLBAR_MODE": "developer",
}


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on `port` (from /proc/net)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port_hex = fields[1].split(":")
            if fields[3] != "0A" or int(port_hex, 16) != port:  # 0A: LISTEN
                continue
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
            found.add(socket.inet_ntop(family, raw))
    return found


@pytest.fixture(scope="module")
def hostile_cwd(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("elsewhere")
    (folder / ".streamlit").mkdir()
    (folder / ".streamlit" / "config.toml").write_text(HOSTILE_CONFIG)
    return folder


@pytest.fixture(scope="module")
def data_dir(published_data_dir, tmp_path_factory) -> Path:
    """A published snapshot and no dashboard users yet."""
    root = tmp_path_factory.mktemp("exposure data")
    shutil.copytree(published_data_dir / "published", root / "published")
    return root


@pytest.fixture(scope="module")
def served(data_dir, hostile_cwd, tmp_path_factory) -> Iterator[tuple[str, int, Path]]:
    """`steadyback serve` with no --host: its URL, port and log."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("serve") / "server.log"
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(data_dir)]
    env = {**os.environ, **HOSTILE_ENV, "PYTHONPATH": str(PROJECT_ROOT)}
    with serving([*command, "--port", str(port)], port, log_path, hostile_cwd, env) as url:
        yield url, port, log_path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


def login_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url, wait_until="domcontentloaded")
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(800)
    return page


def server_details(data_dir: Path) -> list[str]:
    """Paths and versions a visitor has no business learning."""
    import dagster
    import duckdb

    return [
        str(DataDir.at(data_dir).root),
        str(PROJECT_ROOT),
        sys.prefix,
        str(Path.home()),
        streamlit.__version__,
        platform.python_version(),
        dagster.__version__,
        duckdb.__version__,
    ]


def assert_no_toolbar(page) -> None:
    assert page.get_by_role("button", name="Deploy").count() == 0
    assert page.get_by_text("Deploy", exact=True).count() == 0
    assert page.locator('[data-testid="stMainMenu"]').count() == 0  # "About" names versions


def test_serve_listens_on_loopback_only(served):
    _, port, _ = served
    assert listening_addresses(port) == {"127.0.0.1"}


def test_the_login_page_shows_nothing_about_the_server(browser, served, data_dir):
    url, _, _ = served
    page = login_page(browser, url)
    try:
        # drawn after the form: wait for it rather than count it at once (it once showed the path)
        page.get_by_text("No dashboard users yet").wait_for(timeout=30_000)
        html = page.content()
        assert [detail for detail in server_details(data_dir) if detail in html] == []
        assert_no_toolbar(page)
    finally:
        page.close()


def test_an_error_shows_a_plain_message_and_no_traceback(browser, served, data_dir):
    """The login cannot be audited (the log's path is a folder): the page fails, plainly."""
    url, _, log_path = served
    UserStore.at(data_dir).add("ana", "program_manager", PASSWORD)
    DataDir.at(data_dir).audit_log.mkdir(parents=True)
    page = login_page(browser, url)
    try:
        page.get_by_label("Username", exact=True).fill("ana")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        box = page.locator('[data-testid="stException"]')
        box.wait_for(timeout=30_000)
        shown = box.inner_text()
        assert "This app has encountered an error" in shown
        for detail in ("Traceback", "IsADirectoryError", 'File "', "audit.jsonl"):
            assert detail not in shown and detail not in page.content()
        assert [detail for detail in server_details(data_dir) if detail in page.content()] == []
        assert page.get_by_text("Log out").count() == 0
    finally:
        page.close()
        DataDir.at(data_dir).audit_log.rmdir()
    assert "IsADirectoryError" in log_path.read_text()  # the details are for the server's log


@pytest.mark.parametrize("script", [APP, SERVER], ids=["streamlit_app.py", "server.py"])
def test_the_documented_streamlit_run_command_is_loopback_only_too(
    browser, data_dir, hostile_cwd, tmp_path, script
):
    """`streamlit run dashboards/streamlit_app.py` (or `server.py`, the app with the sign-in
    cookie's route), as the module docstrings say, from any working directory: Streamlit
    applies the dashboard's own `.streamlit/config.toml`."""
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port)]
    env = {**os.environ, "STEADYBACK_DATA_DIR": str(data_dir), "PYTHONPATH": str(PROJECT_ROOT)}
    with serving(command, port, tmp_path / "server.log", hostile_cwd, env) as url:
        assert listening_addresses(port) == {"127.0.0.1"}
        page = login_page(browser, url)
        try:
            assert_no_toolbar(page)
        finally:
            page.close()
