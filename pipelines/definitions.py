"""The Dagster code location: `dagster dev -m pipelines.definitions` (or `dg dev`)."""

import os

import dagster as dg

from pipelines.defs.automation import landing_sensor, nightly_refresh, refresh_job
from pipelines.defs.models import models
from pipelines.defs.publish import current_snapshot
from pipelines.defs.raw import raw_assets
from pipelines.defs.resources import SteadybackResource
from pipelines.defs.warehouse import warehouse
from pipelines.lib.layout import default_data_dir


def build_definitions(
    data_dir: str | os.PathLike | None = None, as_of: str | None = None
) -> dg.Definitions:
    root = os.fspath(data_dir) if data_dir is not None else str(default_data_dir().absolute())
    return dg.Definitions(
        assets=[*raw_assets, warehouse, models, current_snapshot],
        jobs=[refresh_job],
        schedules=[nightly_refresh],
        sensors=[landing_sensor],
        resources={"steadyback": SteadybackResource(data_dir=root, as_of=as_of)},
    )


defs = build_definitions()
