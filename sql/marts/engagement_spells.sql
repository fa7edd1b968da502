-- One engagement spell per person enrolled by the as-of day: days engaged, and disengaged or censored (docs/data-model.md).
-- A person disengages on the first day of the first run of at least disengagement_gap_days days
-- (meta.program_rules) without any completed session
-- (the day before enrolment counts as practised, so a gap may start on day 0); otherwise the spell
-- is censored after the last day we could see: program end, withdrawal or the as-of day.
-- The retention model and the cohort page's filtered retention both read this table.
-- @unique: pid
-- @not_null: pid, enrolled_on, days, disengaged, followed_days
-- @range: days = 0..100000
-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
with rules as (
    select disengagement_gap_days from meta.program_rules
),

followed as (
    select
        -- an integer per person: the window below sorts it much faster than a pid
        row_number() over (order by p.pid) as person,
        p.pid,
        p.enrolled_on,
        (least(
            h.as_of,
            p.enrolled_on + p.program_weeks * 7 - 1,
            coalesce(p.withdrawn_on, h.as_of)
        ) - p.enrolled_on + 1)::int as followed_days
    from marts.participants as p
    cross join staging.data_horizon as h
    where p.enrolled_on <= h.as_of
),

practice_days as (
    select f.person, (s.day - f.enrolled_on)::int as day_index
    from marts.sessions as s
    join followed as f using (pid)
    where s.completed and s.day - f.enrolled_on between 0 and f.followed_days - 1
    group by all
),

-- the day before enrolment and the first unseen day bound the gaps between practice days
marks as (
    select person, -1 as day_index from followed
    union all
    select person, day_index from practice_days
    union all
    select person, followed_days from followed
),

gaps as (
    select
        person,
        day_index + 1 as gap_start,
        lead(day_index) over (partition by person order by day_index) - day_index - 1 as gap_days
    from marks
),

first_gap as (
    select
        gaps.person,
        min(gaps.gap_start) filter (where gaps.gap_days >= rules.disengagement_gap_days)
            as gap_start
    from gaps
    cross join rules
    group by gaps.person
),

final as (
    select
        f.pid,
        f.enrolled_on,
        coalesce(g.gap_start, f.followed_days)::bigint as days,
        g.gap_start is not null as disengaged,
        f.enrolled_on + g.gap_start::int as disengaged_on,
        f.followed_days
    from followed as f
    join first_gap as g using (person)
)

select * from final
order by pid
