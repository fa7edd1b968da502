"""Raw assets: one per landing source, each parsing its new files into Parquet."""

import dagster as dg

from pipelines.lib.layout import DataDir
from pipelines.lib.parsers import SOURCES, Source
from pipelines.lib.pseudonym import Mentions, errors_pseudonymized
from pipelines.lib.raw_store import ingest_source

from .resources import KeyRotation, ParseClusterResource, SteadybackResource


def folder_mentions(layout: DataDir, source: Source, key: bytes) -> Mentions:
    """The people of a per-person source's folders (landing/<source>/<participant_id>/)."""
    if not source.per_person:
        return Mentions([], key)
    return Mentions(layout.landing_store.folders(source.folder), key)


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
    def _raw(
        context: dg.AssetExecutionContext,
        steadyback: SteadybackResource,
        key_rotation: dg.ResourceParam[KeyRotation],
        parse_cluster: ParseClusterResource,
    ):
        # first: a run that will not be allowed to publish should not parse for minutes
        key = steadyback.pseudonym_key(key_rotation)
        steadyback.program_rules()  # nor one whose program.toml is invalid
        layout = steadyback.layout()
        with errors_pseudonymized(folder_mentions(layout, source, key)):
            results = ingest_source(
                layout, source, key, log=context.log.info, cluster=parse_cluster.cluster()
            )
        unreadable = [
            r.found.shown(f"{r.found.relative}: {r.error}", key)
            for r in results
            if r.status != "loaded"
        ]
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
