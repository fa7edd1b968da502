-- App practice sessions, one row per session_id (the latest export wins), on the participant's local day.
-- @unique: session_key
-- @not_null: session_key, pid, started_at, kind, duration_s
-- @accepted_values: kind = stretch, stability, breathing, walk, other
with latest as (
    select * from newest_copy('raw.app_sessions', [trim(session_id)])
),

people as (  -- each person's pid worked out once, not once per row
    select participant_id, pseudonymize(participant_id) as pid
    from (select distinct trim(participant_id) as participant_id from raw.app_sessions)
),

typed as (
    select
        'app:' || pseudonymize(trim(session_id)) as session_key,
        people.pid,
        cast(replace(trim(started_at), ' ', 'T') as timestamptz) as started_at,
        cast(trim(duration_s) as integer) as duration_s,
        trim(kind) as kind,
        nullif(trim(target), '') as target,
        cast(trim(discomfort) as integer) as discomfort,
        lower(trim(guided_breathing)) = 'true' as guided_breathing,
        -- an absent flag means the session was completed (spec default)
        coalesce(lower(trim(completed)) = 'true', true) as completed,
        nullif(trim(app_version), '') as app_version,
        source_file,
        row_number as source_line
    from latest
    left join people on people.participant_id = trim(latest.participant_id)
),

final as (
    select
        typed.*,
        roster.pid is not null as linked,
        cast(timezone(roster.timezone, typed.started_at) as date) as day
    from typed
    left join staging.roster__participants as roster using (pid)
)

select * from final
