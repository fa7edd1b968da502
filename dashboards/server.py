"""The dashboard's web server: Streamlit's, plus the route that sets the sign-in cookie.

`steadyback serve` runs `streamlit run dashboards/server.py`; Streamlit finds
`app` below and serves `streamlit_app.py` with one more route
(`dashboards/session_cookie.py`). Its settings come from
`dashboards/.streamlit/config.toml` as for `streamlit_app.py` (the same folder).
`streamlit run dashboards/streamlit_app.py` still serves the dashboard, but
without the route: a login then lasts as long as its browser tab.
"""

import streamlit as st
from starlette.middleware import Middleware

from dashboards import preload, session_cookie
from pipelines.lib.layout import keep_private
from pipelines.lib.sign_in import idle_seconds

keep_private()  # first: nothing this server writes (sessions, audit log) is for others
idle_seconds()  # a bad STEADYBACK_SESSION_IDLE stops the server here, saying what is allowed

app = st.App(
    "streamlit_app.py",
    routes=session_cookie.routes(),
    middleware=[Middleware(preload.PreloadCharts)],
)
