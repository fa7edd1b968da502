"""The program's rules: every clinical and data-quality threshold, defined once.

`ProgramRules` holds one field per rule; each field's metadata (`Rule`) says its unit, the
values allowed and the reference its default comes from. A program overrides defaults in
`<data dir>/program.toml`:

    [rules]
    adherent_share = 0.7
    valid_wear_minutes = 480

`load_program_rules` reads and checks that file (`ProgramRulesError` names the file, the key,
the value and what is allowed) before a run parses anything. The run records the rules it used
in the warehouse (`record_rules`: `meta.rules`, one row per rule, published with the snapshot,
and `meta.program_rules`, the same values as one row that the SQL cross-joins), the statistics
step reads them back from there and the dashboards from the snapshot (`read_recorded_rules`),
so every number is explained by the rules that made it. docs/metrics.md, "Program rules".
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints

import duckdb

from .layout import DataDir

PROGRAM_FILE = "program.toml"
RULES_TABLE = "rules"  # the one table program.toml may have
SOURCE_DEFAULT = "default"
SOURCE_FILE = PROGRAM_FILE


class ProgramRulesError(ValueError):
    """A rule override that is not allowed; the run stops before anything is parsed or built."""


@dataclass(frozen=True)
class Rule:
    """What one rule means: its unit, the values allowed, and where its default comes from."""

    unit: str
    low: float
    high: float
    reference: str
    description: str
    below: str | None = None  # another rule this one must stay below


def _rule(default: int | float, **about: Any) -> Any:
    return field(default=default, metadata={"rule": Rule(**about)})


SPEC = "program-exports spec, Reference thresholds"
FLAGS = "steadyback: docs/metrics.md, Flags"
EARLY_WARNING = "steadyback: docs/models.md, Early warning"


@dataclass(frozen=True)
class ProgramRules:
    """Every threshold the marts, statistics and dashboards apply, with its default."""

    gentle_max_discomfort: int = _rule(
        3,
        unit="discomfort rating",
        low=0,
        high=10,
        below="aggressive_min_discomfort",
        reference=f'{SPEC}: gentle stretch = discomfort ≤ 3 ("mild")',
        description="A completed stretch session rated at most this is gentle.",
    )
    aggressive_min_discomfort: int = _rule(
        7,
        unit="discomfort rating",
        low=0,
        high=10,
        reference=f"{SPEC}: discomfort ≥ 7 is aggressive",
        description="A completed stretch session rated at least this is aggressive.",
    )
    adherent_share: float = _rule(
        0.8,
        unit="share of prescribed sessions",
        low=0,
        high=1,
        reference=f"{SPEC}: adherent week ≥ 80 % of prescribed sessions (Jones et al. 2025)",
        description=(
            "A week is adherent when its adherence (sessions ÷ prescribed) reaches this; "
            "also the lower edge of the top dose–response band."
        ),
    )
    dose_band_low_share: float = _rule(
        0.6,
        unit="share of prescribed sessions",
        low=0,
        high=1,
        below="adherent_share",
        reference="steadyback: docs/models.md, Dose–response (the band below adherent)",
        description=(
            "The dose–response bands are below this, from this up to adherent_share, and "
            "adherent_share or more (mean adherence over completed weeks)."
        ),
    )
    responder_pain_points: float = _rule(
        2.0,
        unit="NRS pain points",
        low=0,
        high=10,
        reference=f"{SPEC}: clinically important change = 2 points or 30 % (Ostelo 2008; IMMPACT)",
        description="A pain responder's weekly mean pain fell by at least this many points …",
    )
    responder_pain_share: float = _rule(
        0.3,
        unit="share of baseline pain",
        low=0,
        high=1,
        reference=f"{SPEC}: clinically important change = 2 points or 30 % (Ostelo 2008; IMMPACT)",
        description="… and by at least this share of their baseline (both must hold).",
    )
    responder_odi_points: float = _rule(
        10.0,
        unit="ODI points",
        low=0,
        high=100,
        reference=f"{SPEC}: ODI 10 points",
        description="An ODI responder's ODI fell by at least this many points.",
    )
    responder_tsk_points: float = _rule(
        5.6,
        unit="TSK-11 points",
        low=0,
        high=33,
        reference=f"{SPEC}: TSK-11 about 5.6 points",
        description="TSK-11 improved: fear of movement fell by at least this many points.",
    )
    baseline_min_checkins: int = _rule(
        3,
        unit="check-in days in a program week",
        low=1,
        high=7,
        reference="steadyback: docs/metrics.md, Outcomes (one or two ratings are too noisy)",
        description=(
            "A weekly mean pain counts (baseline, latest, responder, pain charts) only with "
            "at least this many check-in days."
        ),
    )
    valid_wear_minutes: int = _rule(
        600,
        unit="minutes of wear in a day",
        low=1,
        high=1440,
        reference=f"{SPEC}: valid wearable day ≥ 10 h wear",
        description="A day with at least this much tracker wear is a valid wear day.",
    )
    person_min_paired_days: int = _rule(
        14,
        unit="days",
        low=2,
        high=365,
        reference="steadyback: docs/models.md, Person effects",
        description=(
            "A person's own sleep effect needs at least this many days with both pain and "
            "the previous night's sleep."
        ),
    )
    person_min_weeks: int = _rule(
        4,
        unit="program weeks",
        low=2,
        high=52,
        reference="steadyback: docs/models.md, Person effects",
        description=(
            "A person's own consistency effect needs at least this many weeks with weekly "
            "mean pain, adherence and steps."
        ),
    )
    disengagement_gap_days: int = _rule(
        14,
        unit="days",
        low=1,
        high=365,
        reference="steadyback: docs/models.md, Retention",
        description=(
            "A person disengages on the first day of the first run of this many days in a "
            "row without any completed session."
        ),
    )

    # --- flags (sql/marts/flags.sql; docs/metrics.md, "Flags") ------------------------------
    missed_days_info_days: int = _rule(
        3,
        unit="missed program days in a row",
        low=1,
        high=84,
        below="missed_days_warning_days",
        reference=FLAGS,
        description="The missed_days flag opens (info) after this many missed days in a row.",
    )
    missed_days_warning_days: int = _rule(
        5,
        unit="missed program days in a row",
        low=1,
        high=84,
        below="missed_days_alert_days",
        reference=FLAGS,
        description="… and is a warning from this many days in a row …",
    )
    missed_days_alert_days: int = _rule(
        7,
        unit="missed program days in a row",
        low=1,
        high=84,
        reference=FLAGS,
        description="… and an alert from this many.",
    )
    no_wear_info_days: int = _rule(
        5,
        unit="program days in a row without a valid wear day",
        low=1,
        high=84,
        below="no_wear_warning_days",
        reference=FLAGS,
        description=(
            "The no_wearable_data flag opens (info) after this many days in a row without a "
            "valid wear day, for a person with a tracker …"
        ),
    )
    no_wear_warning_days: int = _rule(
        14,
        unit="program days in a row without a valid wear day",
        low=1,
        high=84,
        reference=FLAGS,
        description="… and is a warning from this many.",
    )
    burst_max_practice_days: int = _rule(
        2,
        unit="practice days in a program week",
        low=1,
        high=6,
        reference=FLAGS,
        description=(
            "A burst week: at least the prescribed sessions, on at most this many days (and "
            "more sessions than days) …"
        ),
    )
    burst_gap_days: int = _rule(
        4,
        unit="missed days in a row",
        low=1,
        high=28,
        reference=FLAGS,
        description="… followed by at least this many missed days in a row (the boom_bust flag).",
    )
    boom_bust_warning_bursts: int = _rule(
        2,
        unit="bursts in one episode",
        low=2,
        high=20,
        below="boom_bust_alert_bursts",
        reference=FLAGS,
        description="A boom_bust episode of this many bursts is a warning (one burst: info) …",
    )
    boom_bust_alert_bursts: int = _rule(
        3,
        unit="bursts in one episode",
        low=2,
        high=20,
        reference=FLAGS,
        description="… and an alert from this many.",
    )
    too_intense_min_sessions: int = _rule(
        2,
        unit="aggressive stretch sessions in a program week",
        low=1,
        high=50,
        below="too_intense_alert_sessions",
        reference=FLAGS,
        description=(
            "A week with at least this many aggressive sessions raises too_intense (warning) …"
        ),
    )
    too_intense_alert_sessions: int = _rule(
        4,
        unit="aggressive stretch sessions in a program week",
        low=1,
        high=50,
        reference=FLAGS,
        description="… an alert with this many in one week (or weeks in a row, below).",
    )
    no_breathing_min_sessions: int = _rule(
        2,
        unit="stretch sessions with known breathing in a program week",
        low=1,
        high=50,
        reference=FLAGS,
        description="no_breathing: a week with at least this many, none with guided breathing.",
    )
    no_stability_min_days: int = _rule(
        2,
        unit="practice days in a program week",
        low=1,
        high=7,
        reference=FLAGS,
        description="no_stability: a week with at least this many practice days, none followed "
        "by stability work.",
    )
    short_sleep_min_nights: int = _rule(
        3,
        unit="recorded nights in a program week",
        low=1,
        high=7,
        reference=FLAGS,
        description="short_sleep: a week with at least this many recorded nights …",
    )
    short_sleep_minutes: int = _rule(
        360,
        unit="mean minutes asleep a night",
        low=1,
        high=1440,
        reference=f"{FLAGS} (the spec's healthy sleep is ≥ 7 h)",
        description="… whose mean sleep is below this (info) …",
    )
    short_sleep_warning_minutes: int = _rule(
        300,
        unit="mean minutes asleep a night",
        low=1,
        high=1440,
        below="short_sleep_minutes",
        reference=FLAGS,
        description="… a warning when a weekly mean is below this (or weeks in a row, below).",
    )
    pain_rising_points: float = _rule(
        2.0,
        unit="NRS pain points above baseline",
        low=0,
        high=10,
        below="pain_rising_alert_points",
        reference=f"{SPEC}: clinically important change = 2 points (Ostelo 2008; IMMPACT)",
        description=(
            "pain_rising: a week whose weekly mean pain is at least this far above the baseline "
            "(warning) …"
        ),
    )
    pain_rising_alert_points: float = _rule(
        3.0,
        unit="NRS pain points above baseline",
        low=0,
        high=10,
        reference=FLAGS,
        description="… an alert from this far above (or weeks in a row, below).",
    )
    flag_escalation_weeks: int = _rule(
        2,
        unit="program weeks in a row",
        low=2,
        high=12,
        reference=FLAGS,
        description=(
            "A weekly flag (too_intense, no_breathing, no_stability, short_sleep, pain_rising) "
            "that qualifies this many weeks in a row goes up one severity."
        ),
    )

    # --- early warning (models.disengagement_risk; docs/models.md, "Early warning") ----------
    disengagement_horizon_days: int = _rule(
        14,
        unit="days after the end of a program week",
        low=1,
        high=90,
        reference=EARLY_WARNING,
        description=(
            "The early warning is the probability that a disengagement spell "
            "(disengagement_gap_days without a completed session) is under way within this "
            "many days after the end of a program week."
        ),
    )
    risk_raised_probability: float = _rule(
        0.2,
        unit="probability",
        low=0,
        high=1,
        below="risk_high_probability",
        reference=EARLY_WARNING,
        description="A predicted probability of at least this is the raised band (else low) …",
    )
    risk_high_probability: float = _rule(
        0.5,
        unit="probability",
        low=0,
        high=1,
        reference=EARLY_WARNING,
        description="… and of at least this the high band.",
    )
    risk_baseline_adherence: float = _rule(
        0.5,
        unit="share of prescribed sessions",
        low=0,
        high=1,
        reference=f"{EARLY_WARNING} (the rule a coach uses today)",
        description=(
            "The baseline rule the model must beat: a person whose adherence last week was "
            "below this is at risk."
        ),
    )
    risk_min_events: int = _rule(
        20,
        unit="person-weeks that led to a disengagement spell",
        low=1,
        high=100000,
        reference=EARLY_WARNING,
        description=(
            "The model is fitted and validated (and may replace the baseline rule) only when "
            "the training cohorts and the held-out cohorts each have at least this many."
        ),
    )
    checkin_silence_days: int = _rule(
        7,
        unit="days without a check-in",
        low=1,
        high=84,
        reference="steadyback: docs/operations.md, The weekly coach digest",
        description=(
            "The coach digest lists a person as having stopped checking in after this many "
            "days without one."
        ),
    )

    def __post_init__(self) -> None:
        for key in rule_keys():
            _check(key, getattr(self, key))
            object.__setattr__(self, key, _TYPES[key](getattr(self, key)))
        for key in rule_keys():
            other = RULES[key].below
            if other is not None and not getattr(self, key) < getattr(self, other):
                raise ProgramRulesError(
                    f"{key} = {getattr(self, key)!r} must be below {other} = "
                    f"{getattr(self, other)!r}; allowed: {allowed_text(key)}"
                )

    def changed(self) -> list[tuple[str, int | float, int | float]]:
        """(key, value, default) of every rule that differs from its default."""
        default = ProgramRules()
        return [
            (key, getattr(self, key), getattr(default, key))
            for key in rule_keys()
            if getattr(self, key) != getattr(default, key)
        ]


RULES: dict[str, Rule] = {f.name: f.metadata["rule"] for f in fields(ProgramRules)}
_TYPES: dict[str, type] = {
    key: hint for key, hint in get_type_hints(ProgramRules).items() if key in RULES
}


def rule_keys() -> tuple[str, ...]:
    return tuple(RULES)


def allowed_text(key: str) -> str:
    """What a rule may be, in words: "a whole number from 0 to 10, below …"."""
    rule = RULES[key]
    kind = "a whole number" if _TYPES[key] is int else "a number"
    text = f"{kind} from {_number(rule.low)} to {_number(rule.high)} ({rule.unit})"
    if rule.below is not None:
        text += f", below {rule.below}"
    return text


def _number(value: float) -> str:
    return f"{value:g}"


def _check(key: str, value: object) -> None:
    """Type and range of one value; ProgramRulesError saying what is allowed."""
    wanted = _TYPES[key]
    whole = isinstance(value, int) and not isinstance(value, bool)
    if wanted is int and not whole:
        raise ProgramRulesError(
            f"{key} = {value!r} is not a whole number; allowed: {allowed_text(key)}"
        )
    if wanted is float and not (whole or isinstance(value, float)):
        raise ProgramRulesError(f"{key} = {value!r} is not a number; allowed: {allowed_text(key)}")
    rule = RULES[key]
    if not (math.isfinite(value) and rule.low <= value <= rule.high):
        raise ProgramRulesError(f"{key} = {value!r} is out of range; allowed: {allowed_text(key)}")


def percent_number(share: float) -> str:
    """A share as a percent number, as every page and label writes a rule: 0.8 → "80",
    0.725 → "72.5"."""
    return f"{round(share * 100, 1):g}"


def percent_text(share: float) -> str:
    """A share with its unit: 0.25 → "25 %", 0.725 → "72.5 %"."""
    return f"{percent_number(share)} %"


# --- program.toml --------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedRules:
    """The rules a run applies (or applied), and which of them program.toml set."""

    rules: ProgramRules = field(default_factory=ProgramRules)
    from_file: frozenset[str] = frozenset()
    recorded: bool = True  # False: read from a snapshot that recorded no rules (an older version)

    def source(self, key: str) -> str:
        return SOURCE_FILE if key in self.from_file else SOURCE_DEFAULT

    def changed_text(self) -> list[str]:
        """`key: value (default d)` for every rule that differs from its default."""
        return [
            f"{key}: {_number(value)} (default {_number(default)})"
            for key, value, default in self.rules.changed()
        ]


def program_file(data_dir: DataDir) -> Path:
    return data_dir.root / PROGRAM_FILE


def load_program_rules(data_dir: DataDir) -> AppliedRules:
    """The defaults with `<data dir>/program.toml`'s overrides; ProgramRulesError when invalid.

    No file means every rule at its default.
    """
    path = program_file(data_dir)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return AppliedRules()
    except (OSError, UnicodeDecodeError) as error:
        raise ProgramRulesError(f"{path}: cannot be read ({error})") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProgramRulesError(f"{path}: not valid TOML ({error})") from None
    known = ", ".join(rule_keys())
    for name, value in document.items():
        if name == RULES_TABLE and isinstance(value, dict):
            continue
        if name in RULES:
            raise ProgramRulesError(
                f"{path}: {name} must be inside the [{RULES_TABLE}] table "
                f"(a line `[{RULES_TABLE}]` above it)"
            )
        what = f"table [{name}]" if isinstance(value, dict) else f"key {name!r} (= {value!r})"
        raise ProgramRulesError(
            f"{path}: unknown {what}; {PROGRAM_FILE} has one table, [{RULES_TABLE}], "
            f"with the keys: {known}"
        )
    overrides: dict[str, Any] = document.get(RULES_TABLE, {})
    for key, value in overrides.items():
        if key not in RULES:
            raise ProgramRulesError(
                f"{path}: [{RULES_TABLE}] unknown key {key!r} (= {value!r}); "
                f"the known keys are: {known}"
            )
    try:
        rules = ProgramRules(**overrides)
    except ProgramRulesError as error:
        raise ProgramRulesError(f"{path}: [{RULES_TABLE}] {error}") from None
    return AppliedRules(rules, frozenset(overrides))


# --- meta.rules ----------------------------------------------------------------------------

RULES_COLUMNS = {
    "key": "varchar",
    "value": "double",
    "default_value": "double",
    "unit": "varchar",
    "allowed": "varchar",
    "reference": "varchar",
    "description": "varchar",
    "source": "varchar",
}
_SQL_TYPES = {int: "integer", float: "double"}


def record_rules(con: duckdb.DuckDBPyConnection, applied: AppliedRules) -> None:
    """Write `meta.rules` (one row per rule, published) and `meta.program_rules` (one row).

    The SQL reads its thresholds from `meta.program_rules` (`cross join`), so a table built
    in this warehouse and the rules recorded beside it cannot disagree.
    """
    default = ProgramRules()
    columns = ", ".join(f"{name} {sql_type}" for name, sql_type in RULES_COLUMNS.items())
    con.execute(f"create or replace table meta.rules ({columns})")
    con.executemany(
        f"insert into meta.rules values ({', '.join('?' * len(RULES_COLUMNS))})",
        [
            (
                key,
                getattr(applied.rules, key),
                getattr(default, key),
                rule.unit,
                allowed_text(key),
                rule.reference,
                rule.description,
                applied.source(key),
            )
            for key, rule in RULES.items()
        ],
    )
    values = ", ".join(f"?::{_SQL_TYPES[_TYPES[key]]} as {key}" for key in RULES)
    con.execute(
        f"create or replace table meta.program_rules as select {values}",
        [getattr(applied.rules, key) for key in RULES],
    )


def rules_from_rows(rows: Iterable[tuple[str, float, str]]) -> AppliedRules:
    """`meta.rules` rows (key, value, source) back into the rules they record.

    A rule the rows do not name (recorded by an older version) is at its default; a key
    this version does not know (a newer one) is left out.
    """
    values: dict[str, int | float] = {}
    from_file = set()
    for key, value, source in rows:
        if key not in RULES:
            continue
        values[key] = int(value) if _TYPES[key] is int and float(value).is_integer() else value
        if source == SOURCE_FILE:
            from_file.add(key)
    return AppliedRules(replace(ProgramRules(), **values), frozenset(from_file))


def read_recorded_rules(con: duckdb.DuckDBPyConnection) -> AppliedRules:
    """The rules recorded in an open warehouse or snapshot (`meta.rules`).

    Without that table (a snapshot published by an older version): the defaults, with
    `recorded` false.
    """
    (present,) = con.execute(
        "select count(*) from information_schema.tables "
        "where table_catalog = current_database() and table_schema = 'meta' "
        "and table_name = 'rules'"
    ).fetchone()
    if not present:
        return AppliedRules(recorded=False)
    return rules_from_rows(con.execute("select key, value, source from meta.rules").fetchall())


def refuse_changed_rules_for_a_subset(
    con: duckdb.DuckDBPyConnection, applied: AppliedRules
) -> None:
    """A build of only some tables must apply the rules the other tables were built with.

    Otherwise meta.rules would explain tables built under other rules. ProgramRulesError when
    the warehouse recorded different rules; a warehouse that recorded none (an older version)
    is not refused.
    """
    recorded = read_recorded_rules(con)
    if not recorded.recorded or recorded.rules == applied.rules:
        return
    was = {key: value for key, value, _ in recorded.rules.changed()}
    now = {key: value for key, value, _ in applied.rules.changed()}
    differ = sorted(k for k in RULES if getattr(recorded.rules, k) != getattr(applied.rules, k))
    raise ProgramRulesError(
        f"{PROGRAM_FILE} changed since the warehouse was built ({', '.join(differ)}): "
        "materialise every table (the `refresh` job) so that all of them apply the same rules; "
        f"recorded {was or 'defaults'}, now {now or 'defaults'}"
    )


def describe(applied: AppliedRules) -> Iterator[dict[str, Any]]:
    """Every rule as a row: key, value, default, unit, allowed, reference, description, source."""
    default = ProgramRules()
    for key, rule in RULES.items():
        yield {
            "key": key,
            "value": getattr(applied.rules, key),
            "default": getattr(default, key),
            "unit": rule.unit,
            "allowed": allowed_text(key),
            "reference": rule.reference,
            "description": rule.description,
            "source": applied.source(key),
        }
