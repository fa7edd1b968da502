-- Wearable interval measurements (steps, active minutes, wear minutes) on each participant's local day,
-- after the export and granularity rules of docs/sources.md.
-- @not_null: pid, day, source, metric, value
-- @accepted_values: metric = steps, active_min, worn_min
with latest_export as (
    select * from staging.wearable__records where dataset = 'intervals'
),

-- one vendor may send the same day at several granularities (Fitabase daily, hourly, minute files):
-- counts come from the coarsest (the vendor's own total), wear evidence from the finest
per_entity as (
    select pid, source, metric, day, entity, max(duration_s) as coarsest, min(duration_s) as finest
    from latest_export
    group by all
),

chosen_entity as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by pid, source, metric, day order by -coarsest, entity
            ) as count_rank,
            min(finest) over (partition by pid, source, metric, day) as finest_of_day
        from per_entity
    )
    -- every file with the finest wear evidence counts (a quarter hour worn by either is worn)
    where case when metric = 'worn_min' then finest = finest_of_day else count_rank = 1 end
),

final as (
    select
        e.pid,
        e.day,
        e.source,
        e.device,
        e.metric,
        coalesce(e.start_utc::varchar, e.start_local::varchar, e.day::varchar) as start_key,
        e.duration_s,
        e.value,
        e.entity,
        e.source_file
    from latest_export as e
    semi join chosen_entity as c using (pid, source, metric, day, entity)
)

select * from final
