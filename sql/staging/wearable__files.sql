-- One row per wearable file content: what the export rules need to know of it (docs/sources.md, rule 1).
-- @unique: file_sha256
-- @not_null: file_sha256, entity, file_kind, cumulative
with files as (
    select * from staging.landing_files
),

final as (
    -- one row per content, even when the same bytes sit at two paths
    select
        files.file_sha256,
        min(files.entity) as entity,
        min(files.file_kind) as file_kind,
        min(files.file_period) as file_period,
        bool_and(sources.cumulative) as cumulative
    from files
    join raw.sources as sources using (entity)
    group by files.file_sha256
)

select * from final
