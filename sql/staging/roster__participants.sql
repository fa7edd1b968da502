-- The program roster, one row per participant; the latest export of a participant_id wins.
-- @unique: pid
-- @not_null: pid, cohort, coach_id, enrolled_on, timezone, program_weeks
with latest as (
    select * from newest_copy('raw.roster', [trim(participant_id)])
),

final as (
    select
        pseudonymize(trim(participant_id)) as pid,
        trim(cohort) as cohort,
        nullif(trim(site), '') as site,
        trim(coach_id) as coach_id,
        cast(trim(enrolled_on) as date) as enrolled_on,
        coalesce(cast(trim(program_weeks) as integer), 12) as program_weeks,
        coalesce(cast(trim(prescribed_sessions_per_week) as integer), 5)
            as prescribed_sessions_per_week,
        trim(timezone) as timezone,
        cast(trim(withdrawn_on) as date) as withdrawn_on,
        -- only used to link Fitabase rows; never published
        pseudonymize(nullif(trim(fitbit_id), '')) as fitbit_key,
        -- personal: only for the coach's identities file (access/), never in a mart
        nullif(trim(display_name), '') as display_name,
        source_file
    from latest
)

select * from final
