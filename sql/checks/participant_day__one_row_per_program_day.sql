-- Every participant has exactly program_weeks × 7 days, numbered 1…n without gaps.
-- @table: marts.participant_day
with per_person as (
    select pid, count(*) as days, min(program_day) as first_day, max(program_day) as last_day
    from marts.participant_day
    group by pid
)

select p.pid, p.program_weeks * 7 as expected_days, d.days, d.first_day, d.last_day
from marts.participants as p
left join per_person as d using (pid)
where d.days is distinct from p.program_weeks * 7
    or d.first_day <> 1
    or d.last_day <> p.program_weeks * 7
