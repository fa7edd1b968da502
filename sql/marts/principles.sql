-- One row per participant per program week: a 0–1 score for each of the seven principles, with the raw inputs behind it.
-- Only elapsed days count; a score is null for a week not started and whenever its inputs are missing
-- (unknown is never zero). Definitions: docs/metrics.md, "Principles"; thresholds: meta.program_rules.
-- @unique: pid, week
-- @not_null: pid, week, week_start, days_elapsed, week_complete, prescribed
-- @range: consistency = 0..1
-- @range: gentle = 0..1
-- @range: breathing = 0..1
-- @range: stability = 0..1
-- @range: activity = 0..1
-- @range: sleep_recovery = 0..1
-- @range: confidence = 0..1
-- @range: adherence = 0..1
-- @range: regularity = 0..1
-- @range: steps_score = 0..1
-- @range: mvpa_score = 0..1
-- @range: sleep_duration_score = 0..1
-- @range: sleep_efficiency_score = 0..1
-- @range: stress_score = 0..1
-- @range: movement_confidence_score = 0..1
-- @range: tsk_score = 0..1
-- @accepted_values: steps_band = under_5000, 5000_7499, 7500_9999, 10000_plus
with weeks as (
    select pid, week, week_start, days_elapsed, week_complete, prescribed
    from marts.participant_week
),

participants as (
    select pid, enrolled_on from marts.participants
),

horizon as (
    select as_of from staging.data_horizon
),

-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
rules as (
    select gentle_max_discomfort, aggressive_min_discomfort, adherent_share
    from meta.program_rules
),

-- elapsed program days only: unknown days (not yet happened, after withdrawal) never count
days as (
    select * from marts.participant_day where day_state <> 'unknown'
),

-- completed stretch sessions on elapsed program days
stretch as (
    select
        s.pid,
        d.program_week as week,
        count(*) as stretch_sessions,
        count(s.discomfort) as rated_sessions,
        count(*) filter (where s.discomfort <= r.gentle_max_discomfort) as gentle_sessions,
        count(*) filter (where s.discomfort >= r.aggressive_min_discomfort) as aggressive_sessions,
        max(s.discomfort) as max_discomfort,
        count(s.guided_breathing) as breathing_known_sessions,
        count(*) filter (where s.guided_breathing) as breathing_sessions
    from marts.sessions as s
    join days as d on d.pid = s.pid and d.day = s.day
    cross join rules as r
    where s.kind = 'stretch' and s.completed
    group by s.pid, d.program_week
),

-- runs of consecutive missed days, to find the week's longest gap
missed_runs as (
    select pid, program_week as week, count(*) as run_days
    from (
        select
            pid,
            program_week,
            program_day - row_number() over (partition by pid order by program_day) as run_id
        from days
        where day_state = 'missed'
    )
    group by pid, program_week, run_id
),

longest_gap as (
    select pid, week, max(run_days) as longest_gap_days
    from missed_runs
    group by all
),

daily as (
    select
        pid,
        program_week as week,
        cast(sum(stretch_sessions) as integer) as sessions,
        count(*) filter (where day_state = 'done') as days_practised,
        count(stability_followup) as stretch_days,
        count(*) filter (where stability_followup) as stability_days,
        count(steps) as valid_wear_days,
        avg(steps) as mean_steps,
        avg(active_minutes) as mean_active_minutes_per_day,
        count(sleep_minutes) as sleep_nights,
        avg(sleep_minutes) as mean_sleep_minutes,
        count(sleep_efficiency) as efficiency_nights,
        avg(sleep_efficiency) as mean_sleep_efficiency,
        count(stress) as stress_days,
        avg(stress) as mean_stress,
        avg(sleep_quality) as mean_sleep_quality,
        count(movement_confidence) as confidence_days,
        avg(movement_confidence) as mean_movement_confidence
    from days
    group by all
),

-- scored TSK-11 questionnaires up to as of; a missing answer date falls back to the event's due day
tsk as (
    select
        q.pid,
        q.program_week as tsk_event_week,
        coalesce(q.answered_on, p.enrolled_on + 7 * q.program_week) as answered_on,
        cast(q.tsk_score as integer) as tsk_score
    from staging.prom__questionnaires as q
    join participants as p using (pid)
    cross join horizon
    where q.tsk_score is not null
        and q.program_week is not null
        and coalesce(q.answered_on, p.enrolled_on + 7 * q.program_week)
            <= coalesce(horizon.as_of, date '9999-12-31')
),

tsk_baseline as (
    select pid, tsk_score as tsk_baseline
    from tsk
    where tsk_event_week = 0
),

-- the latest TSK-11 answered by the end of each week
tsk_by_week as (
    select
        w.pid,
        w.week,
        t.tsk_score as tsk_latest,
        t.tsk_event_week as tsk_latest_event_week,
        t.answered_on as tsk_latest_on
    from weeks as w
    join tsk as t on t.pid = w.pid and t.answered_on <= w.week_start + 6
    qualify row_number() over (
        partition by w.pid, w.week order by t.answered_on desc, t.tsk_event_week desc
    ) = 1
),

inputs as (
    select
        w.pid,
        w.week,
        w.week_start,
        w.days_elapsed,
        w.week_complete,
        w.prescribed,
        w.days_elapsed > 0 as started,
        d.sessions,
        d.days_practised,
        case when w.days_elapsed > 0 then coalesce(g.longest_gap_days, 0) end as longest_gap_days,
        s.rated_sessions,
        s.gentle_sessions,
        s.aggressive_sessions,
        s.max_discomfort,
        s.breathing_known_sessions,
        s.breathing_sessions,
        d.stretch_days,
        d.stability_days,
        d.valid_wear_days,
        d.mean_steps,
        round(d.mean_active_minutes_per_day * 7) as active_minutes,
        d.sleep_nights,
        d.mean_sleep_minutes,
        d.efficiency_nights,
        d.mean_sleep_efficiency,
        d.stress_days,
        d.mean_stress,
        d.mean_sleep_quality,
        d.confidence_days,
        d.mean_movement_confidence,
        tw.tsk_latest,
        tw.tsk_latest_event_week,
        tw.tsk_latest_on,
        tb.tsk_baseline
    from weeks as w
    left join daily as d using (pid, week)
    left join stretch as s using (pid, week)
    left join longest_gap as g using (pid, week)
    left join tsk_by_week as tw using (pid, week)
    left join tsk_baseline as tb using (pid)
),

components as (
    select
        *,
        -- consistency: volume × spread
        case
            when started and prescribed > 0 then least(1.0, sessions / prescribed)
        end as adherence,
        case
            when started and prescribed > 0 and sessions > 0
                then least(1.0, days_practised / least(sessions, prescribed, days_elapsed))
        end as regularity,
        -- activity: steps 10,000/day = 1 (5,000 → 0.5, 7,500 → 0.75); WHO 150 min/week MVPA = 1
        case when started and valid_wear_days > 0 then least(1.0, mean_steps / 10000.0) end
            as steps_score,
        case
            when started and valid_wear_days > 0 and active_minutes is not null
                then least(1.0, active_minutes / 150.0)
        end as mvpa_score,
        case
            when not started or valid_wear_days = 0 or valid_wear_days is null then null
            when mean_steps < 5000 then 'under_5000'
            when mean_steps < 7500 then '5000_7499'
            when mean_steps < 10000 then '7500_9999'
            else '10000_plus'
        end as steps_band,
        -- sleep and recovery: 5 h → 0, 7 h → 1; efficiency 65 % → 0, 85 % → 1 (PSQI bands); stress 0 → 1
        case
            when started and sleep_nights > 0
                then greatest(0.0, least(1.0, (mean_sleep_minutes - 300) / 120.0))
        end as sleep_duration_score,
        case
            when started and efficiency_nights > 0
                then greatest(0.0, least(1.0, (mean_sleep_efficiency - 0.65) / 0.20))
        end as sleep_efficiency_score,
        case when started and stress_days > 0 then 1 - mean_stress / 10.0 end as stress_score,
        -- confidence: movement confidence 0–10 → 0–1; TSK-11 44 (most fear) → 0, 11 → 1
        case when started and confidence_days > 0 then mean_movement_confidence / 10.0 end
            as movement_confidence_score,
        case when started then (44 - tsk_latest) / 33.0 end as tsk_score
    from inputs
),

final as (
    select
        pid,
        week,
        week_start,
        days_elapsed,
        week_complete,
        -- the seven principle scores
        case
            when not started or adherence is null then null
            when sessions = 0 then 0.0
            else adherence * regularity
        end as consistency,
        case when started and rated_sessions > 0 then gentle_sessions / rated_sessions end
            as gentle,
        case
            when started and breathing_known_sessions > 0
                then breathing_sessions / breathing_known_sessions
        end as breathing,
        case when started and stretch_days > 0 then stability_days / stretch_days end as stability,
        list_avg(list_filter([steps_score, mvpa_score], lambda x: x is not null)) as activity,
        list_avg(
            list_filter(
                [sleep_duration_score, sleep_efficiency_score, stress_score], lambda x: x is not null
            )
        ) as sleep_recovery,
        list_avg(
            list_filter([movement_confidence_score, tsk_score], lambda x: x is not null)
        ) as confidence,
        -- consistency inputs
        sessions,
        prescribed,
        adherence,
        adherence >= rules.adherent_share as adherent,
        days_practised,
        regularity,
        longest_gap_days,
        -- gentle inputs
        rated_sessions,
        gentle_sessions,
        aggressive_sessions,
        max_discomfort,
        -- breathing inputs
        breathing_known_sessions,
        breathing_sessions,
        -- stability inputs
        stretch_days,
        stability_days,
        -- activity inputs
        valid_wear_days,
        mean_steps,
        steps_band,
        steps_score,
        active_minutes,
        mvpa_score,
        -- sleep and recovery inputs
        sleep_nights,
        mean_sleep_minutes,
        sleep_duration_score,
        efficiency_nights,
        mean_sleep_efficiency,
        sleep_efficiency_score,
        stress_days,
        mean_stress,
        stress_score,
        mean_sleep_quality,
        -- confidence inputs
        confidence_days,
        mean_movement_confidence,
        movement_confidence_score,
        case when started then tsk_latest end as tsk_latest,
        case when started then tsk_latest_event_week end as tsk_latest_event_week,
        case when started then tsk_latest_on end as tsk_latest_on,
        tsk_score,
        tsk_baseline,
        case when started and tsk_latest_event_week > 0 then tsk_latest - tsk_baseline end
            as tsk_change
    from components
    cross join rules
)

select * from final
order by pid, week
