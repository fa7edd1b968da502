-- One row per participant: baseline and latest pain (weekly means), ODI and TSK-11, their change and the responder flags.
-- Each value names the week (or questionnaire) it comes from. Definitions: docs/metrics.md, "Outcomes";
-- thresholds: meta.program_rules.
-- @unique: pid
-- @not_null: pid, coach_id, status
-- @range: pain_baseline = 0..10
-- @range: pain_latest = 0..10
-- @range: odi_baseline = 0..100
-- @range: odi_latest = 0..100
-- @range: tsk_baseline = 11..44
-- @range: tsk_latest = 11..44
with participants as (
    select pid, coach_id, cohort, enrolled_on, status, program_week_now from marts.participants
),

horizon as (
    select as_of from staging.data_horizon
),

-- the program rules this run applies (pipelines/lib/rules.py, recorded in meta.rules)
rules as (
    select
        baseline_min_checkins,
        responder_pain_points,
        responder_pain_share,
        responder_odi_points,
        responder_tsk_points
    from meta.program_rules
),

-- weekly mean pain over the week's elapsed days; a week anchors an outcome with at least
-- baseline_min_checkins check-ins
weekly_pain as (
    select pid, program_week as week, avg(pain) as mean_pain, count(pain) as checkin_days
    from marts.participant_day
    where day_state <> 'unknown'
    group by all
    having count(pain) >= (select baseline_min_checkins from rules)
),

-- baseline: program week 1, or week 2 when week 1 has too few check-ins
pain_baseline as (
    select pid, week as pain_baseline_week, mean_pain as pain_baseline,
        checkin_days as pain_baseline_checkins
    from weekly_pain
    where week <= 2
    qualify row_number() over (partition by pid order by week) = 1
),

-- latest: the last week after the baseline week with enough check-ins
pain_latest as (
    select w.pid, w.week as pain_latest_week, w.mean_pain as pain_latest,
        w.checkin_days as pain_latest_checkins
    from weekly_pain as w
    join pain_baseline as b on b.pid = w.pid and w.week > b.pain_baseline_week
    qualify row_number() over (partition by w.pid order by w.week desc) = 1
),

-- scored questionnaires answered up to as of (a pinned as of ignores later ones)
proms as (
    select q.pid, q.program_week, q.answered_on, q.odi_score, cast(q.tsk_score as integer) as tsk_score
    from staging.prom__questionnaires as q
    join participants as p using (pid)
    cross join horizon
    where q.program_week is not null
        and coalesce(q.answered_on, p.enrolled_on + 7 * q.program_week)
            <= coalesce(horizon.as_of, date '9999-12-31')
),

odi_baseline as (
    select pid, odi_score as odi_baseline, program_week as odi_baseline_week,
        answered_on as odi_baseline_on
    from proms
    where program_week = 0 and odi_score is not null
),

odi_latest as (
    select pid, odi_score as odi_latest, program_week as odi_latest_week,
        answered_on as odi_latest_on
    from proms
    where program_week > 0 and odi_score is not null
    qualify row_number() over (partition by pid order by program_week desc) = 1
),

tsk_baseline as (
    select pid, tsk_score as tsk_baseline, program_week as tsk_baseline_week,
        answered_on as tsk_baseline_on
    from proms
    where program_week = 0 and tsk_score is not null
),

tsk_latest as (
    select pid, tsk_score as tsk_latest, program_week as tsk_latest_week,
        answered_on as tsk_latest_on
    from proms
    where program_week > 0 and tsk_score is not null
    qualify row_number() over (partition by pid order by program_week desc) = 1
),

joined as (
    select
        p.pid,
        p.coach_id,
        p.cohort,
        p.status,
        p.program_week_now,
        pb.pain_baseline,
        pb.pain_baseline_week,
        pb.pain_baseline_checkins,
        pl.pain_latest,
        pl.pain_latest_week,
        pl.pain_latest_checkins,
        ob.odi_baseline,
        ob.odi_baseline_week,
        ob.odi_baseline_on,
        ol.odi_latest,
        ol.odi_latest_week,
        ol.odi_latest_on,
        tb.tsk_baseline,
        tb.tsk_baseline_week,
        tb.tsk_baseline_on,
        tl.tsk_latest,
        tl.tsk_latest_week,
        tl.tsk_latest_on
    from participants as p
    left join pain_baseline as pb using (pid)
    left join pain_latest as pl using (pid)
    left join odi_baseline as ob using (pid)
    left join odi_latest as ol using (pid)
    left join tsk_baseline as tb using (pid)
    left join tsk_latest as tl using (pid)
),

final as (
    select
        pid,
        coach_id,
        cohort,
        status,
        program_week_now,
        -- pain (NRS 0–10, weekly means); change = latest − baseline, negative is better
        pain_baseline,
        pain_baseline_week,
        pain_baseline_checkins,
        pain_latest,
        pain_latest_week,
        pain_latest_checkins,
        pain_latest - pain_baseline as pain_change,
        (pain_latest - pain_baseline) / nullif(pain_baseline, 0) as pain_change_pct,
        -- responder: a drop of at least responder_pain_points and responder_pain_share of the
        -- baseline (1e-9: weekly means are floats)
        case
            when pain_baseline is not null and pain_latest is not null
                then pain_baseline - pain_latest >= rules.responder_pain_points - 1e-9
                    and pain_baseline - pain_latest
                        >= rules.responder_pain_share * pain_baseline - 1e-9
        end as pain_responder,
        -- ODI (0–100 %): baseline questionnaire and the latest scored follow-up
        odi_baseline,
        odi_baseline_week,
        odi_baseline_on,
        odi_latest,
        odi_latest_week,
        odi_latest_on,
        odi_latest - odi_baseline as odi_change,
        case
            when odi_baseline is not null and odi_latest is not null
                then odi_baseline - odi_latest >= rules.responder_odi_points - 1e-9
        end as odi_responder,
        -- TSK-11 (11–44): fear of movement; a drop of responder_tsk_points is a clinically
        -- important change
        tsk_baseline,
        tsk_baseline_week,
        tsk_baseline_on,
        tsk_latest,
        tsk_latest_week,
        tsk_latest_on,
        tsk_latest - tsk_baseline as tsk_change,
        case
            when tsk_baseline is not null and tsk_latest is not null
                then tsk_baseline - tsk_latest >= rules.responder_tsk_points
        end as tsk_improved
    from joined
    cross join rules
)

select * from final
order by pid
