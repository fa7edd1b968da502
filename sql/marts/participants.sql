-- One row per participant: roster facts, where they are in the program now, and their status.
-- @unique: pid
-- @not_null: pid, cohort, coach_id, enrolled_on, status
-- @accepted_values: status = not_started, active, completed, withdrawn
with roster as (
    select * from staging.roster__participants
),

horizon as (
    select as_of from staging.data_horizon
),

final as (
    select
        roster.pid,
        roster.cohort,
        roster.site,
        roster.coach_id,
        roster.enrolled_on,
        roster.program_weeks,
        roster.prescribed_sessions_per_week,
        roster.timezone,
        roster.withdrawn_on,
        roster.fitbit_key is not null as has_wearable,
        case
            when horizon.as_of < roster.enrolled_on then null
            else least(
                roster.program_weeks,
                (datediff('day', roster.enrolled_on, horizon.as_of) // 7) + 1
            )
        end as program_week_now,
        case
            when roster.withdrawn_on is not null and roster.withdrawn_on <= horizon.as_of
                then 'withdrawn'
            when horizon.as_of is null or horizon.as_of < roster.enrolled_on then 'not_started'
            when horizon.as_of >= roster.enrolled_on + roster.program_weeks * 7 then 'completed'
            else 'active'
        end as status
    from roster
    cross join horizon
)

select * from final
order by pid
