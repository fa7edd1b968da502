"""When runs happen: on new or changed exports in landing/, and every night."""

import json
import os

import dagster as dg

from pipelines.lib.landing import LANDING_FINGERPRINT_TAG, landing_fingerprint
from pipelines.lib.publish import published_landing_fingerprint

from .resources import SteadybackResource

# Runs carrying this tag queue behind each other (dagster.yaml limits it to 1):
# the warehouse file has one writer.
WAREHOUSE_TAG = {"steadyback/warehouse": "write"}

refresh_job = dg.define_asset_job(
    "refresh",
    selection=dg.AssetSelection.all(),
    description="Ingest landing/, build the warehouse, check it and publish the snapshot.",
    tags=WAREHOUSE_TAG,
)

nightly_refresh = dg.ScheduleDefinition(
    name="nightly_refresh",
    job=refresh_job,
    cron_schedule="0 2 * * *",
    execution_timezone=os.environ.get("STEADYBACK_SCHEDULE_TIMEZONE", "UTC"),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Rebuild every night at 02:00, so day states and flags move on even without new exports.",
)


@dg.sensor(
    job=refresh_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_sensor(context: dg.SensorEvaluationContext, steadyback: SteadybackResource):
    """Start one run when files in landing/ are added, changed or removed, once copying has settled."""
    layout = steadyback.layout()
    fingerprint, files = landing_fingerprint(layout.landing_store)
    state = json.loads(context.cursor) if context.cursor else {}
    if not state and fingerprint == published_landing_fingerprint(layout.snapshot):
        # a fresh sensor (new instance, or just switched on) beside an up-to-date snapshot
        context.update_cursor(json.dumps({"seen": fingerprint, "submitted": fingerprint}))
        return dg.SkipReason(f"landing/ ({files} files) is already published")
    if fingerprint == state.get("submitted"):
        return dg.SkipReason(f"no change in landing/ ({files} files) since the last run")
    if fingerprint != state.get("seen"):
        # wait one more tick: a copy still in progress would change the fingerprint again
        context.update_cursor(json.dumps({**state, "seen": fingerprint}))
        return dg.SkipReason(f"landing/ changed ({files} files); starting a run once it is stable")
    context.update_cursor(json.dumps({"seen": fingerprint, "submitted": fingerprint}))
    return dg.RunRequest(
        run_key=f"landing-{fingerprint[:16]}",
        tags={LANDING_FINGERPRINT_TAG: fingerprint, "steadyback/landing_files": str(files)},
    )
