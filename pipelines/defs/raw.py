"""Raw assets: one per landing entity, each parsing its new files into Parquet."""

import dagster as dg

from pipelines.lib.parsers import ENTITIES, Entity
from pipelines.lib.raw_store import ingest_entity

from .resources import SteadybackResource


def raw_asset(entity: Entity) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", entity.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"python", "parquet"},
        description=f"{entity.description} — parsed from landing/{', landing/'.join(entity.patterns)}",
        check_specs=[
            dg.AssetCheckSpec(
                "files_readable", asset=key, description="every landing file could be read"
            )
        ],
    )
    def _raw(context: dg.AssetExecutionContext, steadyback: SteadybackResource):
        results = ingest_entity(steadyback.layout(), entity, log=context.log.info)
        unreadable = [f"{r.landing.relative}: {r.error}" for r in results if r.status != "loaded"]
        return dg.MaterializeResult(
            metadata={
                "files": len(results),
                "files_parsed_now": sum(r.parsed_now for r in results),
                "rows_landed": sum(r.rows_landed for r in results),
                "rows_quarantined": sum(r.rows_quarantined for r in results),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name="files_readable",
                    passed=not unreadable,
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"quarantined_files": "\n".join(unreadable) or "none"},
                )
            ],
        )

    _raw.__name__ = f"raw_{entity.name}"
    return _raw


raw_assets = [raw_asset(entity) for entity in ENTITIES]
