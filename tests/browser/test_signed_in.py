"""Signed in across reloads and tabs, in a real Chromium against `steadyback serve`.

A coach opens a participant from a bookmark or a second tab dozens of times a
day: a reload or a new tab keeps them signed in, on the page they asked for,
while signing out in one tab, removing the user, a tampered cookie or one idle
past the idle time end it. Cookies are read from (and put into) the browser
context, as the browser keeps them.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from live_server import chromium, free_port, serving

from dashboards.session_cookie import COOKIE_NAME
from pipelines.lib import audit
from pipelines.lib.users import UserStore

pytestmark = pytest.mark.browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "signed-in-test-password"
SHORT_IDLE_S = 8
SIGNED_IN = '[data-testid="stSidebar"] >> text=Log out'


def copy_published(source: Path, into: Path) -> Path:
    """A data dir of its own (users are removed here): the snapshot and the identities."""
    shutil.copytree(source / "published", into / "published")
    (into / "access").mkdir(mode=0o700)
    shutil.copy(source / "access" / "identities.json", into / "access" / "identities.json")
    return into


def pids(data_dir: Path) -> list[str]:
    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        rows = connection.execute("select pid from marts.participants order by 1").fetchall()
        return [pid for (pid,) in rows]
    finally:
        connection.close()


def serve(data_dir: Path, log_dir: Path, *extra: str) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(data_dir)]
    command += ["--port", str(port), *extra]
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("STEADYBACK_SESSION_IDLE", None)
    log_path = log_dir / "server.log"
    with serving(command, port, log_path, PROJECT_ROOT, env) as url:
        yield url
    server_log = log_path.read_text()
    assert "Traceback" not in server_log, server_log
    secret = data_dir / "access" / "session_secret"
    assert not secret.exists() or secret.read_text().strip() not in server_log


@pytest.fixture(scope="module")
def data_dir(published_data_dir, tmp_path_factory) -> Path:
    return copy_published(published_data_dir, tmp_path_factory.mktemp("signed in"))


@pytest.fixture(scope="module")
def url(data_dir, tmp_path_factory) -> Iterator[str]:
    """`steadyback serve` with the default idle time (8 h)."""
    yield from serve(data_dir, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def context(browser):
    """One browser profile: its tabs share cookies, as a person's browser does."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        yield context
    finally:
        context.close()


def user(data_dir: Path, username: str, role: str = "program_manager"):
    return UserStore.at(data_dir).add(username, role, PASSWORD, replace=True)


def settle(page) -> None:
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=30_000)
    page.wait_for_timeout(300)


def log_in(page, username: str) -> None:
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector(SIGNED_IN, timeout=30_000)
    settle(page)


def open_tab(context, url: str):
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    return page


def signed_in(page) -> bool:
    """Wait until the page shows either the signed-in sidebar or the login form; which one."""
    log_in_button = page.get_by_role("button", name="Log in", exact=True)
    page.locator(SIGNED_IN).or_(log_in_button).first.wait_for(timeout=30_000)
    settle(page)
    return page.locator(SIGNED_IN).count() == 1 and page.get_by_label("Password").count() == 0


def session_cookie(context, timeout_s: float = 15) -> dict:
    """The sign-in cookie as the browser keeps it (set by the page's exchange after a login)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = [c for c in context.cookies() if c["name"] == COOKIE_NAME]
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {COOKIE_NAME} cookie within {timeout_s} s: {context.cookies()}")


def cookie_gone(context, timeout_s: float = 15) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not [c for c in context.cookies() if c["name"] == COOKIE_NAME]:
            return True
        time.sleep(0.2)
    return False


def with_cookie(browser, url: str, value: str):
    """A fresh browser profile holding only this sign-in cookie (copied, or forged)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies(
        [
            {
                "name": COOKIE_NAME,
                "value": value,
                "url": url,
                "httpOnly": True,
                "sameSite": "Strict",
                "expires": time.time() + 3600,
            }
        ]
    )
    return context


def events(data_dir: Path, username: str, outcome: str) -> list[audit.AuditEvent]:
    return [e for e in audit.read(data_dir) if e.user == username and e.outcome == outcome]


def heading(page) -> str:
    return page.locator("h1").first.inner_text().strip()


# --- staying signed in ---------------------------------------------------------------------------


def test_a_reload_and_a_bookmarked_person_in_a_new_tab_stay_signed_in(context, url, data_dir):
    ana = user(data_dir, "ana-tabs")
    first, bookmarked = pids(data_dir)[:2]

    page = open_tab(context, f"{url}/person?pid={first}")  # not signed in yet: the form
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    log_in(page, ana.username)
    assert heading(page) == "Person" and f"pid={first}" in page.url  # landed where it asked

    cookie = session_cookie(context)
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http here: Secure comes with https
    assert cookie["path"] == "/"
    assert 0 < cookie["expires"] - time.time() <= 8 * 3600 + 60  # the idle time

    page.reload(wait_until="domcontentloaded")
    assert signed_in(page)
    assert heading(page) == "Person" and f"pid={first}" in page.url

    tab = open_tab(context, f"{url}/person?pid={bookmarked}")
    assert signed_in(tab)
    assert heading(tab) == "Person" and f"pid={bookmarked}" in tab.url
    tab.locator('[data-testid="stMetric"]').first.wait_for(
        timeout=30_000
    )  # drawn after the heading
    assert tab.locator('[data-testid="stMetric"]').count() >= 1  # the person's numbers
    assert [e.pid for e in events(data_dir, ana.username, "viewed")][-1] == bookmarked
    assert len(events(data_dir, ana.username, "session_resumed")) == 2  # the reload, the tab
    assert len(events(data_dir, ana.username, "login")) == 1


def test_a_role_lands_on_its_own_first_page_in_a_new_tab(context, url, data_dir):
    analyst = user(data_dir, "ana-analyst", role="analyst")
    page = open_tab(context, f"{url}/")
    log_in(page, analyst.username)
    session_cookie(context)

    tab = open_tab(context, f"{url}/")
    assert signed_in(tab)
    assert heading(tab) == "Data health" and tab.url.rstrip("/").endswith("/data-health")


def test_behind_an_https_proxy_on_this_machine_the_cookie_is_secure(context, url, data_dir):
    """nginx or Caddy on the same machine say `X-Forwarded-Proto: https` (docs/deploy.md);
    here the browser's requests get that header on their way to the server."""

    def as_if_proxied(route):
        route.continue_(headers={**route.request.headers, "x-forwarded-proto": "https"})

    context.route("**/_steadyback/session", as_if_proxied)
    fay = user(data_dir, "fay-https")
    page = open_tab(context, f"{url}/cohort")
    with page.expect_response("**/_steadyback/session", timeout=30_000) as answer:
        log_in(page, fay.username)

    cookie = answer.value.header_value("set-cookie")
    assert cookie.startswith(f"{COOKIE_NAME}=")
    assert {"Secure", "HttpOnly", "SameSite=strict", "Path=/"} <= {
        part.strip() for part in cookie.split(";")
    }


# --- and how it ends --------------------------------------------------------------------------------


def test_signing_out_in_one_tab_signs_the_other_out_at_its_next_click(
    browser, context, url, data_dir
):
    ben = user(data_dir, "ben-two-tabs")
    first = open_tab(context, f"{url}/cohort")
    log_in(first, ben.username)
    cookie = session_cookie(context)
    second = open_tab(context, f"{url}/cohort")
    assert signed_in(second)

    second.get_by_role("button", name="Log out").click()
    second.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    assert cookie_gone(context)  # the browser forgot it
    log_in(second, ben.username)  # back after lunch, in the second tab: a new session
    renewed = session_cookie(context)
    assert renewed["value"] != cookie["value"]

    first.locator('[data-testid="stSidebarNav"] a', has_text="Person").click()
    first.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    # the login form can be drawn while the run that draws it has not yet removed the old
    # page's elements (Streamlit drops stale elements when the run ends): wait for that
    first.locator(SIGNED_IN).wait_for(state="detached", timeout=30_000)
    settle(first)
    assert first.locator(SIGNED_IN).count() == 0
    assert first.locator('[data-testid="stMetric"], .js-plotly-plot').count() == 0
    # the first tab's sign-out left the newer login's cookie alone
    assert signed_in(open_tab(context, f"{url}/cohort"))

    # the signed-out cookie, kept by someone and brought back, opens nothing
    elsewhere = with_cookie(browser, url, cookie["value"])
    try:
        assert not signed_in(open_tab(elsewhere, f"{url}/cohort"))
    finally:
        elsewhere.close()
    assert [e.role for e in events(data_dir, ben.username, "logout")] == ["program_manager"]


def test_a_removed_users_cookie_is_refused(browser, context, url, data_dir):
    cora = user(data_dir, "cora-leaving")
    page = open_tab(context, f"{url}/cohort")
    log_in(page, cora.username)
    cookie = session_cookie(context)

    assert UserStore.at(data_dir).remove(cora.username)  # `steadyback users remove`

    assert not signed_in(open_tab(context, f"{url}/cohort"))  # a new tab
    page.locator('[data-testid="stSidebarNav"] a', has_text="Person").click()  # the open tab
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    user(data_dir, cora.username)  # added again, with the same password: a new account
    elsewhere = with_cookie(browser, url, cookie["value"])
    try:
        assert not signed_in(open_tab(elsewhere, f"{url}/cohort"))
    finally:
        elsewhere.close()
    assert events(data_dir, cora.username, "session_refused")


def test_a_tampered_cookie_is_refused_and_the_genuine_one_is_not(browser, context, url, data_dir):
    dan = user(data_dir, "dan-tampered")
    log_in(open_tab(context, f"{url}/cohort"), dan.username)
    value = session_cookie(context)["value"]
    sid, signature = value.rsplit(".", 1)
    other_sid = sid[:-1] + ("A" if sid[-1] != "A" else "B")
    # the first character: every bit of it counts (a base64 signature's last one has bits
    # the decoder ignores, so changing it may change nothing)
    other_signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    refused_before = len(events(data_dir, "(unknown)", "session_refused"))

    for forged in [f"{sid}.{other_signature}", f"{other_sid}.{signature}", sid, "garbage"]:
        forger = with_cookie(browser, url, forged)
        try:
            tab = open_tab(forger, f"{url}/cohort")
            assert not signed_in(tab), forged
            assert tab.locator('[data-testid="stMetric"], .js-plotly-plot').count() == 0
            assert cookie_gone(forger)  # and the browser is told to forget it
        finally:
            forger.close()
    assert len(events(data_dir, "(unknown)", "session_refused")) == refused_before + 4

    genuine = with_cookie(browser, url, value)  # the same way in, with the real cookie
    try:
        assert signed_in(open_tab(genuine, f"{url}/cohort"))
    finally:
        genuine.close()


@pytest.fixture(scope="module")
def short_idle_url(published_data_dir, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`steadyback serve --session-idle 8s` on a data dir of its own."""
    data_dir = copy_published(published_data_dir, tmp_path_factory.mktemp("short idle"))
    for url in serve(data_dir, tmp_path_factory.mktemp("serve"), "--session-idle", "8s"):
        yield url, data_dir


def test_a_cookie_idle_past_the_idle_time_is_refused(browser, context, short_idle_url):
    url, data_dir = short_idle_url
    eve = user(data_dir, "eve-idle")
    page = open_tab(context, f"{url}/cohort")
    log_in(page, eve.username)
    cookie = session_cookie(context)
    assert cookie["expires"] - time.time() <= SHORT_IDLE_S  # the browser drops it too

    time.sleep(SHORT_IDLE_S + 2)

    kept = with_cookie(browser, url, cookie["value"])  # kept past its max-age, brought back
    try:
        assert not signed_in(open_tab(kept, f"{url}/cohort"))
    finally:
        kept.close()
    page.locator('[data-testid="stSidebarNav"] a', has_text="Person").click()  # the open tab
    page.get_by_role("button", name="Log in").wait_for(timeout=30_000)
    assert events(data_dir, eve.username, "session_refused")


# --- a new tab starts loading the chart code with the page -----------------------------------

WEBSOCKET_CLOCK = """
window.__websocket_opened_at = null;
const OriginalWebSocket = window.WebSocket;
window.WebSocket = class extends OriginalWebSocket {
    constructor(...args) {
        super(...args);
        this.addEventListener('open', () => { window.__websocket_opened_at ??= performance.now(); });
    }
};
"""


def test_the_page_names_the_installed_chart_module_and_leaves_everything_else_alone(url):
    import urllib.request

    import streamlit

    from dashboards.preload import plotly_module

    module = plotly_module()
    assert module is not None, "the installed Streamlit has no single PlotlyChart module"
    with urllib.request.urlopen(f"{url}/person?pid=nobody") as response:
        html = response.read()
        assert int(response.headers["Content-Length"]) == len(html)
    assert html.count(f'<link rel="modulepreload" crossorigin href="{module}">'.encode()) == 1
    assert html.index(b"modulepreload") < html.index(b"</head>")
    installed = Path(streamlit.__file__).parent / "static" / module.removeprefix("./")
    with urllib.request.urlopen(f"{url}/{module.removeprefix('./')}") as response:
        assert response.read() == installed.read_bytes()  # scripts pass through untouched
    with urllib.request.urlopen(f"{url}/_stcore/health") as response:
        assert response.read() == b"ok"


def test_a_new_tab_fetches_the_chart_code_before_the_server_answers(context, url, data_dir):
    """Without the preload the browser asks for Plotly's module only once a chart has arrived
    over the websocket, so the request would start after the websocket opened."""
    ana = user(data_dir, "ana-preload")
    page = open_tab(context, f"{url}/cohort")
    log_in(page, ana.username)
    session_cookie(context)

    context.add_init_script(WEBSOCKET_CLOCK)
    tab = open_tab(context, f"{url}/cohort")
    assert signed_in(tab)
    tab.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)
    opened_at = tab.evaluate("window.__websocket_opened_at")
    requested = tab.evaluate(
        "performance.getEntriesByType('resource')"
        ".filter(r => r.name.includes('/PlotlyChart.')).map(r => r.startTime)"
    )
    assert opened_at is not None and len(requested) == 1, (opened_at, requested)
    assert requested[0] < opened_at
