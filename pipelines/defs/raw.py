"""Raw assets: one per landing source, each parsing its new files into Parquet."""

import dagster as dg

from pipelines.lib.parsers import SOURCES, Source
from pipelines.lib.raw_store import ingest_source

from .resources import SteadybackResource


def raw_asset(source: Source) -> dg.AssetsDefinition:
    key = dg.AssetKey(["raw", source.name])

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"python", "parquet"},
        description=f"{source.description} — parsed from landing/{', landing/'.join(source.patterns)}",
        check_specs=[
            dg.AssetCheckSpec(
                "files_readable", asset=key, description="every landing file could be read"
            )
        ],
    )
    def _raw(context: dg.AssetExecutionContext, steadyback: SteadybackResource):
        results = ingest_source(steadyback.layout(), source, log=context.log.info)
        unreadable = [f"{r.found.relative}: {r.error}" for r in results if r.status != "loaded"]
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

    _raw.__name__ = f"raw_{source.name}"
    return _raw


raw_assets = [raw_asset(source) for source in SOURCES]
