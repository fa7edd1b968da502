"""The logged-in viewer of one browser session, the login form, and what every page starts with.

Pages call `open_page(page)` first: it checks the viewer's role may open the
page (the data-access layer checks again on every read), prints the title and
"Data as of …", and stops with an explanation when there is nothing to show.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import duckdb
import streamlit as st

from dashboards import queries
from pipelines.lib import audit
from pipelines.lib.users import User, UserError, UserStore

VIEWER_KEY = "viewer"
MAX_FAILED_LOGINS = 5
LOCKOUT_S = 60.0

# Failed logins per username across all sessions of this server process.
_failures: dict[str, list[float]] = {}
_failures_lock = threading.Lock()


def current_viewer() -> User | None:
    return st.session_state.get(VIEWER_KEY)


def log_out() -> None:
    st.session_state.pop(VIEWER_KEY, None)


def _locked_out(username: str, now: float) -> bool:
    with _failures_lock:
        recent = [t for t in _failures.get(username, []) if now - t < LOCKOUT_S]
        _failures[username] = recent
        return len(recent) >= MAX_FAILED_LOGINS


def _note_failure(username: str, now: float) -> None:
    with _failures_lock:
        _failures.setdefault(username, []).append(now)


def login_form() -> None:
    """The login form; on success the viewer is stored in the session and the app reruns."""
    st.title("steadyback")
    st.caption("Adherence and outcomes for the low-back-pain mobility program.")
    store = UserStore.at(queries.data_dir())
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    if not store.path.exists():
        st.info(
            "No dashboard users yet. Add one with\n\n"
            f"`steadyback users add --data-dir {queries.data_dir()} --username NAME "
            "--role program_manager --password-stdin`",
            icon="🔑",
        )
    if not submitted:
        return
    username = username.strip()
    now = time.monotonic()
    if _locked_out(username, now):
        st.error(
            f"Too many failed attempts for this username: try again in {LOCKOUT_S:.0f} seconds."
        )
        return
    try:
        user = store.verify(username, password)
    except UserError as error:
        st.error(f"The users file cannot be read: {error}")
        return
    if user is None:
        _note_failure(username, now)
        audit.record(
            queries.data_dir(), user=username, role=None, page="login", outcome="login_failed"
        )
        st.error("Unknown username or wrong password.")
        return
    audit.record(
        queries.data_dir(), user=user.username, role=user.role, page="login", outcome="login"
    )
    st.session_state[VIEWER_KEY] = user
    st.rerun()


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return str(value)


def data_as_of_text(snapshot: dict[str, Any]) -> str:
    return (
        f"Data as of **{snapshot['as_of']}** · run `{str(snapshot['run_id'])[:8]}` · "
        f"published {_when(snapshot['published_at'])}"
    )


def open_page(page: str, title: str, *, needs_snapshot: bool = True) -> tuple[User, dict | None]:
    """Authorise, print the page title and "Data as of …"; the viewer and the snapshot row.

    Stops the page with a clear message when the role may not open it, or when
    there is no snapshot and the page needs one.
    """
    st.title(title)
    try:
        viewer = queries.authorise(current_viewer(), page)
    except queries.AccessDenied as denied:
        st.error(str(denied), icon="🚫")
        st.stop()
    try:
        snapshot = queries.snapshot_info()
    except duckdb.Error as error:
        st.error(f"The published snapshot `{queries.snapshot_path()}` could not be read: {error}")
        st.stop()
    if snapshot is None:
        st.caption("Data as of: nothing published yet.")
        if needs_snapshot:
            st.info(queries.NO_SNAPSHOT_MESSAGE, icon="📭")
            st.caption(f"Looked for `{queries.snapshot_path()}`.")
            st.stop()
    else:
        st.caption(data_as_of_text(snapshot))
    return viewer, snapshot


def audit_person_view(viewer: User, page: str, pid: str, outcome: str = "viewed") -> None:
    """Append one audit event per person shown, not one per widget rerun of the same view."""
    key = (page, pid, outcome)
    if st.session_state.get("_audited") == key:
        return
    audit.record(
        queries.data_dir(),
        user=viewer.username,
        role=viewer.role,
        page=page,
        pid=pid,
        outcome=outcome,
    )
    st.session_state["_audited"] = key


def forget_audited_view() -> None:
    """Called when the page changes: coming back to a person is a new view."""
    st.session_state.pop("_audited", None)
