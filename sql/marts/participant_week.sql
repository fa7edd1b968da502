-- One row per participant per program week: adherence to the prescription and the week's context.
-- @unique: pid, week
-- @not_null: pid, week, week_start, days_elapsed, prescribed
-- @range: adherence = 0..1
-- @range: data_coverage = 0..1
with days as (
    select * from marts.participant_day
),

-- after as-of or withdrawal a day is unknown: nothing that happened then counts for the week
known_days as (
    select * from days where day_state <> 'unknown'
),

participants as (
    select pid, prescribed_sessions_per_week from marts.participants
),

-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
rules as (
    select gentle_max_discomfort, aggressive_min_discomfort from meta.program_rules
),

stretch_sessions as (
    select
        pid,
        program_week as week,
        count(discomfort) as rated_sessions,
        count(*) filter (where discomfort <= rules.gentle_max_discomfort) as gentle_sessions,
        count(*) filter (where discomfort >= rules.aggressive_min_discomfort)
            as aggressive_sessions,
        avg(guided_breathing::integer) as breathing_share
    from marts.sessions
    semi join known_days using (pid, day)
    cross join rules
    where kind = 'stretch' and completed
    group by pid, program_week
),

weekly as (
    select
        days.pid,
        days.program_week as week,
        min(days.day) as week_start,
        count(known.day) as days_elapsed,
        sum(known.stretch_sessions) as sessions,
        count(*) filter (where known.day_state = 'done') as days_practised,
        avg(known.stability_followup::integer) as stability_followup_share,
        avg(known.steps) as mean_steps,
        -- weekly minutes estimated from worn days: mean per worn day × 7
        round(avg(known.active_minutes) * 7) as active_minutes,
        count(known.steps) as valid_wear_days,
        avg(known.sleep_minutes) as mean_sleep_minutes,
        avg(known.pain) as mean_pain,
        count(known.pain) as checkin_days,
        count(*) filter (where known.pain is not null or known.wear_state = 'worn') as days_with_data
    from days
    left join known_days as known using (pid, day)
    group by days.pid, days.program_week
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
