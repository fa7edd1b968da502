-- Fitabase sleep totals per Fitbit and the local day the sleep ended; exact duplicate rows count once.
-- @unique: fitbit_key, day
-- @not_null: fitbit_key, day
with source as (
    select * from raw.fitabase_sleep_day
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by trim("Id"), trim("SleepDay")
        order by exported_at desc, source_file desc, row_number desc
    ) = 1
),

final as (
    select
        pseudonymize(trim("Id")) as fitbit_key,
        strptime(trim("SleepDay"), '%m/%d/%Y %I:%M:%S %p')::date as day,
        cast(trim("TotalSleepRecords") as integer) as sleep_records,
        cast(trim("TotalMinutesAsleep") as integer) as minutes_asleep,
        cast(trim("TotalTimeInBed") as integer) as minutes_in_bed,
        source_file
    from latest
)

select * from final
