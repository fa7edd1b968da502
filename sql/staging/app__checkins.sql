-- Daily check-ins, one row per participant and local day (the latest export wins).
-- @unique: pid, day
-- @not_null: pid, day, pain
-- @range: pain = 0..10
with latest as (
    select * from newest_copy('raw.app_checkins', [trim(participant_id), trim(date)])
),

people as (  -- each person's pid worked out once, not once per row
    select participant_id, pseudonymize(participant_id) as pid
    from (select distinct trim(participant_id) as participant_id from raw.app_checkins)
),

final as (
    select
        people.pid,
        cast(trim(date) as date) as day,
        cast(trim(pain) as integer) as pain,
        cast(trim(sleep_quality) as integer) as sleep_quality,
        cast(trim(stress) as integer) as stress,
        cast(trim(movement_confidence) as integer) as movement_confidence,
        cast(replace(trim(submitted_at), ' ', 'T') as timestamptz) as submitted_at,
        source_file,
        row_number as source_line
    from latest
    left join people on people.participant_id = trim(latest.participant_id)
)

select * from final
