-- One row per real practice session, on the participant's local day and program day.
-- @unique: session_key
-- @not_null: session_key, pid, source, started_at, day, kind, duration_s, completed
-- @accepted_values: kind = stretch, stability, breathing, walk, other
with app as (
    select * from staging.app__sessions where linked
),

participants as (
    select pid, enrolled_on, program_weeks from marts.participants
),

final as (
    select
        app.pid,
        app.session_key,
        'app' as source,
        app.started_at,
        app.day,
        case
            when app.day between p.enrolled_on and p.enrolled_on + p.program_weeks * 7 - 1
                then datediff('day', p.enrolled_on, app.day) + 1
        end as program_day,
        case
            when app.day between p.enrolled_on and p.enrolled_on + p.program_weeks * 7 - 1
                then datediff('day', p.enrolled_on, app.day) // 7 + 1
        end as program_week,
        app.kind,
        app.target,
        app.duration_s,
        app.discomfort,
        app.guided_breathing,
        app.completed
    from app
    join participants as p using (pid)
)

select * from final
order by pid, started_at, session_key
