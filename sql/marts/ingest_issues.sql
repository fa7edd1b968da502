-- Everything in the exports that broke the spec or could not be linked, with a reason a person can act on.
-- Identifier values are shown as their pseudonym.
-- @not_null: source, file, reason, severity, action
-- @accepted_values: severity = error, warning
with parse_issues as (
    select
        i.source,
        i.entity,
        i.file,
        i.line,
        i.field,
        case when idf.field is not null then pseudonymize(i.value) else i.value end as value,
        i.reason,
        i.severity,
        i.action
    from raw.ingest_issues as i
    left join raw.identifier_fields as idf
        on idf.entity = i.entity and idf.field = i.field
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

unlinked_fitbits as (
    select
        'fitabase', 'fitabase_daily_activity', a.source_file, null::bigint, 'Id',
        a.fitbit_key,
        'Fitabase Id matches no roster fitbit_id; its ' || count(*)
            || ' days are ignored (a test device, or the roster lacks the id)',
        'warning', 'row not linked'
    from staging.fitabase__daily_activity as a
    left join staging.roster__participants as r on r.fitbit_key = a.fitbit_key
    where r.pid is null
    group by a.source_file, a.fitbit_key
),

final as (
    select * from parse_issues
    union all select * from unlinked_sessions
    union all select * from unlinked_checkins
    union all select * from unlinked_questionnaires
    union all select * from unlinked_fitbits
)

select * from final
order by source, file, line nulls first, field
