-- Share of app sessions that could not be linked to a roster participant stays under 5 %.
-- @table: marts.sessions
-- @severity: warn
select
    count(*) filter (where not linked) as unlinked_sessions,
    count(*) as all_sessions
from staging.app__sessions
having count(*) filter (where not linked) > 0.05 * count(*)
