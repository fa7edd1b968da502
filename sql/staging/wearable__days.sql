-- One row per participant and local day with wearable data: the source worn longest that day, and whether
-- the day is a valid wear day (at least valid_wear_minutes of wear, meta.program_rules).
-- @unique: pid, day
-- @not_null: pid, day, steps_source, wear_state
-- @accepted_values: wear_state = worn, partial, not_worn
with source_days as (
    select * from staging.wearable__source_days
),

-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
rules as (
    select valid_wear_minutes from meta.program_rules
),

-- precedence: the device worn longest; without wear evidence, the one that counted most steps
chosen as (
    select *
    from source_days
    qualify row_number() over (
        partition by pid, day
        order by wear_minutes desc nulls last, steps desc nulls last, source
    ) = 1
),

classified as (
    select
        chosen.*,
        case
            when wear_minutes >= rules.valid_wear_minutes then 'worn'
            when wear_minutes > 0 then 'partial'
            when wear_minutes = 0 then 'not_worn'
            -- no wear evidence (daily totals only): a day with steps or activity was worn
            when coalesce(steps, 0) > 0 or coalesce(active_minutes, 0) > 0 then 'worn'
            else 'not_worn'
        end as wear_state
    from chosen
    cross join rules
),

final as (
    select
        pid,
        day,
        source as steps_source,
        devices,
        wear_state,
        cast(round(wear_minutes) as integer) as wear_minutes,
        -- steps of a partly worn day are a partial count: unknown, never a low number
        case when wear_state = 'worn' then cast(round(steps) as integer) end as steps,
        case when wear_state = 'worn' then cast(round(active_minutes) as integer) end as active_minutes
    from classified
)

select * from final
order by pid, day
