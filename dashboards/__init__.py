"""steadyback dashboards: a Streamlit app that reads only the published snapshot."""
