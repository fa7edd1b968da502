-- One row per participant and wake-up day: the main sleep episode that ended that morning.
-- @unique: pid, day
-- @range: sleep_efficiency = 0..1.5
with sleep as (
    select * from staging.wearable__sleep
),

-- an episode beats a vendor's daily total (which may add naps); the vendor's main flag,
-- then the longest sleep, decides among episodes
main_sleep as (
    select *
    from sleep
    qualify row_number() over (
        partition by pid, day
        order by is_episode desc, coalesce(is_main, false) desc, minutes_asleep desc, source
    ) = 1
),

final as (
    select
        pid,
        day,
        source as sleep_source,
        minutes_asleep as sleep_minutes,
        minutes_in_bed,
        round(minutes_asleep / nullif(minutes_in_bed, 0), 3) as sleep_efficiency,
        started_at as bedtime_at,
        ended_at as woke_at
    from main_sleep
)

select * from final
order by pid, day
