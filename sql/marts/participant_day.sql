-- One row per participant per program day: practice, wearable and check-in, and whether the day was done.
-- @unique: pid, day
-- @not_null: pid, day, program_day, program_week, day_state
-- @accepted_values: day_state = done, missed, unknown
-- @range: breathing_share = 0..1
-- @range: sleep_efficiency = 0..1.5
with participants as (
    select p.*, roster.fitbit_key
    from marts.participants as p
    join staging.roster__participants as roster using (pid)
),

horizon as (
    select as_of from staging.data_horizon
),

program_days as (
    select
        p.pid,
        p.fitbit_key,
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
        s.max_discomfort,
        s.breathing_share,
        case
            when s.first_stretch_at is not null
                then coalesce(st.last_stability_at >= s.first_stretch_at, false)
        end as stability_followup,
        case when act.worn then act.total_steps end as steps,
        case when act.worn then act.active_minutes end as active_minutes,
        -- daily files show whether the tracker was worn, not for how long
        case when act.worn = false then 0 end as wear_minutes,
        case
            when act.worn then 'worn'
            when act.worn = false then 'not_worn'
            else 'no_data'
        end as wear_state,
        sleep.minutes_asleep as sleep_minutes,
        round(sleep.minutes_asleep / nullif(sleep.minutes_in_bed, 0), 3) as sleep_efficiency,
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
    left join staging.fitabase__daily_activity as act
        on act.fitbit_key = d.fitbit_key and act.day = d.day
    left join staging.fitabase__sleep_day as sleep
        on sleep.fitbit_key = d.fitbit_key and sleep.day = d.day
    left join staging.app__checkins as c
        on c.pid = d.pid and c.day = d.day
)

select * from final
order by pid, day
