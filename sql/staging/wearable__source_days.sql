-- One row per participant, local day and wearable source: steps, moderate-to-vigorous minutes and wear minutes.
-- @unique: pid, day, source
with intervals as (
    select * from staging.wearable__intervals
),

-- several recordings may cover the same quarter hour (a watch's activity and monitoring files):
-- a minute worn is counted once
wear as (
    select pid, day, source, sum(worn) as wear_minutes
    from (
        select pid, day, source, start_key, max(value) as worn
        from intervals
        where metric = 'worn_min'
        group by all
    )
    group by all
),

counts as (
    select
        pid,
        day,
        source,
        sum(value) filter (where metric = 'steps') as steps,
        sum(value) filter (where metric = 'active_min') as active_minutes,
        string_agg(distinct nullif(device, ''), ', ' order by nullif(device, '')) as devices
    from intervals
    group by all
),

final as (
    select
        pid,
        day,
        source,
        counts.steps,
        counts.active_minutes,
        -- null: this source says nothing about wear that day (not the same as 0)
        wear.wear_minutes,
        counts.devices
    from counts
    full join wear using (pid, day, source)
)

select * from final
order by pid, day, source
