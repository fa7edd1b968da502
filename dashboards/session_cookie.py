"""The sign-in cookie: set by the dashboard's web server, never by a page's JavaScript.

A script run cannot set a cookie (it talks to the browser over a websocket), so
after a login it mints a *ticket*: 32 random bytes, good once, for
TICKET_TTL_S seconds, known only to this server process. The page then asks the
server's route `<base>/_steadyback/session` to exchange it (`exchange_script`);
the route answers with the cookie — HttpOnly (no script can read it),
SameSite=Strict (no other site's page or link sends it), Secure when the request
came over HTTPS (directly, or from a proxy on this machine saying
`X-Forwarded-Proto: https`), Max-Age the idle time — and the cookie value itself
never appears in a page. The same route, with DELETE, makes the browser forget it
when it names no live session (after signing out, or a refused cookie; a newer
login's cookie stays). `dashboards/server.py` serves the route beside Streamlit's.

Cross-site requests cannot use the route: both methods need a header that a page
of another site cannot send without the browser asking this server first
(a CORS preflight, which it never allows), and a browser's
`Sec-Fetch-Site` other than same-origin is refused.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pipelines.lib.layout import default_data_dir
from pipelines.lib.sign_in import SessionError, Sessions, idle_seconds
from pipelines.lib.users import UserError

COOKIE_NAME = "steadyback_session"
TICKET_HEADER = "X-Steadyback-Ticket"
FORGET_HEADER = "X-Steadyback-Forget"
TICKET_TTL_S = 60.0
ROUTE = "_steadyback/session"

_log = logging.getLogger(__name__)

# ticket -> (data dir, session id, expiry on the monotonic clock); this process only
_tickets: dict[str, tuple[str, str, float]] = {}
_tickets_lock = threading.Lock()


def base_path() -> str:
    """`/`, or `/<server.baseUrlPath>/` when the dashboard is served under a path."""
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def route_path() -> str:
    return base_path() + ROUTE


def issue_ticket(data_dir: str, sid: str) -> str:
    """A ticket the route exchanges, once, for the cookie of session `sid`."""
    ticket = secrets.token_urlsafe(32)
    now = time.monotonic()
    with _tickets_lock:
        for stale in [t for t, (_, _, until) in _tickets.items() if until <= now]:
            del _tickets[stale]
        _tickets[ticket] = (str(data_dir), sid, now + TICKET_TTL_S)
    return ticket


def redeem_ticket(ticket: str) -> tuple[str, str] | None:
    """(data dir, session id) for a ticket not yet used nor expired; it is used up."""
    with _tickets_lock:
        found = _tickets.pop(ticket, None)
    if found is None or found[2] <= time.monotonic():
        return None
    return found[0], found[1]


def ticket_pending(ticket: str) -> bool:
    """Whether a ticket is still to be exchanged: issued, not used, not expired."""
    with _tickets_lock:
        found = _tickets.get(ticket)
    return found is not None and found[2] > time.monotonic()


def exchange_script(ticket: str | None) -> str:
    """The page's side: exchange `ticket` for the cookie, or (None) make the browser forget it."""
    if ticket is None:
        method, headers = "DELETE", {FORGET_HEADER: "1"}
    else:
        method, headers = "POST", {TICKET_HEADER: ticket}
    options = {"method": method, "headers": headers, "credentials": "same-origin"}
    options |= {"cache": "no-store", "keepalive": True}
    return f"<script>fetch({json.dumps(route_path())}, {json.dumps(options)});</script>"


def session_endpoint(request: Request) -> Response:
    """POST: a ticket for the cookie; DELETE: forget the cookie. Answers carry no details."""
    refused = Response(status_code=403, headers={"Cache-Control": "no-store"})
    if request.headers.get("sec-fetch-site", "same-origin") != "same-origin":
        return refused
    answer = Response(status_code=204, headers={"Cache-Control": "no-store"})
    cookie = {"path": base_path(), "httponly": True, "samesite": "strict"}
    cookie["secure"] = request.url.scheme == "https"
    if request.method == "DELETE":
        if request.headers.get(FORGET_HEADER) != "1":
            return refused
        if not _live(request.cookies.get(COOKIE_NAME)):
            answer.delete_cookie(COOKIE_NAME, **cookie)
        return answer
    redeemed = redeem_ticket(request.headers.get(TICKET_HEADER, ""))
    if redeemed is None:
        return refused
    data_dir, sid = redeemed
    try:
        sessions = Sessions.at(data_dir)
        if not sessions.live(sid, idle_seconds()):  # ended (signed out) since the ticket was made
            return refused
        value = sessions.sign(sid)
        max_age = int(idle_seconds())
    except (SessionError, UserError) as error:
        _log.error("the sign-in cookie was not set: %s", error)
        return Response(status_code=503, headers={"Cache-Control": "no-store"})
    answer.set_cookie(COOKIE_NAME, value, max_age=max_age, **cookie)
    return answer


def _live(cookie: str | None) -> bool:
    """Whether the browser's cookie names a session that may go on: a tab signed out of
    an ended session must not make the browser forget the cookie of a newer login."""
    if not cookie:
        return False
    sessions = Sessions.at(default_data_dir())
    try:
        sid = sessions.unsign(cookie)
        return sid is not None and sessions.live(sid, idle_seconds())
    except (SessionError, UserError) as error:
        _log.error("the sign-in cookie could not be checked: %s", error)
        return False


def routes() -> list[Route]:
    return [Route(route_path(), session_endpoint, methods=["POST", "DELETE"])]
