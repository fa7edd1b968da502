-- Workouts recorded by wearables, as sessions on the participant's local day; the same workout sent by two
-- devices counts once.
-- @unique: session_key
-- @not_null: session_key, pid, started_at, day, kind, duration_s
-- @accepted_values: kind = stretch, stability, breathing, walk, other
with latest_export as (
    select *, coalesce(start_utc, timezone(timezone, start_local)) as started_at
    from staging.wearable__records
    where dataset = 'workouts'
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
