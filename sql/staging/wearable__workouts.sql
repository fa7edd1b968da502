-- Workouts recorded by wearables, as sessions on the participant's local day; the same workout sent by two
-- devices counts once.
-- @unique: session_key
-- @not_null: session_key, pid, started_at, day, kind, duration_s
-- @accepted_values: kind = stretch, stability, breathing, walk, other
with source as (
    select workouts.*, files.entity, files.file_kind, files.file_period, files.cumulative
    from raw.wearable_workouts as workouts
    join staging.wearable__files as files using (file_sha256)
),

linked as (
    select
        source.*,
        links.pid,
        coalesce(source.start_utc, timezone(links.timezone, source.start_local)) as started_at,
        coalesce(source.start_local, timezone(links.timezone, source.start_utc)) as local_start
    from source
    join staging.wearable__person_links as links
        on links.participant_id is not distinct from source.participant_id
        and links.fitbit_id is not distinct from source.fitbit_id
    where source.duration_s is not null
),

dated as (
    select *, coalesce(local_day, local_start::date) as day from linked
),

latest_export as (
    select *
    from dated
    qualify row_number() over (
        partition by pid, source, workout_id order by exported_at desc, source_file desc
    ) = 1
),

-- two devices that recorded the same workout (overlapping in time): keep the longer record
deduplicated as (
    select a.*
    from latest_export as a
    where not exists (
        select 1
        from latest_export as b
        where b.pid = a.pid
            and b.source <> a.source
            and b.started_at < a.started_at + to_seconds(a.duration_s)
            and a.started_at < b.started_at + to_seconds(b.duration_s)
            and (b.duration_s > a.duration_s or (b.duration_s = a.duration_s and b.source < a.source))
    )
),

final as (
    select
        source || ':' || left(sha256(source || ':' || workout_id), 16) as session_key,
        pid,
        source,
        device,
        started_at,
        day,
        kind,
        activity,
        duration_s,
        distance_m,
        steps
    from deduplicated
)

select * from final
order by pid, started_at
