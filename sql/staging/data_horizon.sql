-- The run's "as of" day: the latest local day with program data, never later than the newest export.
-- An analyst can pin it with `steadyback run --as-of`.
with data_days as (
    select max(day) as last_day from staging.app__sessions where linked
    union all
    select max(c.day)
    from staging.app__checkins as c
    semi join staging.roster__participants as r on r.pid = c.pid
    union all
    select max(day) from staging.wearable__source_days
),

exports as (
    -- the export's UTC date, whatever the machine's time zone
    select timezone('UTC', max(modified_at))::date as last_export_day from raw.files where status = 'loaded'
),

final as (
    select
        coalesce(
            (select as_of_override from meta.run_parameters),
            least((select max(last_day) from data_days), (select last_export_day from exports))
        ) as as_of
)

select * from final
