"""The Dagster code location: `dagster dev -m pipelines.definitions` (or `dg dev`)."""

import os

import dagster as dg

from pipelines.defs.automation import landing_sensor, nightly_refresh, refresh_job
from pipelines.defs.digest import coach_digest, coach_digest_schedule
from pipelines.defs.publish import current_snapshot
from pipelines.defs.raw import raw_assets
from pipelines.defs.resources import KeyRotation, ParseClusterResource, SteadybackResource
from pipelines.defs.statistics import statistics
from pipelines.defs.warehouse import warehouse
from pipelines.lib.layout import DataDir, default_data_dir, keep_private
from pipelines.lib.parse_cluster import SCHEDULER_ENV, configured_workers

# Before Dagster or DuckDB write anything (importing writes nothing): every process that
# loads this code location (code server, run worker, step processes) writes owner-only files.
keep_private()


def build_definitions(
    data_dir: str | os.PathLike | None = None,
    as_of: str | None = None,
    rotate_key: bool = False,
    landing: str | None = None,
    raw: str | None = None,
) -> dg.Definitions:
    """`rotate_key`: only for `steadyback run --rotate-key`; the code location below never rotates.

    landing/ and raw/: where given, else STEADYBACK_LANDING / STEADYBACK_RAW, else in the data
    dir; the Dask cluster: STEADYBACK_DASK_SCHEDULER (else a local one, STEADYBACK_DASK_WORKERS).
    """
    root = os.fspath(data_dir) if data_dir is not None else str(default_data_dir().absolute())
    layout = DataDir.configured(root, landing, raw)  # StorageError: a location it cannot use
    return dg.Definitions(
        assets=[*raw_assets, warehouse, statistics, current_snapshot],
        jobs=[refresh_job, coach_digest],
        schedules=[nightly_refresh, coach_digest_schedule],
        sensors=[landing_sensor],
        resources={
            "steadyback": SteadybackResource(
                data_dir=root,
                as_of=as_of,
                landing=layout.landing_location,
                raw=layout.raw_location,
            ),
            "key_rotation": KeyRotation(allowed=rotate_key),
            "parse_cluster": ParseClusterResource(
                scheduler=os.environ.get(SCHEDULER_ENV) or None, workers=configured_workers()
            ),
        },
    )


defs = build_definitions()
