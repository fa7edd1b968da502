-- Wearable sleep episodes (and vendor daily totals) on the local day the sleep ended.
-- @not_null: pid, day, source, minutes_asleep
with latest_export as (
    select
        *,
        coalesce(start_utc, timezone(timezone, start_local)) as started_at,
        coalesce(end_utc, timezone(timezone, end_local)) as ended_at
    from staging.wearable__records
    where dataset = 'sleep'
),

final as (
    select
        pid,
        day,
        source,
        device,
        episode_id,
        started_at,
        ended_at,
        minutes_asleep,
        minutes_in_bed,
        is_main,
        sleep_type,
        started_at is not null as is_episode,
        entity
    from latest_export
    where minutes_asleep is not null
    -- the same episode may come from two files of one vendor (e.g. re-exports): keep one
    qualify row_number() over (
        partition by pid, source, coalesce(episode_id, day::varchar || sleep_type)
        order by minutes_in_bed desc nulls last
    ) = 1
)

select * from final
order by pid, day, source, started_at
