-- Resting heart rate and heart-rate variability per participant and local day, from the preferred source.
-- @unique: pid, day, metric
-- @accepted_values: metric = resting_hr, hrv_ms
with latest_export as (
    select * from staging.wearable__records where dataset = 'vitals'
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
