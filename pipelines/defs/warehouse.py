"""The SQL layer: one asset per file in sql/, built in one step (DuckDB allows one writer)."""

import dagster as dg

from pipelines.lib.parsers import SOURCES
from pipelines.lib.pseudonym import errors_pseudonymized, key_fingerprint
from pipelines.lib.raw_identifiers import warehouse_mentions
from pipelines.lib.rules import record_rules, refuse_changed_rules_for_a_subset
from pipelines.lib.sql_catalog import SqlTable, load_checks, load_sql_tables
from pipelines.lib.warehouse import (
    build_table,
    evaluate_check,
    load_raw,
    open_warehouse,
    record_check_outcomes,
    set_run_parameters,
)

from .resources import KeyRotation, SteadybackResource

# raw table → the raw assets (sources) that write it
RAW_KEYS: dict[str, set[dg.AssetKey]] = {}
for _source in SOURCES:
    for _table in _source.outputs:
        RAW_KEYS.setdefault(f"raw.{_table}", set()).add(dg.AssetKey(["raw", _source.name]))
ALL_RAW_KEYS = {key for keys in RAW_KEYS.values() for key in keys}


def _upstream_keys(model: SqlTable) -> list[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for table in model.upstream:
        if table in RAW_KEYS:
            keys.update(RAW_KEYS[table])
        elif table.startswith("raw."):
            keys.update(ALL_RAW_KEYS)  # raw.files and raw.ingest_issues span every source
        else:
            keys.add(dg.AssetKey(table.split(".")))
    return sorted(keys, key=lambda k: k.to_user_string())


SQL_TABLES = load_sql_tables()
CHECKS = load_checks()

_specs = [
    dg.AssetSpec(
        key=model.asset_key,
        deps=_upstream_keys(model),
        group_name=model.schema,
        description=model.description,
        kinds={"duckdb", "sql"},
        metadata={
            "sql_file": dg.MetadataValue.path(str(model.path.relative_to(model.path.parents[2])))
        },
        skippable=True,
    )
    for model in SQL_TABLES
]
_check_specs = [
    dg.AssetCheckSpec(
        name=check.name,
        asset=dg.AssetKey(check.table.split(".")),
        description=check.description,
        blocking=check.blocking,
    )
    for check in CHECKS
]


@dg.multi_asset(specs=_specs, check_specs=_check_specs, name="warehouse", can_subset=True)
def warehouse(
    context: dg.AssetExecutionContext,
    steadyback: SteadybackResource,
    key_rotation: dg.ResourceParam[KeyRotation],
):
    """Load raw Parquet into DuckDB and build staging and marts, checking each table as it lands."""
    layout = steadyback.layout()
    selected = context.selected_asset_keys
    selected_checks = context.selected_asset_check_keys
    outcomes = []
    pseudonym_key = steadyback.pseudonym_key(key_rotation)
    rules = steadyback.program_rules()  # an invalid program.toml stops the step before it builds
    with open_warehouse(layout, pseudonym_key) as con:
        raw_counts = load_raw(con, layout)
        context.log.info(f"raw tables loaded: {raw_counts}")
        set_run_parameters(
            con, steadyback.as_of_date(), context.run.run_id, key_fingerprint(pseudonym_key)
        )
        if any(dg.AssetKey(table.asset_key) not in selected for table in SQL_TABLES):
            refuse_changed_rules_for_a_subset(con, rules)
        record_rules(con, rules)
        context.log.info(
            "program rules: " + ("; ".join(rules.changed_text()) or "all at their defaults")
        )
        # staging tables hold raw ids: a failure or a check's sample rows show them as pids
        mentions = warehouse_mentions(con, pseudonym_key)
        for model in SQL_TABLES:
            key = dg.AssetKey(model.asset_key)
            if key not in selected:
                continue
            with errors_pseudonymized(mentions):
                rows = build_table(con, model)
            context.log.info(f"{model.table}: {rows} rows")
            yield dg.MaterializeResult(asset_key=key, metadata={"dagster/row_count": rows})
            for check in CHECKS:
                check_key = dg.AssetCheckKey(key, check.name)
                if check.table != model.table or check_key not in selected_checks:
                    continue
                with errors_pseudonymized(mentions):
                    outcome = evaluate_check(con, check)
                outcomes.append(outcome)
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name=check.name,
                    passed=outcome.passed,
                    severity=dg.AssetCheckSeverity.ERROR
                    if check.blocking
                    else dg.AssetCheckSeverity.WARN,
                    metadata={
                        "failing_rows": outcome.failing_rows,
                        "sample": dg.MetadataValue.json(
                            [
                                {k: mentions.pseudonymized(v) for k, v in row.items()}
                                for row in outcome.sample
                            ]
                        ),
                    },
                )
        record_check_outcomes(con, outcomes)
