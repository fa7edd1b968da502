-- One row per participant per program week: adherence to the prescription and the week's context.
-- @unique: pid, week
-- @not_null: pid, week, week_start, days_elapsed, prescribed
-- @range: adherence = 0..1
-- @range: data_coverage = 0..1
with days as (
    select * from marts.participant_day
),

participants as (
    select pid, prescribed_sessions_per_week from marts.participants
),

stretch_sessions as (
    select
        pid,
        program_week as week,
        count(discomfort) as rated_sessions,
        count(*) filter (where discomfort <= 3) as gentle_sessions,
        count(*) filter (where discomfort >= 7) as aggressive_sessions,
        avg(guided_breathing::integer) as breathing_share
    from marts.sessions
    where kind = 'stretch' and completed and program_week is not null
    group by all
),

weekly as (
    select
        pid,
        program_week as week,
        min(day) as week_start,
        count(*) filter (where day_state <> 'unknown') as days_elapsed,
        sum(stretch_sessions) as sessions,
        count(*) filter (where day_state = 'done') as days_practised,
        avg(stability_followup::integer) as stability_followup_share,
        avg(steps) as mean_steps,
        -- weekly minutes estimated from worn days: mean per worn day × 7
        round(avg(active_minutes) * 7) as active_minutes,
        count(steps) as valid_wear_days,
        avg(sleep_minutes) as mean_sleep_minutes,
        avg(pain) as mean_pain,
        count(pain) as checkin_days,
        count(*) filter (
            where day_state <> 'unknown' and (pain is not null or wear_state = 'worn')
        ) as days_with_data
    from days
    group by pid, program_week
),

final as (
    select
        w.pid,
        w.week,
        w.week_start,
        w.days_elapsed,
        w.days_elapsed = 7 as week_complete,
        case when w.days_elapsed > 0 then w.sessions end as sessions,
        p.prescribed_sessions_per_week as prescribed,
        case
            when w.days_elapsed > 0 and p.prescribed_sessions_per_week > 0
                then least(1.0, w.sessions / p.prescribed_sessions_per_week)
        end as adherence,
        w.days_practised,
        s.gentle_sessions / nullif(s.rated_sessions, 0) as gentle_share,
        s.aggressive_sessions,
        s.breathing_share,
        w.stability_followup_share,
        w.mean_steps,
        w.active_minutes,
        w.valid_wear_days,
        w.mean_sleep_minutes,
        w.mean_pain,
        w.checkin_days,
        case when w.days_elapsed > 0 then w.days_with_data / w.days_elapsed end as data_coverage
    from weekly as w
    join participants as p using (pid)
    left join stretch_sessions as s using (pid, week)
)

select * from final
order by pid, week
