-- The landing files of this run, with per-person folders (and ids in file names) shown by pseudonym.
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
        -- the person's id, in any case, as their pid: the folder and any file name with it
        -- (oura_p-00042_trends.csv); the one way a landing path is shown (pseudonym.py)
        pseudonymize_mentions(file, participant_id) as display_file,
        participant_id is not null as per_person,
        -- what the file is, whatever export it came from: steps-2020-01-01.json → steps;
        -- a newer file of the same kind repeats or corrects an older one
        regexp_replace(
            regexp_replace(parse_filename(file, true), '[-_ ]?\d{4}-\d{2}-\d{2}.*$', ''),
            '[-_ ]\d+$', ''
        ) as file_kind,
        -- the period a dated file covers (steps-2020-01-01.json); files of different periods
        -- complement each other, a newer file of the same period replaces the older
        nullif(regexp_extract(parse_filename(file, true), '\d{4}-\d{2}-\d{2}', 0), '') as file_period,
        file_sha256,
        size_bytes,
        modified_at,
        rows_read,
        rows_landed,
        rows_quarantined,
        status,
        pseudonymize_mentions(error, participant_id) as error
    from files
)

select * from final
order by source, entity, display_file
