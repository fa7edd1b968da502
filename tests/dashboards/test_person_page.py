"""The Person page: a coach's (or program manager's) view of one participant.

Every expected number is read straight from the snapshot with DuckDB (`query`), never through
`dashboards.queries`, so the tests hold for any valid snapshot and fail when a panel shows
something else. Access rules and the audit trail are checked through the real login form.
"""

from __future__ import annotations

import csv
import math
from datetime import date
from pathlib import Path

import pytest
from page_harness import (
    caseload_pids,
    computed_text,
    copy_published,
    expected_identities,
    expected_risk,
    metrics,
    open_app,
    page_text,
    plotly_specs,
    query,
    sent_text,
    snapshot_rules,
)
from report_html import ReportHtml

from dashboards.principles import PRINCIPLE_COLUMNS  # the seven marts.principles scores
from dashboards.queries.identities import REVEAL_SETTING
from pipelines.lib import audit
from pipelines.lib.identities import read_identities, write_identities
from pipelines.lib.layout import DataDir

PANELS = (
    "calendar",
    "sessions",
    "discomfort",
    "breathing_stability",
    "activity_sleep",
    "pain",
    "principles",
)


# --- expected values, straight from the snapshot ----------------------------------------------


def as_of(data_dir: Path) -> date:
    return query(data_dir, "select as_of from meta.snapshot")[0][0]


def a_busy_person(data_dir: Path, coach_id: str | None = None) -> str:
    """The person with the most done days (ties by pid), optionally in one coach's caseload."""
    return query(
        data_dir,
        """
        select d.pid from marts.participant_day as d
        join marts.participants as p using (pid)
        where ? is null or p.coach_id = ?
        group by d.pid
        order by count(*) filter (where d.day_state = 'done') desc, d.pid
        limit 1
        """,
        [coach_id, coach_id],
    )[0][0]


def a_person_with_effects(data_dir: Path) -> str:
    rows = query(
        data_dir,
        """
        select pid from models.person_effects
        group by pid order by count(*) desc, pid limit 1
        """,
    )
    assert rows, "the test cohort should give some people their own effect estimates"
    return rows[0][0]


def a_person_without_effects(data_dir: Path) -> str:
    rows = query(
        data_dir,
        """
        select pid from marts.participants
        where pid not in (select pid from models.person_effects)
        order by pid limit 1
        """,
    )
    assert rows, "the test cohort should have someone without enough data for own effects"
    return rows[0][0]


def coach_of(data_dir: Path, pid: str) -> str:
    return query(data_dir, "select coach_id from marts.participants where pid = ?", [pid])[0][0]


def first_coach(data_dir: Path) -> str:
    return query(data_dir, "select min(coach_id) from marts.participants")[0][0]


def someone_of_another_coach(data_dir: Path) -> str:
    return query(
        data_dir,
        "select min(pid) from marts.participants where coach_id <> ?",
        [first_coach(data_dir)],
    )[0][0]


def day_states(data_dir: Path, pid: str) -> list[str]:
    return [
        state
        for (state,) in query(
            data_dir,
            "select day_state from marts.participant_day where pid = ? and day <= ? order by day",
            [pid, as_of(data_dir)],
        )
    ]


def expected_streaks(data_dir: Path, pid: str) -> tuple[int, int]:
    """(current, longest): runs of `done` days up to as of; the latest day may be in progress."""
    states = day_states(data_dir, pid)
    longest = run = 0
    for state in states:
        run = run + 1 if state == "done" else 0
        longest = max(longest, run)
    if states and states[-1] != "done":
        states = states[:-1]
    current = len(states) - max((i + 1 for i, s in enumerate(states) if s != "done"), default=0)
    return current, longest


def roster_participant_ids(data_dir: Path) -> set[str]:
    ids = set()
    for roster in (data_dir / "landing" / "roster").glob("*.csv"):
        with roster.open(newline="", encoding="utf-8") as handle:
            ids |= {row["participant_id"] for row in csv.DictReader(handle)}
    return ids


# --- reading the page -------------------------------------------------------------------------


def charts(at) -> dict[str, dict]:
    """The page's Plotly specs by panel (each chart has a widget key, the last part of its id)."""
    specs = plotly_specs(at)
    keys = [chart.proto.id.rsplit("-", 1)[-1] for chart in at.get("plotly_chart")]
    return dict(zip(keys, specs, strict=True))


def trace(spec: dict, name_start: str) -> dict:
    return next(t for t in spec["data"] if t.get("name", "").startswith(name_start))


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def new_events(data_dir: Path, before: int, **match: str) -> list[audit.AuditEvent]:
    return [
        event
        for event in audit.read(data_dir)[before:]
        if all(getattr(event, field) == value for field, value in match.items())
    ]


def day_state_counts(data_dir: Path, pid: str, cutoff) -> tuple[int, int, int]:
    """(done, missed, unknown) days of `pid` up to `cutoff`, from marts.participant_day."""
    return query(
        data_dir,
        """
        select count(*) filter (where day_state = 'done'),
               count(*) filter (where day_state = 'missed'),
               count(*) filter (where day_state = 'unknown')
        from marts.participant_day where pid = ? and day <= ?
        """,
        [pid, cutoff],
    )[0]


# --- the page and its panels ------------------------------------------------------------------


def test_person_page_from_query_param_shows_their_days(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    cutoff = as_of(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    done, missed, unknown = day_state_counts(dashboard_dir, pid, cutoff)
    current, longest = expected_streaks(dashboard_dir, pid)

    shown = metrics(at)
    assert at.title[0].value == "Person"
    assert at.selectbox[0].value == pid
    assert at.query_params["pid"] == pid
    assert shown["Days done"] == str(done)
    assert shown["Days missed"] == str(missed)
    assert shown["Days unknown"] == str(unknown)
    assert shown["Current streak"] == f"{current} d"
    assert shown["Longest streak"] == f"{longest} d"
    assert longest >= current
    assert all(metric.help for metric in at.metric), "every headline number explains itself"

    panels = charts(at)
    heatmap = panels["calendar"]["data"][0]
    assert heatmap["type"] == "heatmap"
    program_weeks = query(
        dashboard_dir,
        "select count(distinct program_week) from marts.participant_day where pid = ?",
        [pid],
    )[0][0]
    assert len(heatmap["y"]) == program_weeks
    assert heatmap["colorbar"]["ticktext"] == ["not yet", "no data", "missed", "done"]
    bars = next(t for t in panels["sessions"]["data"] if t["type"] == "bar")
    weekly = query(
        dashboard_dir,
        "select week, sessions, prescribed from marts.participant_week "
        "where pid = ? and days_elapsed > 0 order by week",
        [pid],
    )
    assert bars["x"] == [week for week, _, _ in weekly]
    assert bars["y"] == [sessions for _, sessions, _ in weekly]
    prescribed = trace(panels["sessions"], "prescribed")
    assert prescribed["y"] == [p for _, _, p in weekly]


def test_choosing_a_person_sets_the_query_param(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person")
    assert not at.get("plotly_chart")
    assert not at.get("download_button")

    at.selectbox[0].select(pid).run()

    assert not at.exception
    assert at.query_params["pid"] == pid
    has_effects = query(
        dashboard_dir, "select count(*) > 0 from models.person_effects where pid = ?", [pid]
    )[0][0]
    expected = set(PANELS) | ({"effects"} if has_effects else set())
    assert set(charts(at)) == expected
    assert [button.label for button in at.get("download_button")] == ["Download progress report"]


def test_a_new_pid_in_the_url_replaces_the_choice(dashboard_dir, monkeypatch):
    """A link to another person (same session, e.g. from the caseload) shows that person."""
    first = a_busy_person(dashboard_dir)
    second = a_person_without_effects(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=first)
    assert at.selectbox[0].value == first

    at.query_params["pid"] = second
    at.run()

    assert not at.exception and not at.warning
    assert at.selectbox[0].value == second
    assert at.query_params["pid"] == second
    assert f"coach {coach_of(dashboard_dir, second)}" in page_text(at)


def test_unknown_pid_is_explained(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid="no-such-person")

    assert "No participant with pid `no-such-person`" in at.error[0].value
    assert not at.get("plotly_chart")


def test_a_crafted_pid_is_not_echoed_as_markdown_and_is_audited_short(dashboard_dir, monkeypatch):
    crafted = "`[log in again](http://evil.example)`" + "x" * 500
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=crafted)

    assert at.error[0].value == "No participant with pid (malformed) in the published snapshot."
    assert "evil" not in page_text(at)

    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=crafted)
    assert "not in your caseload" in at.error[0].value
    denied = [e for e in audit.read(dashboard_dir) if e.outcome == "denied" and e.user == "coach"]
    assert denied[-1].pid == crafted[:64]


def test_discomfort_panel_counts_rated_sessions_gentle_and_aggressive(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    by_rating = dict(
        query(
            dashboard_dir,
            """
            select s.discomfort, count(*)
            from marts.sessions as s
            join marts.participant_day as d using (pid, day)
            where s.pid = ? and s.kind = 'stretch' and s.completed
              and s.discomfort is not null and d.day_state <> 'unknown'
            group by s.discomfort
            """,
            [pid],
        )
    )
    rated, gentle, aggressive = query(
        dashboard_dir,
        "select sum(rated_sessions), sum(gentle_sessions), sum(aggressive_sessions) "
        "from marts.principles where pid = ?",
        [pid],
    )[0]
    assert sum(by_rating.values()) == rated > 0  # the same sessions the `gentle` score counts

    spec = charts(at)["discomfort"]
    shown = {x: y for t in spec["data"] for x, y in zip(t["x"], t["y"], strict=True)}
    assert shown == {rating: by_rating.get(rating, 0) for rating in range(11)}
    gentle_bars, moderate_bars, aggressive_bars = spec["data"]
    assert gentle_bars["x"] == [0, 1, 2, 3] and sum(gentle_bars["y"]) == gentle
    assert aggressive_bars["x"] == [7, 8, 9, 10] and sum(aggressive_bars["y"]) == aggressive
    assert sum(moderate_bars["y"]) == rated - gentle - aggressive
    assert f"Of {rated} rated sessions, **{gentle / rated:.0%} were gentle**" in page_text(at)


def test_breathing_and_stability_shares_per_started_week(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    weeks = query(
        dashboard_dir,
        """
        select week, breathing, breathing_sessions, breathing_known_sessions,
               stability, stability_days, stretch_days
        from marts.principles where pid = ? and days_elapsed > 0 order by week
        """,
        [pid],
    )
    spec = charts(at)["breathing_stability"]
    breathing = trace(spec, "stretch sessions with guided breathing")
    stability = trace(spec, "practice days followed by stability work")
    assert breathing["x"] == stability["x"] == [w[0] for w in weeks]
    assert all(close(a, w[1]) for a, w in zip(breathing["y"], weeks, strict=True))
    assert all(close(a, w[4]) for a, w in zip(stability["y"], weeks, strict=True))
    assert [c[1:] for c in breathing["customdata"]] == [[w[2], w[3]] for w in weeks]
    assert [c[1:] for c in stability["customdata"]] == [[w[5], w[6]] for w in weeks]
    # A real 0 % is labelled; a week with nothing to count has no label at all.
    assert breathing["text"] == ["" if w[1] is None else f"{w[1]:.0%}" for w in weeks]


def test_steps_and_sleep_never_show_unworn_days_as_zero(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    days = query(
        dashboard_dir,
        """
        select day::varchar, wear_state, steps, sleep_minutes
        from marts.participant_day
        where pid = ? and day <= ? and day_state <> 'unknown'
        order by day
        """,
        [pid, as_of(dashboard_dir)],
    )
    worn = [(d, steps) for d, state, steps, _ in days if state == "worn"]
    assert worn and len(worn) < len(days), (
        "the busy test person should wear the tracker, not always"
    )
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    spec = charts(at)["activity_sleep"]
    steps = trace(spec, "steps")
    assert [x[:10] for x in steps["x"]] == [d for d, _ in worn]
    assert steps["y"] == [s for _, s in worn]
    for state, label in (
        ("worn", "tracker worn"),
        ("not_worn", "not worn"),
        ("no_data", "no tracker"),
    ):
        strip = trace(spec, label)
        assert [x[:10] for x in strip["x"]] == [d for d, s, _, _ in days if s == state]
    sleep = trace(spec, "sleep")
    assert all(
        close(shown, None if minutes is None else minutes / 60)
        for shown, (_, _, _, minutes) in zip(sleep["y"], days, strict=True)
    )
    not_worn = sum(1 for _, s, _, _ in days if s == "not_worn")
    assert (
        f"Tracker worn on **{len(worn)} of {len(days)} days** so far ({not_worn} not worn"
        in page_text(at)
    )


def test_pain_panel_rolling_mean_baseline_and_responder_threshold(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    cutoff = as_of(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    daily = query(
        dashboard_dir,
        """
        select day::varchar, pain, count(pain) over w, avg(pain) over w
        from marts.participant_day
        where pid = ? and day <= ? and day_state <> 'unknown'
        window w as (order by day range between interval 6 days preceding and current row)
        order by day
        """,
        [pid, cutoff],
    )
    weekly = query(
        dashboard_dir,
        """
        select program_week, avg(pain), count(pain) from marts.participant_day
        where pid = ? and day <= ? and day_state <> 'unknown'
        group by program_week having count(pain) >= 3 order by program_week
        """,
        [pid, cutoff],
    )
    baseline, baseline_week, latest, responder = query(
        dashboard_dir,
        "select pain_baseline, pain_baseline_week, pain_latest, pain_responder "
        "from marts.outcomes where pid = ?",
        [pid],
    )[0]
    assert baseline is not None, "the busy test person should have a pain baseline"

    spec = charts(at)["pain"]
    checkins = trace(spec, "daily check-in")
    assert [x[:10] for x in checkins["x"]] == [d for d, pain, _, _ in daily if pain is not None]
    assert checkins["y"] == [pain for _, pain, _, _ in daily if pain is not None]
    rolling = trace(spec, "7-day mean")
    expected = [mean if n >= 3 else None for _, _, n, mean in daily]
    assert len(rolling["y"]) == len(expected)
    assert all(close(a, b) for a, b in zip(rolling["y"], expected, strict=True))
    means = trace(spec, "weekly mean")
    assert [c[0] for c in means["customdata"]] == [w for w, _, _ in weekly]
    assert all(close(a, m) for a, (_, m, _) in zip(means["y"], weekly, strict=True))
    threshold = baseline - max(2, 0.3 * baseline)
    baseline_line = trace(spec, "baseline")
    threshold_line = trace(spec, "responder threshold")
    assert all(close(y, baseline) for y in baseline_line["y"])
    assert all(close(y, threshold) for y in threshold_line["y"])
    assert f"(week {baseline_week})" in baseline_line["name"]

    shown = metrics(at)
    assert shown["Baseline pain"] == f"{baseline:.1f}"
    assert shown["Pain responder"] == (
        "not known yet" if responder is None else ("yes" if responder else "not yet")
    )
    if latest is not None:  # the line means what the mart means
        assert (latest <= threshold + 1e-9) == responder


def test_responder_threshold_agrees_with_the_mart_for_everyone(dashboard_dir):
    from dashboards.person_metrics import responder_threshold

    rows = query(
        dashboard_dir,
        "select pain_baseline, pain_latest, pain_responder from marts.outcomes "
        "where pain_responder is not null",
    )
    assert rows
    rules = snapshot_rules(dashboard_dir)
    for baseline, latest, responder in rows:
        assert (latest <= responder_threshold(baseline, rules) + 1e-9) == responder, (
            baseline,
            latest,
        )


def test_principle_scores_over_started_weeks(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    rows = query(
        dashboard_dir,
        f"select week, week_complete, {', '.join(PRINCIPLE_COLUMNS)} from marts.principles "
        "where pid = ? and days_elapsed > 0 order by week",
        [pid],
    )
    heatmap = charts(at)["principles"]["data"][0]
    assert heatmap["type"] == "heatmap"
    assert len(heatmap["y"]) == len(PRINCIPLE_COLUMNS)
    assert heatmap["x"] == [f"Wk {w}" + ("" if complete else "*") for w, complete, *_ in rows]
    for index, scores in enumerate(heatmap["z"]):
        assert all(close(a, row[2 + index]) for a, row in zip(scores, rows, strict=True))


def test_own_effects_with_their_intervals(dashboard_dir, monkeypatch):
    pid = a_person_with_effects(dashboard_dir)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    rows = query(
        dashboard_dir,
        """
        select e.term, e.estimate, e.ci_low, e.ci_high, e.n_obs, c.estimate
        from models.person_effects as e left join models.cohort_effects as c using (term)
        where e.pid = ? order by e.term
        """,
        [pid],
    )
    spec = charts(at)["effects"]
    person = trace(spec, "this person")
    assert all(close(a, r[1]) for a, r in zip(person["x"], rows, strict=True))
    assert all(close(a, r[3] - r[1]) for a, r in zip(person["error_x"]["array"], rows, strict=True))
    assert all(
        close(a, r[1] - r[2]) for a, r in zip(person["error_x"]["arrayminus"], rows, strict=True)
    )
    cohort = trace(spec, "whole program")
    assert all(close(a, r[5]) for a, r in zip(cohort["x"], rows, strict=True))
    text = page_text(at)
    headings = {
        "sleep_prev_night_h": "**Sleep and next-day pain.**",
        "consistency_10pct": "**Practice and weekly pain.**",
    }
    for term, estimate, low, high, n_obs, _ in rows:
        assert headings[term] in text
        assert f"**{abs(estimate):.2f} points {'lower' if estimate < 0 else 'higher'}**" in text
        assert f"(95 % interval {low:+.2f} to {high:+.2f}; {n_obs} " in text


def test_no_own_effects_says_what_data_is_missing(dashboard_dir, monkeypatch):
    pid = a_person_without_effects(dashboard_dir)
    cutoff = as_of(dashboard_dir)
    paired_days = query(
        dashboard_dir,
        "select count(*) from marts.participant_day where pid = ? and day <= ? "
        "and day_state <> 'unknown' and pain is not null and sleep_minutes is not null",
        [pid, cutoff],
    )[0][0]
    model_weeks = query(
        dashboard_dir,
        "select count(*) from marts.participant_week where pid = ? and days_elapsed > 0 "
        "and mean_pain is not null and adherence is not null and mean_steps is not null",
        [pid],
    )[0][0]
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    assert "effects" not in charts(at)
    text = page_text(at)
    assert "Sleep and next-day pain:" in text and "Practice and weekly pain:" in text
    if paired_days < 14:
        assert (
            f"needs at least 14 days with both a pain check-in and a recorded night's sleep; has {paired_days}."
            in text
        )
    if model_weeks < 4:
        assert (
            f"needs at least 4 weeks with a weekly pain mean, practice and a worn tracker (steps); has {model_weeks}."
            in text
        )


# --- who may see whom -------------------------------------------------------------------------


def test_coach_sees_their_own_participant(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir, first_coach(dashboard_dir))
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert not at.error
    assert at.selectbox[0].value == pid
    assert set(PANELS) <= set(charts(at))
    viewed = new_events(dashboard_dir, before, pid=pid, outcome="viewed")
    assert [(e.user, e.role, e.page) for e in viewed] == [("coach", "coach", "person")]


def test_coach_selectbox_lists_only_their_caseload(dashboard_dir, monkeypatch):
    at = open_app(dashboard_dir, monkeypatch, "coach", "person")

    caseload = caseload_pids(dashboard_dir, first_coach(dashboard_dir))
    listed = {option.split(" · ")[0] for option in at.selectbox[0].options}
    assert caseload and listed == caseload


@pytest.mark.parametrize("coach", ["coach", "other_coach"])
def test_coach_asking_for_another_coachs_participant_is_refused(dashboard_dir, monkeypatch, coach):
    pid = someone_of_another_coach(dashboard_dir)
    cohort, site = query(
        dashboard_dir, "select cohort, site from marts.participants where pid = ?", [pid]
    )[0]
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, coach, "person", pid=pid)

    assert [e.value for e in at.error] == ["This participant is not in your caseload."]
    assert not at.get("plotly_chart")
    assert not at.metric
    assert not at.selectbox
    assert not at.get("download_button")
    text = page_text(at)
    assert site not in text and f"Cohort **{cohort}**" not in text
    events = new_events(dashboard_dir, before, pid=pid)
    assert [(e.outcome, e.page) for e in events] == [("denied", "person")]

    at.run()  # a rerun of the same refusal is not a second event
    assert len(new_events(dashboard_dir, before, pid=pid)) == 1


def test_analyst_sees_no_person_page(dashboard_dir, monkeypatch):
    pid = a_busy_person(dashboard_dir)
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "analyst", "person", pid=pid)

    assert "Person page is not available" in at.error[0].value
    assert not at.get("plotly_chart") and not at.metric and not at.selectbox
    events = new_events(dashboard_dir, before, pid=pid)
    assert [(e.user, e.outcome) for e in events] == [("analyst", "denied")]


def test_program_manager_sees_anyone(dashboard_dir, monkeypatch):
    coaches = [
        c for (c,) in query(dashboard_dir, "select distinct coach_id from marts.participants")
    ]
    assert len(coaches) > 1
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person")
    everyone = {pid for (pid,) in query(dashboard_dir, "select pid from marts.participants")}
    assert {option.split(" · ")[0] for option in at.selectbox[0].options} == everyone

    for coach in coaches:
        pid = a_busy_person(dashboard_dir, coach)
        at.selectbox[0].select(pid).run()
        assert not at.exception and not at.error
        assert f"coach {coach}" in page_text(at)
        assert set(PANELS) <= set(charts(at))


def test_one_audit_event_per_person_view_not_per_rerun(dashboard_dir, monkeypatch):
    first = a_busy_person(dashboard_dir)
    second = a_person_without_effects(dashboard_dir)
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=first)
    at.run()
    at.run()
    assert len(new_events(dashboard_dir, before, pid=first, outcome="viewed")) == 1

    at.selectbox[0].select(second).run()
    at.run()
    assert len(new_events(dashboard_dir, before, pid=second, outcome="viewed")) == 1

    at.selectbox[0].select(first).run()  # coming back to someone is a new view
    viewed = new_events(dashboard_dir, before, outcome="viewed")
    assert [e.pid for e in viewed] == [first, second, first]
    assert {(e.user, e.role, e.page) for e in viewed} == {("pm", "program_manager", "person")}
    assert all(e.at for e in viewed)


# --- the printable progress report ------------------------------------------------------------


def assert_standalone_html(html: str) -> ReportHtml:
    parsed = ReportHtml(html)
    assert parsed.doctype.lower() == "doctype html"
    assert not parsed.errors and not parsed.stack
    names = [tag for tag, _ in parsed.tags]
    assert names[:2] == ["html", "head"] and names.count("body") == 1
    assert "script" not in names and "iframe" not in names and "link" not in names
    for _, attributes in parsed.tags:
        assert "src" not in attributes and "href" not in attributes
    assert "http://" not in html and "https://" not in html and "@import" not in html
    assert "@media print" in html
    return parsed


def test_report_download_has_the_numbers_and_no_raw_ids(dashboard_dir, monkeypatch, downloads):
    pid = a_busy_person(dashboard_dir)
    cutoff = as_of(dashboard_dir)
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    (button,) = at.get("download_button")
    assert button.label == "Download progress report"
    [(file_name, data)] = [(d.name, d.data) for d in downloads if d.name and pid in d.name]
    assert file_name == f"progress-report-{pid}-{cutoff}.html"
    html = data.decode("utf-8")
    parsed = assert_standalone_html(html)

    done, missed, unknown = day_state_counts(dashboard_dir, pid, cutoff)
    current, longest = expected_streaks(dashboard_dir, pid)
    complete, adherent = query(
        dashboard_dir,
        "select count(*), count(*) filter (where adherence >= ?) from marts.participant_week "
        "where pid = ? and week_complete",
        [snapshot_rules(dashboard_dir).adherent_share, pid],
    )[0]
    assert parsed.text["days_done"] == str(done)
    assert parsed.text["days_missed"] == str(missed)
    assert parsed.text["days_unknown"] == str(unknown)
    assert parsed.text["current_streak"] == f"{current} d"
    assert parsed.text["longest_streak"] == f"{longest} d"
    assert parsed.text["adherent_weeks"] == f"{adherent} of {complete}"

    weekly = query(
        dashboard_dir,
        "select week, sessions, prescribed from marts.participant_week "
        "where pid = ? and days_elapsed > 0 order by week",
        [pid],
    )
    bars = [a for tag, a in parsed.tags if tag == "rect" and "data-sessions" in a]
    assert [
        (int(a["data-week"]), int(a["data-sessions"]), int(a["data-prescribed"])) for a in bars
    ] == weekly
    cells = [a for tag, a in parsed.tags if tag == "td" and "data-state" in a]
    states = query(
        dashboard_dir,
        "select day::varchar, case when day > ? then 'upcoming' else day_state end "
        "from marts.participant_day where pid = ? order by day",
        [cutoff, pid],
    )
    assert [(a["data-day"], a["data-state"]) for a in cells] == states

    baseline, latest, change = query(
        dashboard_dir,
        "select pain_baseline, pain_latest, pain_change from marts.outcomes where pid = ?",
        [pid],
    )[0]
    assert parsed.text["pain_baseline"] == f"{baseline:.1f}"
    if latest is not None:
        assert parsed.text["pain_latest"] == f"{latest:.1f}"
        assert parsed.text["pain_change"] == f"{change:+.1f}"
    lines = {
        a["data-line"]: float(a["data-value"])
        for tag, a in parsed.tags
        if tag == "line" and "data-line" in a
    }
    assert lines["baseline"] == round(baseline, 1)
    assert lines["threshold"] == round(baseline - max(2, 0.3 * baseline), 1)

    scores = query(
        dashboard_dir,
        "select week, consistency from marts.principles where pid = ? and days_elapsed > 0 "
        "order by week",
        [pid],
    )
    shown_weeks = [
        int(a["data-week"])
        for tag, a in parsed.tags
        if tag == "td" and a.get("data-principle") == "consistency"
    ]
    assert shown_weeks == [week for week, _ in scores]
    for week, score in scores:
        assert parsed.text[f"consistency:{week}"] == ("–" if score is None else f"{score:.0%}")

    assert pid in html
    leaked = {raw for raw in roster_participant_ids(dashboard_dir) if raw in html}
    assert roster_participant_ids(dashboard_dir) and not leaked
    assert "Data as of" in html and "Privacy" in html

    # No report event until it is downloaded; then exactly one, and no second "viewed".
    assert not new_events(dashboard_dir, before, pid=pid, outcome="report")
    button.click().run()
    assert not at.exception
    reports = new_events(dashboard_dir, before, pid=pid, outcome="report")
    assert [(e.user, e.role, e.page) for e in reports] == [("pm", "program_manager", "person")]
    assert len(new_events(dashboard_dir, before, pid=pid, outcome="viewed")) == 1


# --- whom the coach is helping: the participant id beside the pid -----------------------------


def a_named_person(data_dir: Path, coach_id: str) -> tuple[str, tuple[str, str | None, str]]:
    """A person of `coach_id` whose roster row has a display name: (pid, identity)."""
    return next(
        (pid, identity)
        for pid, identity in sorted(expected_identities(data_dir).items())
        if identity[2] == coach_id and identity[1]
    )


def identity_heading(at) -> str | None:
    """The page's subheader naming the person, markdown escapes removed."""
    headings = [h.value for h in at.subheader if " · " in h.value]
    return headings[0].replace("\\", "") if headings else None


def test_coach_sees_the_participant_id_and_name_of_their_own_person(dashboard_dir, monkeypatch):
    pid, (participant_id, name, _) = a_named_person(dashboard_dir, first_coach(dashboard_dir))
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert identity_heading(at) == f"{participant_id} · {name}"
    at.run()
    # logging in landed on the caseload, which showed (and logged) everyone's identity first:
    # the person page shows nothing this session has not been shown, so it logs nothing new
    shown = new_events(dashboard_dir, before, outcome="identity_shown", pid=pid)
    assert [(e.user, e.page) for e in shown] == [("coach", "caseload")]


def test_a_documented_setting_gives_program_managers_the_ids(dashboard_dir, monkeypatch):
    pid, (participant_id, name, _) = a_named_person(dashboard_dir, first_coach(dashboard_dir))
    monkeypatch.setenv(REVEAL_SETTING, "program_manager")
    before = len(audit.read(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    assert identity_heading(at) == f"{participant_id} · {name}"
    shown = new_events(dashboard_dir, before, outcome="identity_shown")
    assert [(e.user, e.role, e.pid) for e in shown] == [("pm", "program_manager", pid)]


@pytest.mark.parametrize("setting", ["analyst", "program_manager,coach", "everyone"])
def test_a_setting_naming_another_role_shows_nothing_and_says_why(
    dashboard_dir, monkeypatch, setting
):
    pid, _ = a_named_person(dashboard_dir, first_coach(dashboard_dir))
    monkeypatch.setenv(REVEAL_SETTING, setting)
    at = open_app(dashboard_dir, monkeypatch, "program_manager", "person", pid=pid)

    assert identity_heading(at) is None
    assert f"{REVEAL_SETTING}={setting!r} may name only program_manager" in page_text(at)


def test_a_display_name_is_shown_as_text_never_as_markdown(dashboard_dir, tmp_path, monkeypatch):
    data_dir = copy_published(dashboard_dir, tmp_path)
    pid, _ = a_named_person(dashboard_dir, first_coach(dashboard_dir))
    identities = read_identities(data_dir / "access" / "identities.json")
    crafted = "![x](https://tracker.invalid/p.png) **Ana** <b>R.</b> :red[!]"
    identities[pid] = identities[pid]._replace(display_name=crafted)
    write_identities(DataDir.at(data_dir), identities, "crafted")
    at = open_app(data_dir, monkeypatch, "coach", "person", pid=pid)

    (heading,) = [h.value for h in at.subheader if " · " in h.value]
    assert heading.endswith(
        r"\!\[x\]\(https\://tracker\.invalid/p\.png\) \*\*Ana\*\* \<b\>R\.\</b\> \:red\[\!\]"
    )


def test_the_coachs_printed_report_names_the_person_by_pid_only(
    dashboard_dir, monkeypatch, downloads
):
    pid, (participant_id, name, _) = a_named_person(dashboard_dir, first_coach(dashboard_dir))
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert identity_heading(at) == f"{participant_id} · {name}"  # on screen, yes
    [html] = [d.data.decode("utf-8") for d in downloads if d.name and pid in d.name]
    assert pid in html
    assert participant_id not in html and name not in html


# --- the early warning: risk of stopping ------------------------------------------------------


def risk_history(at) -> list[dict]:
    (frame,) = [f.value for f in at.dataframe if "band" in f.value.columns]
    return frame.to_dict("records")


def published_weeks(data_dir: Path, pid: str) -> list[tuple]:
    return query(
        data_dir,
        "select week, as_of, band, probability, coalesce(reasons, '') "
        "from models.disengagement_risk where pid = ? order by week",
        [pid],
    )


def test_the_current_band_its_reasons_date_and_weekly_history(dashboard_dir, monkeypatch):
    expected = expected_risk(dashboard_dir)
    mine = caseload_pids(dashboard_dir, first_coach(dashboard_dir))
    pid = min(p for p in mine if (c := expected[p]["current"]) and c["band"] != "low")
    current = expected[pid]["current"]
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert not at.error and not at.exception
    markdown = [m.value for m in at.markdown]
    assert (
        f"{current['band']} risk] · computed {computed_text(current['as_of'], current['week'])}"
        in "\n".join(markdown)
    )
    assert f"**Why:** {current['reasons']}" in markdown
    history = [
        (row["week"], row["as_of"].date(), list(row["band"]), row["probability"], row["reasons"])
        for row in risk_history(at)
    ]
    assert history == [
        (week, as_of, [band], pytest.approx(p), reasons)
        for week, as_of, band, p, reasons in published_weeks(dashboard_dir, pid)
    ]
    assert "Bands from the baseline rule" in page_text(at)


def test_a_completed_person_has_no_current_band_and_is_told_why(dashboard_dir, monkeypatch):
    expected = expected_risk(dashboard_dir)
    mine = caseload_pids(dashboard_dir, first_coach(dashboard_dir))
    pid = min(p for p in mine if expected[p]["status"] == "completed")
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert [i.value for i in at.info if "risk band" in i.value] == [
        "No current risk band: program completed: the early warning is for people still in the "
        "program."
    ]
    assert len(risk_history(at)) == len(published_weeks(dashboard_dir, pid)) > 0


def test_another_coachs_person_by_url_shows_nothing_of_their_risk(dashboard_dir, monkeypatch):
    expected = expected_risk(dashboard_dir)
    mine = caseload_pids(dashboard_dir, first_coach(dashboard_dir))
    pid = min(
        p for p, e in expected.items()
        if p not in mine and any(reasons for *_, reasons in published_weeks(dashboard_dir, p))
    )  # fmt: skip
    reasons = {r for *_, r in published_weeks(dashboard_dir, pid) if r}
    at = open_app(dashboard_dir, monkeypatch, "coach", "person", pid=pid)

    assert [e.value for e in at.error] == ["This participant is not in your caseload."]
    assert not at.dataframe
    sent = sent_text(at)
    assert "Risk of stopping" not in sent and not {r for r in reasons if r in sent}
