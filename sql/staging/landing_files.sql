-- The landing files of this run, with per-person folders shown by pseudonym (landing/<source>/<pid>/…).
-- @unique: entity, file
-- @not_null: entity, file, display_file, status
with files as (
    select * from raw.files
),

final as (
    select
        entity,
        source,
        file,
        case
            when participant_id is not null
                then replace(file, '/' || participant_id || '/', '/' || pseudonymize(participant_id) || '/')
            else file
        end as display_file,
        participant_id is not null as per_person,
        -- what the file is, whatever export it came from: steps-2020-01-01.json → steps;
        -- a newer file of the same kind repeats or corrects an older one
        regexp_replace(
            regexp_replace(parse_filename(file, true), '[-_ ]?\d{4}-\d{2}-\d{2}.*$', ''),
            '[-_ ]\d+$', ''
        ) as file_kind,
        file_sha256,
        size_bytes,
        modified_at,
        rows_read,
        rows_landed,
        rows_quarantined,
        status,
        error
    from files
)

select * from final
order by source, entity, display_file
