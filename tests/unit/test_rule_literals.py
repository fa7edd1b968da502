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
    ("sql/marts/flags.sql", "o.pain_baseline + 2 - 1e-9"): (
        "the pain_rising flag's rise (a flag threshold; flags are reworked in issue 13)"
    ),
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
