"""The route that sets the sign-in cookie: what it sets, and whom it refuses.

The endpoint is called with real Starlette requests; the browser tests
(tests/browser/test_signed_in.py) go through the served route in Chromium.
"""

from __future__ import annotations

import pytest
from starlette.requests import Request
from streamlit import config

from dashboards import session_cookie
from pipelines.lib.sign_in import IDLE_ENV, Sessions
from pipelines.lib.users import UserStore

PASSWORD = "correct horse battery"


@pytest.fixture
def sid(tmp_path, monkeypatch) -> str:
    monkeypatch.setenv(IDLE_ENV, "2h")
    user = UserStore.at(tmp_path).add("ana", "program_manager", PASSWORD)
    return Sessions.at(tmp_path).start(user, 7200.0)


def call(method: str, headers: dict[str, str], scheme: str = "http", cookie: str | None = None):
    if cookie is not None:
        headers = {**headers, "Cookie": f"{session_cookie.COOKIE_NAME}={cookie}"}
    scope = {
        "type": "http",
        "method": method,
        "scheme": scheme,
        "path": session_cookie.route_path(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "server": ("127.0.0.1", 8501),
    }
    return session_cookie.session_endpoint(Request(scope))


def set_cookie(response) -> str:
    [header] = response.headers.getlist("set-cookie")
    return header


def attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    return {p.split("=", 1)[0].lower(): (p.split("=", 1) + [""])[1] for p in parts[1:]}


def test_a_ticket_sets_a_signed_httponly_strict_cookie_for_the_idle_time(tmp_path, sid):
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)

    response = call("POST", {session_cookie.TICKET_HEADER: ticket})

    assert response.status_code == 204
    header = set_cookie(response)
    name, value = header.split(";")[0].split("=", 1)
    assert name == session_cookie.COOKIE_NAME
    assert Sessions.at(tmp_path).unsign(value) == sid
    assert attributes(header) == {
        "httponly": "",
        "samesite": "strict",
        "path": "/",
        "max-age": "7200",
    }
    assert response.headers["cache-control"] == "no-store"


def test_the_cookie_is_secure_when_the_request_came_over_https(tmp_path, sid):
    """Directly (server.sslCertFile) or from a proxy on this machine (X-Forwarded-Proto,
    which uvicorn applies for 127.0.0.1 only): either way the request's scheme is https."""
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    response = call("POST", {session_cookie.TICKET_HEADER: ticket}, scheme="https")
    assert "secure" in attributes(set_cookie(response))


def test_a_ticket_works_once(tmp_path, sid):
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    assert call("POST", {session_cookie.TICKET_HEADER: ticket}).status_code == 204

    again = call("POST", {session_cookie.TICKET_HEADER: ticket})
    assert again.status_code == 403
    assert "set-cookie" not in again.headers


def test_a_ticket_of_a_session_ended_since_sets_no_cookie(tmp_path, sid):
    """Signed out in another tab after the ticket was made: the browser must not get (and keep,
    over a newer login's) the cookie of a dead session."""
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    Sessions.at(tmp_path).end_user("ana")

    response = call("POST", {session_cookie.TICKET_HEADER: ticket})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_an_expired_ticket_is_refused(tmp_path, sid, monkeypatch):
    monkeypatch.setattr(session_cookie, "TICKET_TTL_S", 0.0)
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    assert call("POST", {session_cookie.TICKET_HEADER: ticket}).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [{}, {session_cookie.TICKET_HEADER: ""}, {session_cookie.TICKET_HEADER: "made-up"}],
    ids=["none", "empty", "made up"],
)
def test_no_cookie_without_a_ticket_the_server_issued(headers):
    response = call("POST", headers)
    assert response.status_code == 403 and "set-cookie" not in response.headers


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none"])
def test_a_request_from_another_site_is_refused_and_spends_no_ticket(tmp_path, sid, site):
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    headers = {session_cookie.TICKET_HEADER: ticket}

    refused = call("POST", {**headers, "Sec-Fetch-Site": site})
    assert refused.status_code == 403 and "set-cookie" not in refused.headers
    assert call("POST", {**headers, "Sec-Fetch-Site": "same-origin"}).status_code == 204


def test_forgetting_the_cookie_needs_the_header(tmp_path, monkeypatch):
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(tmp_path))
    assert call("DELETE", {}).status_code == 403

    response = call("DELETE", {session_cookie.FORGET_HEADER: "1"})
    assert response.status_code == 204
    header = set_cookie(response)
    assert header.startswith(f"{session_cookie.COOKIE_NAME}=")
    assert attributes(header)["max-age"] == "0"
    assert {"httponly", "samesite", "path"} <= attributes(header).keys()


def test_only_a_cookie_of_no_live_session_is_forgotten(tmp_path, sid, monkeypatch):
    """A tab signed out of an ended session asks to forget the cookie; the browser may by
    then hold the cookie of a newer login (in another tab), which stays."""
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(tmp_path))
    forget = {session_cookie.FORGET_HEADER: "1"}
    sessions = Sessions.at(tmp_path)
    live = sessions.sign(sid)

    kept = call("DELETE", forget, cookie=live)
    assert kept.status_code == 204 and "set-cookie" not in kept.headers

    sessions.end_user("ana")
    assert "set-cookie" in call("DELETE", forget, cookie=live).headers
    assert "set-cookie" in call("DELETE", forget, cookie=live[:-2] + "xx").headers


def test_under_a_base_path_the_route_and_the_cookie_follow_it(tmp_path, sid):
    before = config.get_option("server.baseUrlPath")
    config.set_option("server.baseUrlPath", "/steadyback/")
    try:
        assert session_cookie.route_path() == "/steadyback/_steadyback/session"
        assert [r.path for r in session_cookie.routes()] == [session_cookie.route_path()]
        ticket = session_cookie.issue_ticket(str(tmp_path), sid)
        response = call("POST", {session_cookie.TICKET_HEADER: ticket})
        assert attributes(set_cookie(response))["path"] == "/steadyback/"
    finally:
        config.set_option("server.baseUrlPath", before)


def test_the_page_script_carries_the_ticket_never_the_cookie(tmp_path, sid):
    ticket = session_cookie.issue_ticket(str(tmp_path), sid)
    script = session_cookie.exchange_script(ticket)

    assert ticket in script and session_cookie.route_path() in script
    assert Sessions.at(tmp_path).sign(sid) not in script and sid not in script
    assert '"method": "POST"' in script
    assert '"method": "DELETE"' in session_cookie.exchange_script(None)
