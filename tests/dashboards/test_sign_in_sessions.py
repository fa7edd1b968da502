"""Sign-in sessions inside the app (AppTest: one AppTest is one browser tab, without cookies).

Every run checks the tab's sign-in session again, so what ends a session —
signing out in another tab, the idle time, a password reset — ends it at the
tab's next click. The cookie that carries a session into a new tab needs a real
browser: tests/browser/test_signed_in.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from page_harness import APP, PASSWORD, copy_published, log_in
from streamlit.testing.v1 import AppTest

from dashboards import session
from pipelines.lib import audit
from pipelines.lib.layout import DataDir
from pipelines.lib.sign_in import IDLE_ENV, Sessions
from pipelines.lib.users import UserStore

DATA_ELEMENTS = ("plotly_chart", "dataframe", "table", "metric", "download_button")


def tab(data_dir: Path, monkeypatch, username: str | None = None) -> AppTest:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    if username is not None:
        log_in(at, username)
    assert not at.exception, [e.value for e in at.exception]
    return at


def login_form_shown(at: AppTest) -> bool:
    return [t.label for t in at.text_input] == ["Username", "Password"]


def shows_data(at: AppTest) -> bool:
    return any(at.get(kind) for kind in DATA_ELEMENTS)


def events(data_dir: Path, username: str) -> list[tuple[str | None, str, str]]:
    return [(e.role, e.page, e.outcome) for e in audit.read(data_dir) if e.user == username]


@pytest.fixture
def fresh_failures(monkeypatch):
    monkeypatch.setattr(session, "login_attempts", {})


@pytest.mark.usefixtures("fresh_failures")
def test_signing_out_in_one_tab_signs_every_tab_of_the_user_out(dashboard_dir, monkeypatch):
    UserStore.at(dashboard_dir).add("sessions-pm", "program_manager", PASSWORD, replace=True)
    UserStore.at(dashboard_dir).add("sessions-other", "analyst", PASSWORD, replace=True)
    before = len(events(dashboard_dir, "sessions-pm"))
    first, second = (tab(dashboard_dir, monkeypatch, "sessions-pm") for _ in range(2))
    other = tab(dashboard_dir, monkeypatch, "sessions-other")
    assert not login_form_shown(first) and shows_data(first)
    assert Sessions.at(dashboard_dir).count("sessions-pm") == 2

    next(b for b in second.sidebar.button if b.label == "Log out").click().run()
    assert login_form_shown(second)
    assert Sessions.at(dashboard_dir).count("sessions-pm") == 0

    first.run()  # its next click
    assert login_form_shown(first) and not shows_data(first)
    other.run()  # someone else is not signed out
    assert not login_form_shown(other)
    assert events(dashboard_dir, "sessions-pm")[before:] == [
        ("program_manager", "login", "login"),
        ("program_manager", "login", "login"),
        ("program_manager", "session", "logout"),
        (None, "session", "session_refused"),
    ]


@pytest.mark.usefixtures("fresh_failures")
def test_a_session_idle_past_the_idle_time_ends_at_the_next_click(dashboard_dir, monkeypatch):
    monkeypatch.setenv(IDLE_ENV, "2s")
    UserStore.at(dashboard_dir).add("sessions-idle", "analyst", PASSWORD, replace=True)
    at = tab(dashboard_dir, monkeypatch, "sessions-idle")
    at.run()  # within the idle time
    assert not login_form_shown(at)

    time.sleep(2.2)
    at.run()

    assert login_form_shown(at) and not shows_data(at)
    assert events(dashboard_dir, "sessions-idle")[-1] == (None, "session", "session_refused")


@pytest.mark.usefixtures("fresh_failures")
def test_a_password_reset_signs_the_open_tab_out(dashboard_dir, monkeypatch):
    store = UserStore.at(dashboard_dir)
    store.add("sessions-reset", "analyst", PASSWORD, replace=True)
    at = tab(dashboard_dir, monkeypatch, "sessions-reset")
    assert not login_form_shown(at)

    store.add("sessions-reset", "analyst", "a brand new password", replace=True)
    at.run()

    assert login_form_shown(at) and not shows_data(at)
    log_in(at, "sessions-reset", "a brand new password")
    assert not login_form_shown(at)


@pytest.mark.usefixtures("fresh_failures")
def test_without_a_sessions_file_to_write_nobody_is_signed_in(dashboard_dir, monkeypatch, tmp_path):
    """Fail closed, plainly: the form says signing in is not possible, the log says why."""
    data_dir = copy_published(dashboard_dir, tmp_path / "data", identities=False)
    DataDir.at(data_dir).sign_in_sessions.mkdir()  # cannot be read nor replaced

    at = tab(data_dir, monkeypatch, "pm")

    assert [e.value for e in at.error] == [session.SESSIONS_UNAVAILABLE]
    assert login_form_shown(at) and not shows_data(at)
    assert str(data_dir) not in " ".join(e.value for e in at.error)
