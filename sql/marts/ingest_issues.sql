-- Everything in the exports that broke the spec or could not be linked, with a reason a person can act on.
-- Identifier values are shown as their pseudonym.
-- @not_null: source, file, reason, severity, action
-- @accepted_values: severity = error, warning
with files as (
    -- participant_id: the file's per-person folder, to hide it in the parser's messages
    select l.entity, l.file, l.display_file, r.participant_id
    from staging.landing_files as l
    join raw.files as r using (entity, file)
),

-- a roster id in another field (a shifted column: "started_at must be …, got 'P-00042'")
roster_ids as (
    select lower(trim(v)) as lowered, min(trim(v)) as identifier
    from (select participant_id as v from raw.roster union all select fitbit_id from raw.roster)
    where trim(v) <> ''
    group by all
),

parse_issues as (
    select
        i.source,
        i.entity,
        files.display_file as file,
        i.line,
        i.field,
        case
            when idf.field is not null then pseudonymize(i.value)
            when ids.identifier is not null then pseudonymize(ids.identifier)
            else pseudonymize_mentions(i.value, files.participant_id)
        end as value,
        -- the parser's message quotes the value, and may name the person's folder
        case
            when ids.identifier is not null
                then replace(i.reason, i.value, pseudonymize(ids.identifier))
            else pseudonymize_mentions(i.reason, files.participant_id)
        end as reason,
        i.severity,
        i.action
    from raw.ingest_issues as i
    join files on files.entity = i.entity and files.file = i.file
    left join raw.identifier_fields as idf
        on idf.entity = i.entity and idf.field = i.field
    left join roster_ids as ids on ids.lowered = lower(trim(i.value))
),

unlinked_sessions as (
    select
        'app' as source, 'app_sessions' as entity, source_file as file, source_line as line,
        'participant_id' as field, pid as value,
        'participant_id is not in the roster, so the session has no time zone or program; '
            || 'add the person to the roster or correct the id' as reason,
        'error' as severity, 'row not linked' as action
    from staging.app__sessions
    where not linked
),

unlinked_checkins as (
    select
        'app', 'app_checkins', c.source_file, c.source_line, 'participant_id', c.pid,
        'participant_id is not in the roster; add the person to the roster or correct the id',
        'error', 'row not linked'
    from staging.app__checkins as c
    anti join staging.roster__participants using (pid)
),

unlinked_questionnaires as (
    select
        'prom', 'prom', q.source_file, q.source_line, 'record_id', q.pid,
        'record_id is not a roster participant_id; correct the REDCap record id',
        'error', 'row not linked'
    from staging.prom__questionnaires as q
    anti join staging.roster__participants using (pid)
),

wearable_rows as (
    select participant_id, fitbit_id, file_sha256, count(*) as row_count
    from (
        select participant_id, fitbit_id, file_sha256 from raw.wearable_intervals
        union all select participant_id, fitbit_id, file_sha256 from raw.wearable_sleep
        union all select participant_id, fitbit_id, file_sha256 from raw.wearable_vitals
        union all select participant_id, fitbit_id, file_sha256 from raw.wearable_workouts
    )
    group by all
),

unlinked_wearable_files as (
    select files.source, files.entity, files.display_file, w.participant_id, w.fitbit_id,
        sum(w.row_count) as row_count
    from wearable_rows as w
    join (select distinct file_sha256, entity, source, display_file from staging.landing_files) as files
        using (file_sha256)
    anti join staging.wearable__person_links as links
        on links.participant_id is not distinct from w.participant_id
        and links.fitbit_id is not distinct from w.fitbit_id
    group by all
),

unlinked_wearables as (
    select
        source, entity, display_file, null::bigint,
        case when participant_id is null then 'Id' else 'participant_id' end,
        pseudonymize(coalesce(participant_id, fitbit_id)),
        case
            when participant_id is null
                then 'Fitabase Id matches no roster fitbit_id; its ' || row_count
                    || ' rows are ignored (a test device, or the roster lacks the id)'
            else 'the folder name is not a roster participant_id; its ' || row_count
                || ' rows are ignored (rename the folder to the participant_id)'
        end,
        'warning', 'row not linked'
    from unlinked_wearable_files
),

final as (
    select * from parse_issues
    union all select * from unlinked_sessions
    union all select * from unlinked_checkins
    union all select * from unlinked_questionnaires
    union all select * from unlinked_wearables
)

select * from final
order by source, file, line nulls first, field
