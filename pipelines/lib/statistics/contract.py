"""The columns of the published `models.*` tables (docs/data-model.md), without the numerics.

The statistics build their tables with these schemas, and the dashboards take an empty
frame's columns from here (adding only their own `suppressed` flag), so importing a schema
never loads scipy or statsmodels.
"""

from __future__ import annotations

import polars as pl

COHORT_SCHEMA = {  # models.cohort_effects
    "term": pl.String,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "n_people": pl.Int64,
    "n_obs": pl.Int64,
    "unit": pl.String,
    "model": pl.String,
}
PERSON_SCHEMA = {  # models.person_effects
    "pid": pl.String,
    "term": pl.String,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "n_obs": pl.Int64,
}
RETENTION_SCHEMA = {  # models.retention
    "days_since_enrolment": pl.Int64,
    "at_risk": pl.Int64,
    "disengaged": pl.Int64,
    "censored": pl.Int64,
    "still_engaged": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}
DOSE_RESPONSE_SCHEMA = {  # models.dose_response
    "band_order": pl.Int64,
    "band": pl.String,
    "n_people": pl.Int64,
    "mean_pain_change": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
}
RISK_SCHEMA = {  # models.disengagement_risk
    "pid": pl.String,
    "week": pl.Int64,
    "as_of": pl.Date,
    "probability": pl.Float64,
    "band": pl.String,
    "reasons": pl.String,
    "model": pl.String,
}
DISENGAGEMENT_MODEL_SCHEMA = {  # models.disengagement_model
    "published": pl.String,
    "reason": pl.String,
    "horizon_days": pl.Int64,
    "gap_days": pl.Int64,
    "train_cohorts": pl.String,
    "test_cohorts": pl.String,
    "train_weeks": pl.Int64,
    "train_events": pl.Int64,
    "test_weeks": pl.Int64,
    "test_events": pl.Int64,
    "roc_auc_model": pl.Float64,
    "roc_auc_baseline": pl.Float64,
    "precision_top_model": pl.Float64,
    "precision_top_baseline": pl.Float64,
    "top_share": pl.Float64,
    "brier_model": pl.Float64,
    "brier_baseline": pl.Float64,
    "published_weeks": pl.Int64,
    "published_people": pl.Int64,
}
CALIBRATION_SCHEMA = {  # models.disengagement_calibration
    "scorer": pl.String,
    "bin": pl.Int64,
    "weeks": pl.Int64,
    "events": pl.Int64,
    "mean_predicted": pl.Float64,
    "observed_rate": pl.Float64,
}
