-- REDCap questionnaires per participant and event, scored: ODI (0–100), TSK-11 (11–44), PSQI.
-- @unique: pid, event
-- @not_null: pid, event
-- @range: odi_score = 0..100
-- @range: tsk_score = 11..44
with latest as (
    select * from newest_copy('raw.prom', [trim(record_id), trim(redcap_event_name)])
),

typed as (
    select
        pseudonymize(trim(record_id)) as pid,
        trim(redcap_event_name) as event,
        cast(trim(prom_date) as date) as answered_on,
        list_value(
            odi_1, odi_2, odi_3, odi_4, odi_5, odi_6, odi_7, odi_8, odi_9, odi_10
        )::integer[] as odi_items,
        cast(trim(oswestry_complete) as integer) as oswestry_complete,
        list_value(
            tsk_1, tsk_2, tsk_3, tsk_4, tsk_5, tsk_6, tsk_7, tsk_8, tsk_9, tsk_10, tsk_11
        )::integer[] as tsk_items,
        cast(trim(tsk_complete) as integer) as tsk_complete,
        cast(trim(psqi_total) as integer) as psqi_total,
        source_file,
        row_number as source_line
    from latest
),

scored as (
    select
        *,
        len(list_filter(odi_items, lambda x: x is not null)) as odi_items_answered,
        len(list_filter(tsk_items, lambda x: x is not null)) as tsk_items_answered
    from typed
),

final as (
    select
        pid,
        event,
        case event
            when 'baseline_arm_1' then 0
            when 'week_4_arm_1' then 4
            when 'week_8_arm_1' then 8
            when 'week_12_arm_1' then 12
        end as program_week,
        answered_on,
        odi_items_answered,
        -- ODI: sum ÷ (5 × items answered) × 100, not scored with more than one item missing
        case
            when oswestry_complete = 2 and odi_items_answered >= 9
                then round(list_sum(odi_items) / (5.0 * odi_items_answered) * 100, 1)
        end as odi_score,
        tsk_items_answered,
        -- TSK-11: sum of 11 items, not scored with any item missing
        case
            when tsk_complete = 2 and tsk_items_answered = 11 then list_sum(tsk_items)
        end as tsk_score,
        psqi_total,
        psqi_total > 5 as poor_sleeper,
        source_file,
        source_line
    from scored
)

select * from final
