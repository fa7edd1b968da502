"""steadyback dashboard entry script: page config, shared sidebar, navigation.

Run with `steadyback serve --data-dir DIR` or
`STEADYBACK_DATA_DIR=DIR streamlit run dashboards/streamlit_app.py`.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import streamlit as st

from dashboards import queries


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="minutes")
    return str(value)


st.set_page_config(page_title="steadyback", page_icon="🧘", layout="wide")

page = st.navigation(
    [
        st.Page("app_pages/cohort.py", title="Cohort", url_path="cohort", default=True),
        st.Page("app_pages/person.py", title="Person", url_path="person"),
    ]
)

try:
    snapshot = queries.snapshot_info()
except duckdb.Error as error:
    st.title(page.title)
    st.error(f"The published snapshot `{queries.snapshot_path()}` could not be read: {error}")
    st.stop()

with st.sidebar:
    st.caption(f"Data directory: `{queries.data_dir()}`")
    if snapshot is None:
        st.caption("No published snapshot.")
    else:
        st.caption(
            f"Data as of **{snapshot['as_of']}** (run `{str(snapshot['run_id'])[:8]}`, "
            f"published {_when(snapshot['published_at'])})"
        )

if snapshot is None:
    st.title(page.title)
    st.info(queries.NO_SNAPSHOT_MESSAGE, icon="📭")
    st.caption(f"Looked for `{queries.snapshot_path()}`.")
    st.stop()

page.run()
