-- Fitabase daily activity per Fitbit and local day; days the tracker was not worn are marked, not zeroed.
-- @unique: fitbit_key, day
-- @not_null: fitbit_key, day, worn
with source as (
    select * from raw.fitabase_daily_activity
),

latest as (
    select *
    from source
    qualify row_number() over (
        partition by trim("Id"), trim("ActivityDate")
        order by exported_at desc, source_file desc, row_number desc
    ) = 1
),

typed as (
    select
        pseudonymize(trim("Id")) as fitbit_key,
        strptime(trim("ActivityDate"), '%m/%d/%Y')::date as day,
        cast(trim("TotalSteps") as integer) as total_steps,
        cast(trim("VeryActiveMinutes") as integer) as very_active_minutes,
        cast(trim("FairlyActiveMinutes") as integer) as fairly_active_minutes,
        cast(trim("LightlyActiveMinutes") as integer) as lightly_active_minutes,
        cast(trim("SedentaryMinutes") as integer) as sedentary_minutes,
        cast(trim("Calories") as integer) as calories,
        source_file
    from latest
),

final as (
    select
        fitbit_key,
        day,
        -- a tracker worn for any real part of a day records steps or activity; Fitbit fills
        -- an unworn day with 0 steps and (usually 1440) sedentary minutes
        total_steps > 0
            or coalesce(very_active_minutes, 0) + coalesce(fairly_active_minutes, 0)
                + coalesce(lightly_active_minutes, 0) > 0 as worn,
        total_steps,
        very_active_minutes + fairly_active_minutes as active_minutes,
        lightly_active_minutes,
        sedentary_minutes,
        calories,
        source_file
    from typed
)

select * from final
