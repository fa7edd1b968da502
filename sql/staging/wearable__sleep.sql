-- Wearable sleep episodes (and vendor daily totals) on the local day the sleep ended.
-- @not_null: pid, day, source, minutes_asleep
with source as (
    select sleep.*, files.entity, files.file_kind, files.file_period, files.cumulative
    from raw.wearable_sleep as sleep
    join staging.wearable__files as files using (file_sha256)
),

linked as (
    select
        source.*,
        links.pid,
        coalesce(source.start_utc, timezone(links.timezone, source.start_local)) as started_at,
        coalesce(source.end_utc, timezone(links.timezone, source.end_local)) as ended_at,
        -- a night belongs to the day it ends on; the vendor's own assignment wins
        coalesce(
            source.local_day,
            coalesce(source.end_local, timezone(links.timezone, source.end_utc))::date
        ) as day
    from source
    join staging.wearable__person_links as links
        on links.participant_id is not distinct from source.participant_id
        and links.fitbit_id is not distinct from source.fitbit_id
),

latest_export as (
    select *
    from linked
    qualify
        not cumulative
        or dense_rank() over (partition by pid, entity, file_kind, file_period, day order by exported_at desc, source_file desc) = 1
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
