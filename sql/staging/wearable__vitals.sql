-- Resting heart rate and heart-rate variability per participant and local day, from the preferred source.
-- @unique: pid, day, metric
-- @accepted_values: metric = resting_hr, hrv_ms
with source as (
    select vitals.*, files.entity, files.file_kind, files.file_period, files.cumulative
    from raw.wearable_vitals as vitals
    join staging.wearable__files as files using (file_sha256)
),

linked as (
    select
        source.*,
        links.pid,
        coalesce(source.local_day, coalesce(source.start_local, timezone(links.timezone, source.start_utc))::date)
            as day
    from source
    join staging.wearable__person_links as links
        on links.participant_id is not distinct from source.participant_id
        and links.fitbit_id is not distinct from source.fitbit_id
    where source.value is not null and source.value > 0
),

latest_export as (
    select *
    from linked
    qualify
        case
            when cumulative then dense_rank() over (
                partition by pid, entity, file_kind, file_period, day order by exported_at desc, source_file desc
            ) = 1
            else row_number() over (
                partition by pid, entity, device, metric, start_utc, start_local, value
                order by exported_at desc, source_file
            ) = 1
        end
),

per_source as (
    select
        pid,
        day,
        case when metric = 'resting_hr' then 'resting_hr' else 'hrv_ms' end as metric,
        metric as measure,
        source,
        avg(value) as value
    from latest_export
    group by all
),

-- one source per metric and day: dedicated night-time measurers first
final as (
    select pid, day, metric, measure, source, round(value, 1) as value
    from per_source
    qualify row_number() over (
        partition by pid, day, metric
        order by
            list_position(['oura', 'apple_health', 'garmin', 'fitbit', 'omh', 'fitabase'], source)
                nulls last,
            source,
            measure
    ) = 1
)

select * from final
order by pid, day, metric
