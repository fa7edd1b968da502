"""Every icon the dashboards show, as a Streamlit Material Symbol (`:material/name:`).

Streamlit ships the Material Symbols font with its front end, so these draw the same on any
machine; an emoji needs an emoji font, and where none is installed (a locked-down clinic PC,
a server's headless browser) it shows as an empty box. Use these for `icon=` parameters and
inside captions and messages (`f"{icons.SUPPRESSED} …"`); tests/dashboards/test_no_emoji.py
fails on any emoji in the dashboards' sources or in what a page sends to the browser.
"""

from __future__ import annotations

from dashboards.chart_style import SEVERITY_THEME

APP = ":material/self_improvement:"
PAGES = {
    "cohort": ":material/groups:",
    "caseload": ":material/assignment_ind:",
    "person": ":material/person:",
    "data-health": ":material/monitor_heart:",
}

SUPPRESSED = ":material/lock:"  # a figure left out: it would describe too few people
NOTHING_YET = ":material/inbox:"  # nothing published, nobody assigned, no estimates
NOT_FOUND = ":material/search_off:"  # no such participant, nobody matches a filter
REFUSED = ":material/block:"  # the role or caseload does not allow it
IDENTITY = ":material/badge:"  # participant ids and names
RULES = ":material/rule:"  # the program rules a snapshot was built with
SIGN_IN = ":material/key:"
ALL_CLEAR = ":material/check_circle:"
WARNING = ":material/warning:"
FAILED = ":material/error:"
RUN_HISTORY = ":material/history:"
UNREADABLE_FILES = ":material/folder_off:"
RISK = ":material/trending_down:"  # the early warning: risk of stopping
DIGEST = ":material/mail:"  # the weekly coach digest and its deliveries

RUN_STATUS = {
    "success": ALL_CLEAR,
    "failure": FAILED,
    "canceled": ":material/cancel:",
    "canceling": ":material/cancel:",
    "started": ":material/hourglass_top:",
    "starting": ":material/hourglass_top:",
    "queued": ":material/schedule:",
    "not_started": ":material/schedule:",
}
"""A Dagster run's status (lower case) → its icon; `RUN_STATUS_OTHER` for any other."""
RUN_STATUS_OTHER = ":material/pending:"

SEVERITY = {"alert": FAILED, "warning": WARNING, "info": ":material/info:"}
"""A flag's severity → its icon (docs/metrics.md, Flags), most urgent first."""


def severity_mark(severity: str) -> str:
    """The severity's icon in its colour, as markdown (captions, help, messages)."""
    return f":{SEVERITY_THEME[severity]}[{SEVERITY[severity]}]"
