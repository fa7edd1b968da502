-- One row per participant per program day: practice, wearable and check-in, and whether the day was done.
-- @unique: pid, day
-- @not_null: pid, day, program_day, program_week, day_state
-- @accepted_values: day_state = done, missed, unknown
-- @range: breathing_share = 0..1
-- @range: sleep_efficiency = 0..1.5
-- @accepted_values: wear_state = worn, partial, not_worn, no_data
with participants as (
    select * from marts.participants
),

horizon as (
    select as_of from staging.data_horizon
),

program_days as (
    select
        p.pid,
        p.enrolled_on + cast(i as integer) as day,
        cast(i as integer) + 1 as program_day,
        cast(i as integer) // 7 + 1 as program_week,
        -- unknown: not yet happened, or after the person left the program
        p.enrolled_on + cast(i as integer) > coalesce(horizon.as_of, p.enrolled_on - 1)
            or p.enrolled_on + cast(i as integer) > coalesce(p.withdrawn_on, date '9999-12-31')
            as is_unknown
    from participants as p
    cross join horizon
    cross join range(p.program_weeks * 7) as t(i)
),

stretching as (
    select
        pid,
        day,
        count(*) as stretch_sessions,
        sum(duration_s) / 60.0 as stretch_minutes,
        max(discomfort) as max_discomfort,
        avg(guided_breathing::integer) as breathing_share,
        min(started_at) as first_stretch_at
    from marts.sessions
    where kind = 'stretch' and completed
    group by pid, day
),

stability as (
    select pid, day, max(started_at) as last_stability_at
    from marts.sessions
    where kind = 'stability' and completed
    group by pid, day
),

final as (
    select
        d.pid,
        d.day,
        d.program_day,
        d.program_week,
        case when not d.is_unknown then coalesce(s.stretch_sessions, 0) end as stretch_sessions,
        case when not d.is_unknown then coalesce(s.stretch_minutes, 0) end as stretch_minutes,
        case when not d.is_unknown then s.max_discomfort end as max_discomfort,
        case when not d.is_unknown then s.breathing_share end as breathing_share,
        case
            when not d.is_unknown and s.first_stretch_at is not null
                then coalesce(st.last_stability_at >= s.first_stretch_at, false)
        end as stability_followup,
        wear.steps,
        wear.active_minutes,
        wear.wear_minutes,
        coalesce(wear.wear_state, 'no_data') as wear_state,
        wear.steps_source,
        night.sleep_minutes,
        night.sleep_efficiency,
        night.sleep_source,
        resting.value as resting_hr,
        hrv.value as hrv_ms,
        c.pain,
        c.sleep_quality,
        c.stress,
        c.movement_confidence,
        case
            when d.is_unknown then 'unknown'
            when s.stretch_sessions > 0 then 'done'
            else 'missed'
        end as day_state
    from program_days as d
    left join stretching as s using (pid, day)
    left join stability as st using (pid, day)
    left join staging.wearable__days as wear using (pid, day)
    left join staging.wearable__nights as night using (pid, day)
    left join staging.wearable__vitals as resting
        on resting.pid = d.pid and resting.day = d.day and resting.metric = 'resting_hr'
    left join staging.wearable__vitals as hrv
        on hrv.pid = d.pid and hrv.day = d.day and hrv.metric = 'hrv_ms'
    left join staging.app__checkins as c
        on c.pid = d.pid and c.day = d.day
)

select * from final
order by pid, day
