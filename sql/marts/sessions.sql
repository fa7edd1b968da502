-- One row per real practice session: the app's sessions, plus wearable workouts the app did not log,
-- on the participant's local day and program day.
-- @unique: session_key
-- @not_null: session_key, pid, source, started_at, day, kind, duration_s, completed
-- @accepted_values: kind = stretch, stability, breathing, walk, other
with app as (
    select * from staging.app__sessions where linked
),

workouts as (
    select * from staging.wearable__workouts
),

-- the same practice logged by the app and recorded by a watch (overlapping in time) is one
-- session: the app's row stays, with its discomfort and breathing
watch_only as (
    select w.*
    from workouts as w
    where not exists (
        select 1
        from app
        where app.pid = w.pid
            and app.started_at < w.started_at + to_seconds(w.duration_s)
            and w.started_at < app.started_at + to_seconds(greatest(app.duration_s, 1))
    )
),

recorded_too as (
    select app.session_key, string_agg(distinct w.source, ', ' order by w.source) as recorded_by
    from app
    join workouts as w
        on w.pid = app.pid
        and app.started_at < w.started_at + to_seconds(w.duration_s)
        and w.started_at < app.started_at + to_seconds(greatest(app.duration_s, 1))
    group by app.session_key
),

all_sessions as (
    select
        app.pid, app.session_key, 'app' as source, app.started_at, app.day, app.kind, app.target,
        app.duration_s, app.discomfort, app.guided_breathing, app.completed,
        recorded_too.recorded_by as also_recorded_by
    from app
    left join recorded_too using (session_key)
    union all
    select
        pid, session_key, source, started_at, day, kind, activity as target,
        duration_s, null as discomfort, null as guided_breathing, true as completed,
        null as also_recorded_by
    from watch_only
),

participants as (
    select pid, enrolled_on, program_weeks from marts.participants
),

final as (
    select
        s.pid,
        s.session_key,
        s.source,
        s.started_at,
        s.day,
        case
            when s.day between p.enrolled_on and p.enrolled_on + p.program_weeks * 7 - 1
                then datediff('day', p.enrolled_on, s.day) + 1
        end as program_day,
        case
            when s.day between p.enrolled_on and p.enrolled_on + p.program_weeks * 7 - 1
                then datediff('day', p.enrolled_on, s.day) // 7 + 1
        end as program_week,
        s.kind,
        s.target,
        s.duration_s,
        s.discomfort,
        s.guided_breathing,
        s.completed,
        s.also_recorded_by
    from all_sessions as s
    join participants as p using (pid)
)

select * from final
order by pid, started_at, session_key
