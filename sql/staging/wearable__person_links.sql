-- Who each wearable row belongs to: its per-person folder's participant_id, or a Fitabase Id through roster.fitbit_id.
-- Holds raw identifiers: staging only, never published.
-- @unique: participant_id, fitbit_id
-- @not_null: pid, timezone
with ids as (
    select distinct participant_id, fitbit_id from raw.wearable_intervals
    union
    select distinct participant_id, fitbit_id from raw.wearable_sleep
    union
    select distinct participant_id, fitbit_id from raw.wearable_vitals
    union
    select distinct participant_id, fitbit_id from raw.wearable_workouts
),

keyed as (
    select
        participant_id,
        fitbit_id,
        pseudonymize(trim(participant_id)) as participant_key,
        pseudonymize(trim(fitbit_id)) as fitbit_key
    from ids
),

final as (
    select keyed.participant_id, keyed.fitbit_id, roster.pid, roster.timezone
    from keyed
    join staging.roster__participants as roster
        on roster.pid = keyed.participant_key
        or (keyed.participant_key is null and roster.fitbit_key = keyed.fitbit_key)
)

select * from final
