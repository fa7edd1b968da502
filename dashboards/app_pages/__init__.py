"""Streamlit pages, run by `st.navigation` in `dashboards/streamlit_app.py`."""
