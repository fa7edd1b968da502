-- A week with no elapsed day has no principle score: a week that has not happened is unknown, never 0.
-- @table: marts.principles
select pid, week, days_elapsed
from marts.principles
where days_elapsed = 0
    and (
        consistency is not null or gentle is not null or breathing is not null
        or stability is not null or activity is not null or sleep_recovery is not null
        or confidence is not null
    )
