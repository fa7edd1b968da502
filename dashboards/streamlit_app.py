"""steadyback dashboard entry script: login, role-scoped navigation, shared sidebar.

Run with `steadyback serve --data-dir DIR` or
`STEADYBACK_DATA_DIR=DIR streamlit run dashboards/server.py` (this script plus the
route that sets the sign-in cookie; `streamlit run` of this script alone works too,
but a login then lasts as long as its tab). Either way Streamlit applies
`dashboards/.streamlit/config.toml` (beside this script, from any working
directory): loopback only, no error details, no Deploy button (docs/deploy.md).

Every page is registered for every viewer so that its URL (`/cohort`,
`/caseload`, `/person?pid=…`, `/data-health`) always resolves — a page the
viewer's role may not open says so instead of "Page not found" — but only the
role's own pages are listed in the navigation. `/` sends each role to its
first page.
"""

from __future__ import annotations

import threading

import streamlit as st

from dashboards import access, icons, session
from dashboards.snapshot import data_dir
from pipelines.lib.layout import keep_private

keep_private()  # first: nothing this server writes (audit log, users file) is for others
st.set_page_config(page_title="steadyback", page_icon=icons.APP, layout="wide")


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import what some pages need but is slow to import, in the background, once per server.

    The cohort models load scipy (~1 s) and Data health's run history Dagster
    (~2 s); done while the login form waits for typing, the first viewer after a
    server start does not wait for them.
    """

    def load() -> None:
        import dagster  # noqa: F401

        import pipelines.lib.statistics.dose_response  # noqa: F401
        import pipelines.lib.statistics.retention  # noqa: F401

    thread = threading.Thread(target=load, name="steadyback-warm-up", daemon=True)
    thread.start()
    return thread


# pandas first, in this thread: plotly and the warm-up's imports both load it, and two threads
# importing it at once can hand one of them a half-initialised module
import pandas  # noqa: E402, F401

warm_up()

viewer = session.current_viewer()
allowed = access.PAGES_BY_ROLE.get(viewer.role, ()) if viewer else ()

PAGE_FILES = {
    "cohort": "app_pages/cohort.py",
    "caseload": "app_pages/caseload.py",
    "person": "app_pages/person.py",
    "data-health": "app_pages/data_health.py",
}
pages = {
    name: st.Page(
        path,
        title=access.PAGE_TITLES[name],
        icon=icons.PAGES[name],
        url_path=name,
        visibility="visible" if name in allowed else "hidden",
    )
    for name, path in PAGE_FILES.items()
}


def home() -> None:
    """`/`: each role's first page."""
    if allowed:
        st.switch_page(pages[allowed[0]])
    st.error("Your account has no pages: ask an administrator to check its role.")


home_page = st.Page(home, title="Home", url_path="home", default=True, visibility="hidden")
ordered = (
    [home_page]
    + [pages[name] for name in allowed]
    + [page for name, page in pages.items() if name not in allowed]
)
page = st.navigation(ordered, position="sidebar" if viewer else "hidden")

if viewer is None:
    session.login_form()
    st.stop()

if st.session_state.get("_page") != page.url_path:
    session.forget_audited_view()
    st.session_state["_page"] = page.url_path

with st.sidebar:
    coach = f" · coach {viewer.coach_id}" if viewer.coach_id else ""
    st.caption(f"Logged in as **{viewer.username}** ({viewer.role.replace('_', ' ')}{coach})")
    if st.button("Log out"):
        session.log_out()
        st.rerun()
    st.caption(f"Data directory: `{data_dir()}`")
    session.sync_cookie()  # after a login, or a while in use: the browser's sign-in cookie

page.run()
