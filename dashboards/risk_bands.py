"""How the pages say a person's risk of stopping: the early warning's band, why, and when it was
computed (docs/models.md, "Early warning of disengagement").

The bands and their order are `pipelines.lib.statistics.early_warning.BANDS`; which people have a
current prediction is `queries.early_warning` (its CURRENT_RISK_COLUMNS are the rows read here).
Every threshold comes from the snapshot's program rules.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pipelines.lib.rules import ProgramRules, percent_text
from pipelines.lib.statistics.early_warning import BANDS, BASELINE, HIGH, LOW, MODEL, RAISED

FINISHED = {"completed": "program completed", "withdrawn": "withdrawn from the program"}
"""`marts.participants.status` values after which nothing is predicted, in words."""
SCORER_NAMES = {
    MODEL: "the early-warning model (a logistic regression)",
    BASELINE: "the baseline rule (the week's adherence)",
}


def predicted_text(rules: ProgramRules) -> str:
    """What a probability is the probability of."""
    return (
        f"the chance that, within {rules.disengagement_horizon_days} days after the end of the "
        f"week, the person is in a {rules.disengagement_gap_days}-day gap without any completed "
        "session"
    )


def band_meanings(rules: ProgramRules, published: str | None) -> dict[str, str]:
    """Each band (BANDS order) in words, for the scorer the snapshot published."""
    if published == BASELINE:
        below = percent_text(rules.risk_baseline_adherence)
        return {
            HIGH: "not given by the baseline rule (it has one threshold)",
            RAISED: f"the week's adherence was below {below}",
            LOW: f"the week's adherence was {below} or more",
        }
    high, raised = (
        percent_text(p) for p in (rules.risk_high_probability, rules.risk_raised_probability)
    )
    return {
        HIGH: f"a probability of {high} or more",
        RAISED: f"from {raised} to below {high}",
        LOW: f"below {raised}",
    }


def computed_text(row: dict[str, Any]) -> str | None:
    """ "3 May 2026 (week 6)": the last day of the predicted week, and the week."""
    as_of: date | None = row["risk_as_of"]
    if as_of is None:
        return None
    return f"{as_of:%-d %b %Y} (week {row['risk_week']})"


def no_prediction_text(row: dict[str, Any], rules: ProgramRules, has_early_warning: bool) -> str:
    """Why a person has no current band (`row["risk_band"]` is null); `row` has their `status`
    too."""
    if not has_early_warning:
        return "no early warning in this snapshot (published by an older steadyback)"
    if row["status"] in FINISHED:
        return f"{FINISHED[row['status']]}: the early warning is for people still in the program"
    if row["latest_complete_week"] is None:
        return "no completed program week yet"
    if row["disengaged_on"] is not None:
        return (
            f"no longer predicted: a {rules.disengagement_gap_days}-day gap without a completed "
            f"session began on {row['disengaged_on']:%-d %b %Y}, and the early warning follows "
            "people only until their first such gap"
        )
    return f"no prediction for week {row['latest_complete_week']}, their latest completed week"


def why_text(row: dict[str, Any], rules: ProgramRules, has_early_warning: bool) -> str:
    """The reasons of the current band in plain words; "" for a low band (none are given);
    why there is no band when there is none."""
    if row["risk_band"] is None:
        return no_prediction_text(row, rules, has_early_warning)
    return row["risk_reasons"] or ""


def scorer_text(decision: dict[str, Any] | None, rules: ProgramRules) -> str:
    """Which scorer made the bands, what they mean and — when the model was not published — why."""
    if decision is None:
        return "This snapshot has no early warning (it was published by an older steadyback)."
    published = decision["published"]
    meanings = band_meanings(rules, published)
    bands = "; ".join(f"**{band}**: {meanings[band]}" for band in BANDS)
    if published == BASELINE:
        return (
            f"Bands from {SCORER_NAMES[BASELINE]}, not the model — {bands}. The model is not "
            f"published in this snapshot: {decision['reason']}."
        )
    return (
        f"Bands from {SCORER_NAMES.get(published, published)}, validated on later enrolment "
        f"cohorts: {predicted_text(rules)} — {bands}."
    )
