-- One row per flag episode for coaches: which flag, how serious, since when (until stays null while open), and why in one sentence.
-- Consecutive qualifying days or weeks are one episode; only elapsed days count, so nothing is open
-- after a withdrawal or the end of the program. Definitions: docs/metrics.md, "Flags"; every threshold
-- is a program rule (meta.program_rules).
-- @unique: pid, flag, since
-- @not_null: pid, coach_id, flag, severity, since, is_open, evidence
-- @accepted_values: flag = missed_days, boom_bust, too_intense, no_breathing, no_stability, short_sleep, pain_rising, no_wearable_data
-- @accepted_values: severity = info, warning, alert
with participants as (
    select pid, coach_id, status, has_wearable from marts.participants
),

horizon as (
    select as_of from staging.data_horizon
),

-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
rules as (
    select * from meta.program_rules
),

-- elapsed program days only (unknown days neither raise nor extend a flag)
days as (
    select pid, day, program_day, program_week, day_state, wear_state, pain
    from marts.participant_day
    where day_state <> 'unknown'
),

-- the principles of the weeks that have started, with the week's last elapsed day
weeks as (
    select pr.*, last_days.last_elapsed_day
    from marts.principles as pr
    join (
        select pid, program_week as week, max(day) as last_elapsed_day from days group by all
    ) as last_days using (pid, week)
),

-- ── day runs ───────────────────────────────────────────────────────────────────────────────
missed_runs as (
    select pid, min(day) as first_day, max(day) as last_day, count(*) as n_days
    from (
        select
            pid,
            day,
            program_day - row_number() over (partition by pid order by program_day) as run_id
        from days
        where day_state = 'missed'
    )
    group by pid, run_id
),

missed_days as (
    select
        pid,
        'missed_days' as flag,
        first_day as since,
        last_day,
        case
            when n_days >= rules.missed_days_alert_days then 'alert'
            when n_days >= rules.missed_days_warning_days then 'warning'
            else 'info'
        end as severity,
        'No stretching on ' || n_days || ' program days in a row' as summary
    from missed_runs
    cross join rules
    where n_days >= rules.missed_days_info_days
),

-- people with a tracker: a linked Fitabase id, or any wearable day at all
wearers as (
    select pid from participants where has_wearable
    union
    select distinct pid from marts.participant_day where wear_state <> 'no_data'
),

no_wear_runs as (
    select pid, min(day) as first_day, max(day) as last_day, count(*) as n_days
    from (
        select
            pid,
            day,
            program_day - row_number() over (partition by pid order by program_day) as run_id
        from days
        where wear_state <> 'worn' and pid in (select pid from wearers)
    )
    group by pid, run_id
),

no_wearable_data as (
    select
        pid,
        'no_wearable_data' as flag,
        first_day as since,
        last_day,
        case when n_days >= rules.no_wear_warning_days then 'warning' else 'info' end as severity,
        'No valid wearable day (tracker not worn, worn too briefly or not synced) on '
            || n_days || ' days in a row' as summary
    from no_wear_runs
    cross join rules
    where n_days >= rules.no_wear_info_days
),

-- ── boom and bust ──────────────────────────────────────────────────────────────────────────
-- a burst week: at least the prescribed sessions (and more sessions than days) on at most
-- burst_max_practice_days days
burst_weeks as (
    select
        w.pid,
        w.week,
        w.sessions,
        w.days_practised,
        min(d.day) as first_practice_day,
        max(d.day) as last_practice_day
    from weeks as w
    join days as d on d.pid = w.pid and d.program_week = w.week and d.day_state = 'done'
    where w.prescribed > 0
        and w.sessions >= w.prescribed
        and w.sessions > w.days_practised
        and w.days_practised between 1 and (select burst_max_practice_days from rules)
    group by all
),

-- … followed, from the day after its last practice day, by burst_gap_days or more missed days in a row
bursts as (
    select b.*, r.n_days as gap_days, r.last_day as gap_end
    from burst_weeks as b
    join missed_runs as r on r.pid = b.pid and r.first_day = b.last_practice_day + 1
    where r.n_days >= (select burst_gap_days from rules)
),

-- a burst that starts the day after the previous gap ended continues the same episode
burst_chain as (
    select
        *,
        sum(starts_episode) over (
            partition by pid order by first_practice_day rows unbounded preceding
        ) as episode
    from (
        select
            *,
            case
                when first_practice_day
                    <= lag(gap_end) over (partition by pid order by first_practice_day) + 1
                    then 0
                else 1
            end as starts_episode
        from bursts
    )
),

boom_bust as (
    select
        pid,
        'boom_bust' as flag,
        min(first_practice_day) as since,
        max(gap_end) as last_day,
        case
            when count(*) >= (select boom_bust_alert_bursts from rules) then 'alert'
            when count(*) >= (select boom_bust_warning_bursts from rules) then 'warning'
            else 'info'
        end as severity,
        case
            when count(*) = 1
                then sum(sessions) || ' stretch sessions on ' || sum(days_practised)
                    || case when sum(days_practised) = 1 then ' day' else ' days' end
                    || ' in week ' || min(week) || ', then no stretching for '
                    || max(gap_days) || ' days'
            else count(*) || ' bursts (' || sum(sessions) || ' stretch sessions on '
                || sum(days_practised) || ' days in all), each followed by '
                || (select burst_gap_days from rules) || ' or more days '
                || 'without stretching; the last gap ' || arg_max(gap_days, first_practice_day)
                || ' days'
        end as summary
    from burst_chain
    group by pid, episode
),

-- ── weekly rules ───────────────────────────────────────────────────────────────────────────
-- weekly mean pain over enough check-in days, as in the outcomes (baseline_min_checkins)
weekly_pain as (
    select pid, program_week as week, avg(pain) as mean_pain, count(pain) as checkin_days
    from days
    group by all
    having count(pain) >= (select baseline_min_checkins from rules)
),

weekly_hits as (
    select pid, 'too_intense' as flag, week, week_start, last_elapsed_day,
        aggressive_sessions::double as n, max_discomfort::double as v, null::double as baseline,
        null::integer as baseline_week
    from weeks
    where aggressive_sessions >= (select too_intense_min_sessions from rules)
    union all
    select pid, 'no_breathing', week, week_start, last_elapsed_day,
        breathing_known_sessions, null, null, null
    from weeks
    where breathing_known_sessions >= (select no_breathing_min_sessions from rules)
        and breathing_sessions = 0
    union all
    select pid, 'no_stability', week, week_start, last_elapsed_day,
        stretch_days, null, null, null
    from weeks
    where stretch_days >= (select no_stability_min_days from rules) and stability_days = 0
    union all
    select pid, 'short_sleep', week, week_start, last_elapsed_day,
        sleep_nights, mean_sleep_minutes, null, null
    from weeks
    where sleep_nights >= (select short_sleep_min_nights from rules)
        and mean_sleep_minutes < (select short_sleep_minutes from rules)
    union all
    select w.pid, 'pain_rising', w.week, w.week_start, w.last_elapsed_day,
        p.checkin_days, p.mean_pain, o.pain_baseline, o.pain_baseline_week
    from weeks as w
    join weekly_pain as p using (pid, week)
    join marts.outcomes as o using (pid)
    cross join rules as r
    where w.week > o.pain_baseline_week
        and p.mean_pain >= o.pain_baseline + r.pain_rising_points - 1e-9
),

weekly_episodes as (
    select
        pid,
        flag,
        min(week_start) as since,
        max(week_start) as last_week_start,
        arg_max(last_elapsed_day, week) as last_day,
        min(week) as first_week,
        max(week) as last_week,
        count(*) as n_weeks,
        sum(n) as total_n,
        max(n) as max_n,
        min(v) as min_v,
        max(v) as max_v,
        max(v - baseline) as max_rise,
        any_value(baseline) as baseline,
        any_value(baseline_week) as baseline_week
    from (
        select *, week - row_number() over (partition by pid, flag order by week) as run_id
        from weekly_hits
    )
    group by pid, flag, run_id
),

weekly_flags as (
    select
        pid,
        flag,
        since,
        last_week_start,
        last_day,
        case flag
            when 'too_intense' then
                case
                    when n_weeks >= r.flag_escalation_weeks or max_n >= r.too_intense_alert_sessions
                        then 'alert'
                    else 'warning'
                end
            when 'short_sleep' then
                case
                    when n_weeks >= r.flag_escalation_weeks
                        or min_v < r.short_sleep_warning_minutes
                        then 'warning'
                    else 'info'
                end
            when 'pain_rising' then
                case
                    when n_weeks >= r.flag_escalation_weeks
                        or max_rise >= r.pain_rising_alert_points - 1e-9
                        then 'alert'
                    else 'warning'
                end
            else case when n_weeks >= r.flag_escalation_weeks then 'warning' else 'info' end
        end as severity,
        case flag
            when 'too_intense' then
                total_n::integer || ' stretch sessions at discomfort '
                    || r.aggressive_min_discomfort
                    || '/10 or more in ' || weeks_label
                    || ', up to ' || max_v::integer || '/10'
            when 'no_breathing' then
                'None of ' || total_n::integer || ' stretch sessions used controlled breathing in '
                    || weeks_label
            when 'no_stability' then
                'No stability work after stretching on any of ' || total_n::integer
                    || ' practice days in ' || weeks_label
            when 'short_sleep' then
                'Average sleep under ' || hours_label || ' a night in ' || weeks_label
                    || ', lowest weekly mean ' || printf('%.1f', min_v / 60) || ' h'
            when 'pain_rising' then
                'Weekly mean pain rose to ' || printf('%.1f', max_v) || '/10 in ' || weeks_label
                    || ', against a week-' || baseline_week || ' baseline of '
                    || printf('%.1f', baseline)
        end as summary
    from (
        select
            *,
            case
                when first_week = last_week then 'week ' || first_week
                else 'weeks ' || first_week || '–' || last_week
            end as weeks_label
        from weekly_episodes
    )
    cross join (
        select
            *,
            case
                when short_sleep_minutes % 60 = 0 then short_sleep_minutes // 60 || ' h'
                else short_sleep_minutes // 60 || ' h ' || short_sleep_minutes % 60 || ' min'
            end as hours_label
        from rules
    ) as r
),

-- ── one table ──────────────────────────────────────────────────────────────────────────────
day_episodes as (
    select * from missed_days
    union all select * from no_wearable_data
    union all select * from boom_bust
),

episodes as (
    -- a day run is open when it reaches as of; a weekly one while its last week is the current week
    select e.*, p.status = 'active' and e.last_day >= h.as_of as is_open
    from day_episodes as e
    join participants as p using (pid)
    cross join horizon as h
    union all
    select
        e.pid, e.flag, e.since, e.last_day, e.severity, e.summary,
        p.status = 'active' and h.as_of between e.last_week_start and e.last_week_start + 6
            as is_open
    from weekly_flags as e
    join participants as p using (pid)
    cross join horizon as h
),

dated as (
    select
        e.*,
        case when e.is_open then h.as_of else e.last_day end as range_end
    from episodes as e
    cross join horizon as h
),

final as (
    select
        d.pid,
        p.coach_id,
        d.flag,
        d.severity,
        d.since,
        case when not d.is_open then d.last_day end as until,
        d.is_open,
        d.summary || ' ('
            || case
                when d.since = d.range_end then strftime(d.since, '%-d %b')
                when year(d.since) = year(d.range_end) and month(d.since) = month(d.range_end)
                    then strftime(d.since, '%-d') || '–' || strftime(d.range_end, '%-d %b')
                else strftime(d.since, '%-d %b') || '–' || strftime(d.range_end, '%-d %b')
            end
            || case when d.is_open then ', ongoing' else '' end
            || ')' as evidence
    from dated as d
    join participants as p using (pid)
)

select * from final
order by pid, since, flag
