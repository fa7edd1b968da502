"""How the pages lay out a row of headline figures (`st.metric`).

In `st.columns(n)` every figure gets 1/n of the page whatever its length, and Streamlit
cuts a value that does not fit with "…" ("2026-12-02 20:33 …" in a third of a 1,024 px
window). A horizontal container instead gives each figure at least its own width and
wraps the row onto a second line when they do not all fit, so no value is ever cut
(tests/browser/test_dashboard_look.py measures it at 1,400 and 1,024 px).
"""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


def figure_row() -> DeltaGenerator:
    """A row for `.metric(...)` calls: figures share its width and wrap rather than shrink."""
    return st.container(horizontal=True, gap="medium")
