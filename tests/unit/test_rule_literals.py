"""No copy of a program rule's threshold outside `pipelines/lib/rules.py`.

Each rule of `ProgramRules` is read from one place: the SQL from `meta.program_rules`, the
statistics from the rules the warehouse recorded, the dashboards from the snapshot's
`meta.rules`. The patterns below match the ways the copies were written before they were
removed — a comparison with the number, a constant, a sentence with the number in it —
and `OLD_COPIES` holds those lines, so every pattern is shown to catch a copy put back.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.lib.rules import rule_keys

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("sql", "pipelines", "dashboards")
NOT_SCANNED = {
    "pipelines/lib/rules.py": "the one definition of the rules",
    "pipelines/lib/demo_cohort/": "the generator simulates people: its numbers are behaviour",
}
# (file, text of the line): why a number there is not the rule
ALLOWED = {
    ("dashboards/charts.py", '"instead of 60 %) goes with {size} points'): (
        "an example of 10 percentage points more practice"
    ),
}

# Case-sensitive: constants are upper case, SQL and prose lower case.
PATTERNS: dict[str, list[str]] = {
    "gentle_max_discomfort": [
        r"discomfort\s*(<=|≤)\s*\d",
        r"GENTLE\w*\s*=\s*\d",
        r"gentle.*≤\s*\d",
    ],
    "aggressive_min_discomfort": [
        r"discomfort\s*(>=|≥)\s*\d",
        r"AGGRESSIVE\w*\s*=\s*\d",
        r"aggressive.*≥\s*\d",
        r"discomfort \d+/10 or more",
    ],
    "adherent_share": [r"\b0\.8\b", r"\b80\s*%", r"ADHERENT\w*\s*=\s*\d"],
    "dose_band_low_share": [r"(?i:band|adheren|dose).*\b0\.6\b", r"\b60\s*%"],
    "responder_pain_points": [
        r"\b2(\.0)?\s*-\s*1e-9",
        r"\b2 points",
        r"max\(\s*2\b",
        r"RESPONDER_POINTS\s*=",
    ],
    "responder_pain_share": [r"\b0\.3\s*\*", r"\*\s*0\.3\b", r"\b30\s*%", r"RESPONDER_SHARE\s*="],
    "responder_odi_points": [
        r"\b10(\.0)?\s*-\s*1e-9",
        r"(?i:odi).*\b10 points",
        r"odi_latest\s*(>=|≥)\s*\d",
    ],
    "responder_tsk_points": [r"\b5\.6\b"],
    "baseline_min_checkins": [
        r"(count\(pain\)|checkin_days|check-?ins)\s*(>=|≥)\s*\d",
        r"\b[1-7]\s+(pain\s+)?check-?ins?\b",
        r"(?<!ROLLING)_MIN_CHECKINS\s*=\s*\d",
    ],
    "valid_wear_minutes": [r"\b600\b", r"\b10\s*h\b", r"MIN_WEAR\w*\s*=\s*\d"],
    "person_min_paired_days": [r"PERSON_MIN\w*\s*=\s*\d", r"\b14\s+paired", r"MIN_DAYS\s*=\s*\d"],
    "person_min_weeks": [r"PERSON_MIN\w*\s*=\s*\d", r"MIN_(MODEL_)?WEEKS\s*=\s*\d"],
    "disengagement_gap_days": [
        r"\b14\b.{0,25}(day|gap)",
        r"(gap|disengag).{0,40}\b14\b",
        r"GAP_DAYS\s*=\s*\d",
    ],
    # the flags' thresholds (sql/marts/flags.sql)
    "missed_days_info_days": [r"n_days\s*>=\s*\d"],
    "missed_days_warning_days": [r"n_days\s*>=\s*\d+\s+then\s+'warning'"],
    "missed_days_alert_days": [r"n_days\s*>=\s*\d+\s+then\s+'alert'"],
    "no_wear_info_days": [r"n_days\s*>=\s*\d"],
    "no_wear_warning_days": [r"n_days\s*>=\s*\d+\s+then\s+'warning'"],
    "burst_max_practice_days": [r"days_practised\s+between\s+\d+\s+and\s+\d", r"at most \d+ days"],
    "burst_gap_days": [r"n_days\s*>=\s*\d", r"followed by \d+ or more days"],
    "boom_bust_warning_bursts": [r"count\(\*\)\s*(=|>=)\s*\d+\s+then\s+'warning'"],
    "boom_bust_alert_bursts": [r"count\(\*\)\s*>=\s*\d+\s+then\s+'alert'"],
    "too_intense_min_sessions": [r"aggressive_sessions\s*>=\s*\d"],
    "too_intense_alert_sessions": [r"max_n\s*>=\s*\d"],
    "no_breathing_min_sessions": [r"breathing_known_sessions\s*>=\s*\d"],
    "no_stability_min_days": [r"stretch_days\s*>=\s*\d"],
    "short_sleep_min_nights": [r"sleep_nights\s*>=\s*\d"],
    "short_sleep_minutes": [r"mean_sleep_minutes\s*<\s*\d", r"under \d+ h\b"],
    "short_sleep_warning_minutes": [r"min_v\s*<\s*\d"],
    "pain_rising_points": [r"pain_baseline\s*\+\s*\d"],
    "pain_rising_alert_points": [r"max_rise\s*>=\s*\d"],
    "flag_escalation_weeks": [r"n_weeks\s*>=\s*\d"],
    # the early warning and the coach digest
    "disengagement_horizon_days": [r"HORIZON\w*\s*=\s*\d", r"(next|within) \d+ days"],
    "risk_raised_probability": [r"RAISED\w*\s*=\s*\d", r"probability\s*>=\s*0?\.\d"],
    "risk_high_probability": [r"HIGH\w*\s*=\s*0?\.\d", r"probability\s*>=\s*0?\.\d"],
    "risk_baseline_adherence": [
        r"adherence\s*<\s*0?\.\d",
        r"BASELINE\w*\s*=\s*0?\.\d",
        r"adherence.{0,40}(below|under|<) \d+\s*%",
    ],
    "risk_min_events": [r"MIN\w*EVENTS\s*=\s*\d", r"events\s*(>=|<)\s*\d"],
    "checkin_silence_days": [
        r"SILEN\w*\s*=\s*\d",
        r"days_since_checkin\s*>=\s*\d",
        r"no check-?in (for|in) \d+ days",
    ],
}

# Lines of the copies this issue removed, one or more per rule.
OLD_COPIES: dict[str, list[str]] = {
    "gentle_max_discomfort": [
        "count(*) filter (where s.discomfort <= 3) as gentle_sessions,",
        "GENTLE_MAX_DISCOMFORT = 3",
    ],
    "aggressive_min_discomfort": [
        "count(*) filter (where discomfort >= 7) as aggressive_sessions,",
        "AGGRESSIVE_MIN_DISCOMFORT = 7",
    ],
    "adherent_share": [
        "adherence >= 0.8 as adherent,",
        "ADHERENT_WEEK_THRESHOLD = 0.8",
        '"≥ 80 %). Each point is the band\'s mean weekly pain (0–10) in that program week"',
    ],
    "dose_band_low_share": [
        'BANDS = (("< 60 %", 0.0, 0.6), ("60–79 %", 0.6, 0.8), ("≥ 80 %", 0.8, 1.0 + 1e-9))',
    ],
    "responder_pain_points": [
        "then pain_baseline - pain_latest >= 2 - 1e-9",
        "PAIN_RESPONDER_POINTS = 2.0",
        '"Share of people whose weekly pain fell by at least 2 points and at least 30 % from "',
        'f"(baseline − max(2, 30 % of baseline))."',
    ],
    "responder_pain_share": [
        "and pain_baseline - pain_latest >= 0.3 * pain_baseline - 1e-9",
        "PAIN_RESPONDER_SHARE = 0.3",
    ],
    "responder_odi_points": ["then odi_baseline - odi_latest >= 10 - 1e-9"],
    "responder_tsk_points": ["then tsk_baseline - tsk_latest >= 5.6"],
    "baseline_min_checkins": [
        "having count(pain) >= 3",
        "filter (where w.mean_pain is not null and w.checkin_days >= 3)",
        "PAIN_WEEK_MIN_CHECKINS = 3",
        "PAIN_BAND_MIN_CHECKINS = 3",
        '"week with at least 3 check-ins; lower is better."',
        '"<p>No pain baseline yet (needs 3 check-ins in week 1 or 2).</p>"',
    ],
    "valid_wear_minutes": [
        "select coalesce(min(min_wear_minutes), 600) as threshold from meta.run_parameters",
        "min_wear_minutes: int = 600  # a valid wearable day has at least this much wear (10 h)",
    ],
    "person_min_paired_days": [
        "PERSON_MIN_DAYS = 14  # paired days (pain and previous-night sleep)",
        "PERSON_MIN_PAIRED_DAYS = 14",
    ],
    "person_min_weeks": [
        "PERSON_MIN_WEEKS = 4  # complete weeks (mean pain, adherence, steps)",
        "PERSON_MIN_MODEL_WEEKS = 4",
    ],
    "disengagement_gap_days": [
        "select 14 as disengaged_after_days",
        '"the retention chart): someone disengages when 14 days in a row pass without any "',
        '"Kaplan–Meier: share still engaged (no 14-day gap without practice) by days since"',
        "GAP_DAYS = 14",
    ],
    # issue 13: the flags' own thresholds, as sql/marts/flags.sql wrote them
    "missed_days_info_days": ["    where n_days >= 3"],
    "missed_days_warning_days": [
        "case when n_days >= 7 then 'alert' when n_days >= 5 then 'warning' else 'info' end"
    ],
    "missed_days_alert_days": [
        "case when n_days >= 7 then 'alert' when n_days >= 5 then 'warning' else 'info' end"
    ],
    "no_wear_info_days": ["    where n_days >= 5"],
    "no_wear_warning_days": ["case when n_days >= 14 then 'warning' else 'info' end as severity,"],
    "burst_max_practice_days": [
        "        and w.days_practised between 1 and 2",
        "-- a burst week: at least the prescribed sessions (and more sessions than days) on at most 2 days",
    ],
    "burst_gap_days": [
        "    where r.n_days >= 4",
        "|| sum(days_practised) || ' days in all), each followed by 4 or more days '",
    ],
    "boom_bust_warning_bursts": [
        "case when count(*) >= 3 then 'alert' when count(*) = 2 then 'warning' else 'info' end"
    ],
    "boom_bust_alert_bursts": [
        "case when count(*) >= 3 then 'alert' when count(*) = 2 then 'warning' else 'info' end"
    ],
    "too_intense_min_sessions": ["    where aggressive_sessions >= 2"],
    "too_intense_alert_sessions": [
        "case when n_weeks >= 2 or max_n >= 4 then 'alert' else 'warning' end"
    ],
    "no_breathing_min_sessions": [
        "    where breathing_known_sessions >= 2 and breathing_sessions = 0"
    ],
    "no_stability_min_days": ["    where stretch_days >= 2 and stability_days = 0"],
    "short_sleep_min_nights": ["    where sleep_nights >= 3 and mean_sleep_minutes < 360"],
    "short_sleep_minutes": [
        "    where sleep_nights >= 3 and mean_sleep_minutes < 360",
        "'Average sleep under 6 h a night in ' || weeks_label || ', lowest weekly mean '",
    ],
    "short_sleep_warning_minutes": [
        "case when n_weeks >= 2 or min_v < 300 then 'warning' else 'info' end"
    ],
    "pain_rising_points": [
        "where w.week > o.pain_baseline_week and p.mean_pain >= o.pain_baseline + 2 - 1e-9"
    ],
    "pain_rising_alert_points": [
        "case when n_weeks >= 2 or max_rise >= 3 - 1e-9 then 'alert' else 'warning' end"
    ],
    "flag_escalation_weeks": ["else case when n_weeks >= 2 then 'warning' else 'info' end"],
    # issue 13's new rules had no copy to remove: the copies they are guarded against
    "disengagement_horizon_days": [
        "HORIZON_DAYS = 14",
        '"a spell that starts within the next 14 days"',
    ],
    "risk_raised_probability": ["RISK_RAISED = 0.2", "when probability >= 0.2 then 'raised'"],
    "risk_high_probability": ["RISK_HIGH = 0.5", "if probability >= 0.5:"],
    "risk_baseline_adherence": [
        "flagged = last_adherence < 0.5",
        "BASELINE_ADHERENCE = 0.5",
        'f"adherence last week below 50 %"',
    ],
    "risk_min_events": ["MIN_TEST_EVENTS = 20", "if test_events < 20:"],
    "checkin_silence_days": [
        "CHECKIN_SILENCE_DAYS = 7",
        "days_since_checkin >= 7",
        '"no check-in for 7 days"',
    ],
}


def copies(rule: str, line: str) -> bool:
    return any(re.search(pattern, line) for pattern in PATTERNS[rule])


def scanned_files() -> list[Path]:
    files = [
        path
        for folder in SCANNED
        for path in sorted((REPO / folder).rglob("*"))
        if path.suffix in (".py", ".sql")
    ]
    relative = [path.relative_to(REPO).as_posix() for path in files]
    return [
        path
        for path, name in zip(files, relative, strict=True)
        if not any(name.startswith(skipped) for skipped in NOT_SCANNED)
    ]


def found_copies(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        name = path.relative_to(REPO).as_posix()
        allowed = [text for file, text in ALLOWED if file == name]
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if any(text in line for text in allowed):
                continue
            found += [
                f"{name}:{number}: {rule}: {line.strip()}"
                for rule in PATTERNS
                if copies(rule, line)
            ]
    return found


def test_every_rule_has_patterns_and_old_copies():
    assert set(PATTERNS) == set(OLD_COPIES) == set(rule_keys())


@pytest.mark.parametrize("rule", sorted(OLD_COPIES))
def test_the_patterns_catch_every_old_copy(rule):
    assert [line for line in OLD_COPIES[rule] if not copies(rule, line)] == []


def test_no_threshold_of_a_rule_is_written_outside_the_rules_module():
    files = scanned_files()
    assert len(files) > 50 and any(f.suffix == ".sql" for f in files)
    assert found_copies(files) == []


def test_a_copy_put_back_is_found(tmp_path, monkeypatch):
    """The scan itself (not only the patterns): a marts file with an old copy fails it."""
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    (tmp_path / "sql" / "marts").mkdir(parents=True)
    mart = tmp_path / "sql" / "marts" / "principles.sql"
    mart.write_text("select adherence >= 0.8 as adherent from marts.participant_week\n")
    assert found_copies(scanned_files()) == [
        "sql/marts/principles.sql:1: adherent_share: "
        "select adherence >= 0.8 as adherent from marts.participant_week"
    ]
