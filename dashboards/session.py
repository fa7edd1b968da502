"""The signed-in viewer of one browser session, the login form, and what every page starts with.

A login starts a sign-in session (pipelines/lib/sign_in.py) that the browser keeps
in a cookie (dashboards/session_cookie.py), so reloads and new tabs stay signed in;
every run checks it again against the users file.

Pages call `open_page(page)` first: it checks the viewer's role may open the
page (the data-access layer checks again on every read), prints the title and
"Data as of …", and stops with an explanation when there is nothing to show.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from datetime import datetime
from typing import Any, NamedTuple

import duckdb
import streamlit as st
from streamlit.errors import StreamlitAuthError

from dashboards import access, icons, session_cookie
from dashboards.snapshot import NO_SNAPSHOT_MESSAGE, data_dir, snapshot_info, snapshot_path
from pipelines.lib import audit
from pipelines.lib.sign_in import UNKNOWN_USER, Check, SessionError, Sessions, idle_seconds
from pipelines.lib.users import (
    DEMO_USERNAMES,
    User,
    UserError,
    UserStore,
    is_demo_login,
    snapshot_is_generated,
)

SIGNED_IN_KEY = "signed_in"
SSO_KEY = "viewer_via_sso"
COOKIE_TRIED_KEY = "_sign_in_cookie_tried"
"""This tab's first request's cookie, once tried: never tried again in this tab."""
COOKIE_KEY = "_sign_in_cookie_due"
"""What the browser's cookie needs next: a ticket to exchange for it, or None to forget it."""
MAX_FAILED_LOGINS = 5
"""Failed logins for one username, within FAILURE_WINDOW_S, that lock it out."""
FAILURE_WINDOW_S = 900.0
LOCKOUT_S = 300.0
"""How long a locked-out username stays locked, from its last failed login."""
SSO_BUTTON = "Log in with single sign-on"
DEMO_REFUSED = (
    "Demo logins work only on the generated demo cohort, and this dashboard is not "
    "showing it. Ask a steadyback administrator for an account."
)
SESSIONS_UNAVAILABLE = (
    "Signing in is not possible right now: the server cannot keep sign-in sessions. "
    "A steadyback administrator will find the reason in the dashboard server's log."
)
USERS_FILE_UNREADABLE = (
    "The users file cannot be read, so nobody can log in. "
    "A steadyback administrator will find the reason in the dashboard server's log."
)

_log = logging.getLogger(__name__)

login_attempts: dict[str, list[float]] = {}
"""Recent login attempts (monotonic times) per username across all sessions of this server
process: counted before the password is checked, cleared by a successful login."""
_failures_lock = threading.Lock()
_MAX_TRACKED_USERNAMES = 10_000


class SignedIn(NamedTuple):
    """This tab's sign-in session (pipelines/lib/sign_in.py)."""

    sid: str
    username: str
    role: str | None


def current_viewer() -> User | None:
    """The signed-in user as the users file has them now, or None (the login form).

    Checked on every call against the users file and the sign-in sessions
    (a small JSON read each, no hashing): a session signed out in another tab,
    idle too long, of a user removed, given another role or a new password since,
    ends here. A tab without a session of its own takes the one of its browser's
    sign-in cookie (a reload, a new tab, a bookmark) — tried once per tab.
    """
    signed_in = st.session_state.get(SIGNED_IN_KEY)
    resumed = signed_in is None
    if resumed:
        signed_in = _session_from_cookie()
        if signed_in is None:
            return None
    try:
        checked = _sessions().check(signed_in.sid, idle_seconds())
    except (SessionError, UserError) as error:
        _log.error("%s", error)
        checked = Check(None, "unreadable", signed_in.username)
    user = checked.user
    if user is not None and user.username in DEMO_USERNAMES and not _demo_data():
        try:  # a run published real data under a demo session
            _sessions().end_user(user.username)
        except SessionError as error:
            _log.error("%s", error)
        user, checked = None, Check(None, "demo login on real data", user.username)
    if user is None:
        username = checked.username or signed_in.username
        _log.info("sign-in session of %s refused: %s", username, checked.refusal)
        _audit_session(username, None, "session_refused")
        if resumed:  # never signed in in this tab: keep the asked page for after the login
            st.session_state[COOKIE_KEY] = None  # the browser forgets the cookie
        else:
            log_out(everywhere=False)
        return None
    if resumed:
        st.session_state[SIGNED_IN_KEY] = SignedIn(signed_in.sid, user.username, user.role)
        _audit_session(user.username, user.role, "session_resumed")
    if checked.touched and not st.session_state.get(SSO_KEY):
        st.session_state[COOKIE_KEY] = _ticket(signed_in.sid)  # renew the cookie's max-age
    return user


def _sessions() -> Sessions:
    return Sessions.at(data_dir())


def _session_from_cookie() -> SignedIn | None:
    """The session named by the sign-in cookie this tab's browser sent when it opened.

    Tried once per tab: a cookie that was refused, or whose session this tab has
    signed out of, stays in `st.context.cookies` (the first request's) until a reload.
    """
    cookie = st.context.cookies.get(session_cookie.COOKIE_NAME)
    if not isinstance(cookie, str) or not cookie:  # none (or no browser: AppTest)
        return None
    tried = hashlib.sha256(cookie.encode("utf-8")).hexdigest()
    if st.session_state.get(COOKIE_TRIED_KEY) == tried:
        return None
    st.session_state[COOKIE_TRIED_KEY] = tried
    try:
        sid = _sessions().unsign(cookie)
    except SessionError as error:
        _log.error("%s", error)
        sid = None
    if sid is None:
        _log.info("sign-in cookie refused: not signed with this server's session secret")
        _audit_session(UNKNOWN_USER, None, "session_refused")
        st.session_state[COOKIE_KEY] = None  # the browser forgets it
        return None
    return SignedIn(sid, UNKNOWN_USER, None)


def _audit_session(username: str, role: str | None, outcome: str) -> None:
    audit.record(data_dir(), user=username, role=role, page="session", outcome=outcome)


def _ticket(sid: str) -> str:
    return session_cookie.issue_ticket(str(data_dir()), sid)


def _sign_in(user: User, page: str) -> None:
    """Audit the login, start its sign-in session, and rerun signed in."""
    audit.record(data_dir(), user=user.username, role=user.role, page=page, outcome="login")
    try:
        sid = _sessions().start(user, idle_seconds())
    except SessionError as error:
        _log.error("%s", error)
        st.error(SESSIONS_UNAVAILABLE)
        st.stop()
    st.session_state[SIGNED_IN_KEY] = SignedIn(sid, user.username, user.role)
    if page == "login-sso":
        st.session_state[SSO_KEY] = True  # the identity provider's own cookie brings them back
    else:
        st.session_state[COOKIE_KEY] = _ticket(sid)
    st.rerun()


def sync_cookie() -> None:
    """Have the browser fetch or forget the sign-in cookie, when a run asked for it.

    An invisible element whose script calls the server's cookie route
    (`session_cookie.exchange_script`); drawn where this is called.
    """
    if COOKIE_KEY not in st.session_state:
        return
    ticket = st.session_state[COOKIE_KEY]
    if ticket is None:  # forget it: asked once, after signing out or a refused cookie
        del st.session_state[COOKIE_KEY]
    elif not session_cookie.ticket_pending(ticket):  # exchanged (or expired): done
        del st.session_state[COOKIE_KEY]
        return
    # A ticket is offered again on every run until the route has exchanged it: a run that
    # moves on to another page at once (`/` to the role's first page) never shows its element.
    st.html(session_cookie.exchange_script(ticket), unsafe_allow_javascript=True)


def log_out(everywhere: bool = True) -> None:
    """Forget everything of this session — the viewer, the person they had open, what was
    audited — so that whoever logs in next in this tab starts clean.

    `everywhere`: signing out, which ends every sign-in session of the user (their
    other tabs and browsers are signed out at their next click) and is audited.
    The browser forgets its sign-in cookie either way.
    """
    signed_in = st.session_state.get(SIGNED_IN_KEY)
    if everywhere and signed_in is not None:
        try:
            _sessions().end_user(signed_in.username)
        except SessionError as error:  # this tab is signed out all the same
            _log.error("signing out could not end the other sessions: %s", error)
        _audit_session(signed_in.username, signed_in.role, "logout")
    was_sso = st.session_state.get(SSO_KEY, False)
    tried = st.session_state.get(COOKIE_TRIED_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if tried is not None:
        st.session_state[COOKIE_TRIED_KEY] = tried
    st.session_state[COOKIE_KEY] = None
    st.query_params.clear()
    if was_sso:
        st.logout()  # else the identity provider's cookie logs them straight back in


def _begin_attempt(username: str) -> float:
    """Count a login attempt for `username` before its password is checked.

    Returns the seconds `username` is still locked out (the attempt is then not
    counted and must not be checked), else 0. Counting under the lock before the
    slow argon2 check is what bounds the checks: of any number of simultaneous
    attempts, at most MAX_FAILED_LOGINS per window get past here. A successful
    login clears the count.
    """
    with _failures_lock:
        now = time.monotonic()
        recent = [t for t in login_attempts.get(username, ()) if now - t < FAILURE_WINDOW_S]
        if len(recent) >= MAX_FAILED_LOGINS:
            remaining = recent[-1] + LOCKOUT_S - now
            if remaining > 0:
                return remaining
            recent = []  # served its time: a fresh count
        if len(login_attempts) >= _MAX_TRACKED_USERNAMES:  # bound the memory random usernames take
            for stale in [
                u for u, ts in login_attempts.items() if now - ts[-1] >= FAILURE_WINDOW_S
            ]:
                del login_attempts[stale]
        login_attempts[username] = [*recent, now]
        return 0.0


def _clear_failures(username: str) -> None:
    with _failures_lock:
        login_attempts.pop(username, None)


def sso_configured() -> bool:
    """Whether Streamlit's OIDC login is set up: an `[auth]` section in the secrets."""
    return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)


def _sso_account(store: UserStore, email: str) -> User | None:
    """The users-file entry for an e-mail address: exact username, else the same ignoring case."""
    user = store.get(email)
    if user is None:
        matches = [u for u in store.list() if u.username.lower() == email.lower()]
        user = matches[0] if len(matches) == 1 else None
    return user


def _sso_login(store: UserStore) -> bool:
    """Log in an OIDC-authenticated visitor through the users file; True when one is present.

    Their role comes from the users-file entry whose username is their e-mail
    address. Someone the identity provider knows but the users file does not
    gets no access (and no login form: they are already someone).
    """
    if not sso_configured() or st.user.get("is_logged_in") is not True:
        return False
    email = str(st.user.get("email") or "").strip()
    verified = st.user.get("email_verified") is True  # a provider must vouch for the address
    try:
        user = _sso_account(store, email) if email and verified else None
    except UserError as error:
        _log.error("%s", error)
        st.error(USERS_FILE_UNREADABLE)
        return True
    if user is not None and user.username in DEMO_USERNAMES and not _demo_data():
        user = None
    if user is None:
        if not st.session_state.get("_sso_refusal_audited"):
            audit.record(
                data_dir(),
                user=email or "(no e-mail)",
                role=None,
                page="login-sso",
                outcome="login_failed",
            )
            st.session_state["_sso_refusal_audited"] = True
        st.error(
            f"No steadyback access for {email or 'this account (no e-mail address was given)'}"
            + ("" if verified else " (the identity provider has not verified this e-mail address)")
            + ". Ask a steadyback administrator to add it as a user.",
            icon=icons.REFUSED,
        )
        if st.button("Log out of single sign-on"):
            st.logout()
        return True
    _sign_in(user, "login-sso")


def login_form() -> None:
    """The login form; on success a sign-in session starts and the app reruns."""
    st.title("steadyback")
    st.caption("Adherence and outcomes for the low-back-pain mobility program.")
    store = UserStore.at(data_dir())
    if _sso_login(store):
        return
    with st.form("login"):
        username = st.text_input("Username", key="login_username")
        password = st.text_input("Password", type="password", key="login_password")
        submitted = st.form_submit_button("Log in")
    sync_cookie()  # after signing out, or a refused cookie: the browser forgets it
    if not store.path.exists():
        st.info(
            "No dashboard users yet. An administrator adds one on the server with "
            "`steadyback users add --data-dir DIR --username NAME --role program_manager "
            "--password-stdin`.",
            icon=icons.SIGN_IN,
        )
    if sso_configured() and st.button(SSO_BUTTON):
        try:
            st.login()
        except StreamlitAuthError as error:
            _log.error("single sign-on: %s", error)
            st.error("Single sign-on is not set up correctly (the details are in the server log).")
    if not submitted:
        return
    username = username.strip()[:128]
    if is_demo_login(username, password) and not _demo_data():
        audit.record(data_dir(), user=username, role=None, page="login", outcome="login_failed")
        st.error(DEMO_REFUSED)
        return
    remaining = _begin_attempt(username)
    if remaining:
        audit.record(data_dir(), user=username, role=None, page="login", outcome="locked_out")
        minutes = math.ceil(remaining / 60)
        st.error(
            "Too many failed attempts for this username: try again in "
            f"{minutes} minute{'' if minutes == 1 else 's'}."
        )
        return
    try:
        user = store.verify(username, password)
    except UserError as error:
        _log.error("%s", error)
        st.error(USERS_FILE_UNREADABLE)
        return
    if user is None:
        audit.record(data_dir(), user=username, role=None, page="login", outcome="login_failed")
        st.error("Unknown username or wrong password.")
        return
    _clear_failures(username)
    _sign_in(user, "login")


def _demo_data() -> bool:
    """Whether the published snapshot is the generated cohort: demo logins work only then."""
    return snapshot_is_generated(data_dir())


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
        viewer = access.authorise(current_viewer(), page)
    except access.AccessDenied as denied:
        st.error(str(denied), icon=icons.REFUSED)
        st.stop()
    try:
        snapshot = snapshot_info()
    except duckdb.Error as error:
        st.error(f"The published snapshot `{snapshot_path()}` could not be read: {error}")
        st.stop()
    if snapshot is None:
        st.caption("Data as of: nothing published yet.")
        if needs_snapshot:
            st.info(NO_SNAPSHOT_MESSAGE, icon=icons.NOTHING_YET)
            st.caption(f"Looked for `{snapshot_path()}`.")
            st.stop()
    else:
        st.caption(data_as_of_text(snapshot))
    return viewer, snapshot


def audit_person_view(viewer: User, page: str, pid: str, outcome: str = "viewed") -> None:
    """Append one audit event per person shown, not one per widget rerun of the same view."""
    key = (viewer.username, page, pid, outcome)
    if st.session_state.get("_audited") == key:
        return
    audit.record(
        data_dir(),
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
