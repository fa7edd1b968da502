"""Statistics on the marts: mixed models, dose–response and retention (Dagster-free)."""
