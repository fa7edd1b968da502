"""The statistics: Python models over the marts, written to the `models` schema in one step (one writer)."""

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import dagster as dg
import duckdb
import polars as pl

from pipelines.lib.rules import read_recorded_rules
from pipelines.lib.statistics.panels import adherence_and_pain_change, daily_panel, weekly_panel
from pipelines.lib.statistics.retention import engagement_spells, kaplan_meier
from pipelines.lib.warehouse import open_warehouse

from .resources import KeyRotation, SteadybackResource

# The model fits need scipy (~1 s to import): only the step that fits imports them, not every
# process that loads the code location (each step of a daemon run, `steadyback run`, the UI).
if TYPE_CHECKING:
    from pipelines.lib.statistics.early_warning import EarlyWarning
    from pipelines.lib.statistics.mixed import PainModels


class StatisticInputs:
    """What the models read in one step; the pain models are fitted once for both tables.

    `rules` are the ones the warehouse recorded when it built the marts (`meta.rules`), so the
    statistics of a run apply the same rules as its SQL.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        applied = read_recorded_rules(con)
        if not applied.recorded:
            raise RuntimeError(
                "the warehouse records no program rules (meta.rules; built by an older "
                "steadyback): run the whole `refresh` job (`steadyback run`) to rebuild it"
            )
        self.rules = applied.rules

    @cached_property
    def pain_models(self) -> "PainModels":
        from pipelines.lib.statistics.mixed import fit_pain_models

        return fit_pain_models(daily_panel(self.con), weekly_panel(self.con))

    @cached_property
    def early_warning(self) -> "EarlyWarning":
        from pipelines.lib.statistics.disengagement import warning_inputs
        from pipelines.lib.statistics.early_warning import early_warning

        return early_warning(warning_inputs(self.con), self.rules)


@dataclass(frozen=True)
class Statistic:
    name: str
    description: str
    reads: tuple[str, ...]  # asset keys as "schema/table"
    fit: Callable[[StatisticInputs], pl.DataFrame]


_PANELS = ("marts/participant_day", "marts/participant_week")


def _dose_response(inputs: StatisticInputs) -> pl.DataFrame:
    from pipelines.lib.statistics.dose_response import dose_response

    return dose_response(adherence_and_pain_change(inputs.con), inputs.rules)


_EARLY_WARNING = (
    "marts/participant_day",
    "marts/sessions",
    "marts/principles",
    "marts/participants",
    "marts/engagement_spells",
)

STATISTICS = (
    Statistic(
        "cohort_effects",
        "Within- and between-person effects of sleep, consistency and steps on pain (mixed models)",
        _PANELS,
        lambda inputs: inputs.pain_models.cohort_effects(),
    ),
    Statistic(
        "person_effects",
        "Each person's own sleep and consistency effects, shrunk toward the cohort",
        _PANELS,
        lambda inputs: inputs.pain_models.person_effects(inputs.rules),
    ),
    Statistic(
        "dose_response",
        "Pain change (latest − baseline weekly mean) by adherence band, with 95 % CIs",
        ("marts/outcomes", "marts/participant_week"),
        _dose_response,
    ),
    Statistic(
        "retention",
        "Kaplan–Meier: share still engaged (no disengagement gap without practice, meta.rules) "
        "by days since enrolment",
        ("marts/engagement_spells",),
        lambda inputs: kaplan_meier(engagement_spells(inputs.con)),
    ),
    Statistic(
        "disengagement_risk",
        "Early warning: per person and completed week, the probability of a disengagement spell "
        "within the horizon, its band and reasons (the validated model, or the baseline rule)",
        _EARLY_WARNING,
        lambda inputs: inputs.early_warning.risk,
    ),
    Statistic(
        "disengagement_model",
        "Early warning: which model this run published and why, with the held-out validation "
        "of model and baseline",
        _EARLY_WARNING,
        lambda inputs: inputs.early_warning.model,
    ),
    Statistic(
        "disengagement_calibration",
        "Early warning: predicted against observed on the held-out cohorts, model and baseline",
        _EARLY_WARNING,
        lambda inputs: inputs.early_warning.calibration,
    ),
)


def write_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    con.register("model_frame", frame.to_arrow())
    try:
        con.execute(f"create or replace table models.{table} as select * from model_frame")
    finally:
        con.unregister("model_frame")
    return frame.height


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key=["models", model.name],
            deps=[dg.AssetKey(key.split("/")) for key in model.reads],
            group_name="models",
            description=model.description,
            kinds={"python", "duckdb"},
            skippable=True,
        )
        for model in STATISTICS
    ],
    name="statistics",
    can_subset=True,
)
def statistics(
    context: dg.AssetExecutionContext,
    steadyback: SteadybackResource,
    key_rotation: dg.ResourceParam[KeyRotation],
):
    """Fit every selected model on the marts and write its table."""
    with open_warehouse(steadyback.layout(), steadyback.pseudonym_key(key_rotation)) as con:
        inputs = StatisticInputs(con)
        for model in STATISTICS:
            key = dg.AssetKey(["models", model.name])
            if key not in context.selected_asset_keys:
                continue
            rows = write_table(con, model.name, model.fit(inputs))
            context.log.info(f"models.{model.name}: {rows} rows")
            yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows})
