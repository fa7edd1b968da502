"""Publish: swap in a read-only snapshot once the build is complete and its blocking checks passed."""

from importlib.metadata import version

import dagster as dg

from pipelines.lib.identities import publish_identities
from pipelines.lib.landing import LANDING_FINGERPRINT_TAG
from pipelines.lib.publish import publish
from pipelines.lib.warehouse import open_warehouse

from .resources import KeyRotation, SteadybackResource
from .statistics import STATISTICS
from .warehouse import SQL_TABLES


@dg.asset(
    key=["published", "current_snapshot"],
    deps=[
        *(dg.AssetKey(t.asset_key) for t in SQL_TABLES if t.schema == "marts"),
        *(dg.AssetKey(["models", s.name]) for s in STATISTICS),
    ],
    group_name="published",
    kinds={"duckdb"},
)
def current_snapshot(
    context: dg.AssetExecutionContext,
    steadyback: SteadybackResource,
    key_rotation: dg.ResourceParam[KeyRotation],
):
    """published/current.duckdb — what dashboards and analysts read; replaced atomically."""
    layout = steadyback.layout()
    layout.make_private()  # all the run wrote (and Dagster's storage) is its owner's alone
    with open_warehouse(layout, steadyback.pseudonym_key(key_rotation)) as con:
        snapshot = publish(
            layout,
            con,
            context.run.run_id,
            version("steadyback"),
            landing_fingerprint=context.run.tags.get(LANDING_FINGERPRINT_TAG),
            rotate_key=key_rotation.allowed,
        )
        people = publish_identities(layout, con, context.run.run_id)
    context.log.info(f"published {snapshot.path} (as of {snapshot.as_of})")
    context.log.info(f"access/identities.json: the identities of {people} people")
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(snapshot.path)),
            "as_of": snapshot.as_of or "",
            "tables": dg.MetadataValue.json(snapshot.tables),
        }
    )
