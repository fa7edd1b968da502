-- A flag is open only for an active participant; no episode starts or ends after a withdrawal or before it began.
-- @table: marts.flags
select f.pid, f.flag, f.since, f.until, f.is_open, p.status, p.withdrawn_on
from marts.flags as f
join marts.participants as p using (pid)
where (f.is_open and p.status <> 'active')
    or f.is_open <> (f.until is null)
    or f.until < f.since
    or f.since > p.withdrawn_on
    or f.until > p.withdrawn_on
