-- Every wearable record that counts after the export rule (docs/sources.md, rule 1), linked to its person and local day.
-- One row per kept row of the four raw wearable tables (`dataset` names which); the wearable staging
-- models (intervals, sleep, vitals, workouts) read their own dataset from here.
-- @not_null: dataset, pid, entity
-- @accepted_values: dataset = intervals, sleep, vitals, workouts
with source as (
    select 'intervals' as dataset, * from raw.wearable_intervals
    union all by name
    select 'sleep' as dataset, * from raw.wearable_sleep
    union all by name
    -- a resting heart rate or HRV of 0 is a missing value, not a measurement
    select 'vitals' as dataset, * from raw.wearable_vitals where value > 0
    union all by name
    select 'workouts' as dataset, * from raw.wearable_workouts where duration_s is not null
),

-- `not materialized`: read where used rather than held whole (four uses) — held, the 50,000-person
-- build needed ~6 GB and could not stay within the warehouse's memory limit
linked as not materialized (
    select
        source.*,
        files.entity,
        files.file_kind,
        files.file_period,
        files.cumulative,
        links.pid,
        links.timezone,
        -- the vendor's own day wins; otherwise a night belongs to the day it ends on, everything
        -- else to the day it starts on
        coalesce(
            source.local_day,
            case
                when source.dataset = 'sleep'
                    then coalesce(source.end_local, timezone(links.timezone, source.end_utc))
                else coalesce(source.start_local, timezone(links.timezone, source.start_utc))
            end::date
        ) as day
    from source
    join staging.wearable__files as files using (file_sha256)
    join staging.wearable__person_links as links
        on links.participant_id is not distinct from source.participant_id
        and links.fitbit_id is not distinct from source.fitbit_id
),

-- cumulative exports: for each dataset, person, kind of file and day, the newest export that covers
-- the day replaces older ones (dated files of one kind complement each other); separate recordings
-- (FIT files, data points) all count, an exact duplicate once. Two rules differ on purpose:
-- a workout is one record with an id, so its newest export wins whatever day it falls on, and
-- sleep episodes from separate recordings are deduplicated by episode in wearable__sleep.
-- Each rule runs on its own rows only: a window over every row of a large cohort was most of the
-- warehouse build, and the newest export per day is a grouping, not a sort of whole rows.
workouts as (
    select *
    from linked
    where dataset = 'workouts'
    qualify row_number() over (
        partition by pid, source, workout_id order by exported_at desc, source_file desc
    ) = 1
),

cumulative as not materialized (
    select * from linked where dataset <> 'workouts' and cumulative
),

newest_cover as (
    select dataset, pid, entity, file_kind, file_period, day,
        max((exported_at, source_file)) as newest
    from cumulative
    group by all
),

newest_cumulative as (
    select cumulative.*
    from cumulative
    semi join newest_cover as cover
        on cover.dataset = cumulative.dataset
        and cover.pid = cumulative.pid
        and cover.entity is not distinct from cumulative.entity
        and cover.file_kind is not distinct from cumulative.file_kind
        and cover.file_period is not distinct from cumulative.file_period
        and cover.day is not distinct from cumulative.day
        and cover.newest = (cumulative.exported_at, cumulative.source_file)
),

recordings as (
    select *
    from linked
    where dataset not in ('workouts', 'sleep') and not cumulative
    qualify row_number() over (
        partition by dataset, pid, entity, device, metric, start_utc, start_local, duration_s, value
        order by exported_at desc, source_file
    ) = 1
),

kept as (
    select * from workouts
    union all
    select * from newest_cumulative
    union all
    select * from linked where dataset = 'sleep' and not cumulative
    union all
    select * from recordings
),

-- what the four wearable models read: the raw ids, the file's lineage and the columns the export
-- rule ordered by stay in raw, since every column here is held for the rest of the build
final as (
    select * exclude (
        participant_id, fitbit_id, row_number, file_sha256, ingested_at, exported_at,
        file_kind, file_period, cumulative, local_day, utc_offset_min
    )
    from kept
)

select * from final
