"""The program rules (`pipelines/lib/rules.py`): reading `<data dir>/program.toml`, the error
for every kind of invalid file, recording the rules in `meta.rules` and reading them back."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.layout import DataDir
from pipelines.lib.rules import (
    AppliedRules,
    ProgramRules,
    ProgramRulesError,
    load_program_rules,
    read_recorded_rules,
    record_rules,
    refuse_changed_rules_for_a_subset,
    rule_keys,
)
from pipelines.lib.statistics.dose_response import bands

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def program(tmp_path: Path, text: str) -> DataDir:
    (tmp_path / "program.toml").write_text(text)
    return DataDir.at(tmp_path)


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(ProgramRulesError) as raised:
        load_program_rules(program(tmp_path, text))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'program.toml'}: "), "names the file"
    return message


def test_without_program_toml_every_rule_is_at_its_default(tmp_path):
    applied = load_program_rules(DataDir.at(tmp_path))
    assert applied == AppliedRules(ProgramRules(), frozenset())
    assert applied.rules.changed() == [] and applied.changed_text() == []


def test_program_toml_overrides_the_rules_it_names(tmp_path):
    applied = load_program_rules(
        program(
            tmp_path,
            "# a stricter program\n[rules]\nadherent_share = 0.7\nvalid_wear_minutes = 480\n"
            "responder_odi_points = 12\ngentle_max_discomfort = 3\n",
        )
    )
    assert applied.rules == ProgramRules(
        adherent_share=0.7, valid_wear_minutes=480, responder_odi_points=12.0
    )
    assert isinstance(applied.rules.responder_odi_points, float), "a whole number is a number"
    assert applied.from_file == {
        "adherent_share",
        "valid_wear_minutes",
        "responder_odi_points",
        "gentle_max_discomfort",
    }
    assert applied.source("gentle_max_discomfort") == "program.toml"  # set, even at its default
    assert applied.source("disengagement_gap_days") == "default"
    assert applied.changed_text() == [
        "adherent_share: 0.7 (default 0.8)",
        "responder_odi_points: 12 (default 10)",
        "valid_wear_minutes: 480 (default 600)",
    ]


def test_an_empty_rules_table_or_file_is_the_defaults(tmp_path):
    assert load_program_rules(program(tmp_path, "")).rules == ProgramRules()
    assert load_program_rules(program(tmp_path, "[rules]\n")).rules == ProgramRules()


def test_an_unknown_key_is_refused_with_the_known_keys(tmp_path):
    message = refusal(tmp_path, "[rules]\nadherent_week = 0.7\n")
    assert "[rules] unknown key 'adherent_week' (= 0.7)" in message
    assert "the known keys are: " + ", ".join(rule_keys()) in message


def test_an_unknown_table_is_refused(tmp_path):
    message = refusal(tmp_path, "[thresholds]\nadherent_share = 0.7\n")
    assert "unknown table [thresholds]" in message
    assert "one table, [rules], with the keys: gentle_max_discomfort" in message


def test_a_rule_outside_the_rules_table_is_refused(tmp_path):
    message = refusal(tmp_path, "adherent_share = 0.7\n")
    assert "adherent_share must be inside the [rules] table" in message


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('adherent_share = "0.7"', "adherent_share = '0.7' is not a number"),
        ("baseline_min_checkins = 3.5", "baseline_min_checkins = 3.5 is not a whole number"),
        ("disengagement_gap_days = true", "disengagement_gap_days = True is not a whole number"),
        ("responder_pain_share = true", "responder_pain_share = True is not a number"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused(tmp_path, line, said):
    message = refusal(tmp_path, f"[rules]\n{line}\n")
    assert f"[rules] {said}; allowed: " in message


@pytest.mark.parametrize(
    ("line", "said", "allowed"),
    [
        ("adherent_share = 1.2", "adherent_share = 1.2", "a number from 0 to 1"),
        ("responder_pain_share = -0.1", "responder_pain_share = -0.1", "a number from 0 to 1"),
        ("person_min_paired_days = -3", "person_min_paired_days = -3", "a whole number from 2"),
        ("baseline_min_checkins = 8", "baseline_min_checkins = 8", "a whole number from 1 to 7"),
        ("valid_wear_minutes = 0", "valid_wear_minutes = 0", "a whole number from 1 to 1440"),
        ("valid_wear_minutes = 1500", "valid_wear_minutes = 1500", "a whole number from 1"),
        ("responder_tsk_points = nan", "responder_tsk_points = nan", "a number from 0 to 33"),
        ("responder_odi_points = inf", "responder_odi_points = inf", "a number from 0 to 100"),
    ],
)
def test_a_value_out_of_range_is_refused_with_the_allowed_range(tmp_path, line, said, allowed):
    message = refusal(tmp_path, f"[rules]\n{line}\n")
    assert f"[rules] {said} is out of range; allowed: {allowed}" in message


def test_gentle_must_stay_below_aggressive(tmp_path):
    message = refusal(tmp_path, "[rules]\ngentle_max_discomfort = 7\n")
    assert (
        "[rules] gentle_max_discomfort = 7 must be below aggressive_min_discomfort = 7; "
        "allowed: a whole number from 0 to 10 (discomfort rating), below "
        "aggressive_min_discomfort"
    ) in message
    message = refusal(
        tmp_path, "[rules]\ngentle_max_discomfort = 5\naggressive_min_discomfort = 4\n"
    )
    assert "gentle_max_discomfort = 5 must be below aggressive_min_discomfort = 4" in message


def test_the_lower_dose_band_must_stay_below_the_adherent_share(tmp_path):
    message = refusal(tmp_path, "[rules]\nadherent_share = 0.6\n")
    assert "dose_band_low_share = 0.6 must be below adherent_share = 0.6" in message


def test_a_file_that_is_not_toml_is_refused(tmp_path):
    message = refusal(tmp_path, "[rules]\nadherent_share = \n")
    assert "not valid TOML" in message


def test_the_same_checks_guard_rules_made_in_code():
    with pytest.raises(ProgramRulesError, match=r"adherent_share = 1\.5 is out of range"):
        ProgramRules(adherent_share=1.5)


def test_record_and_read_back_through_meta_rules():
    applied = AppliedRules(
        ProgramRules(adherent_share=0.7, disengagement_gap_days=10),
        frozenset({"adherent_share", "disengagement_gap_days", "valid_wear_minutes"}),
    )
    with duckdb.connect() as con:
        con.execute("create schema meta")
        record_rules(con, applied)
        assert read_recorded_rules(con) == applied
        rows = con.execute(
            "select key, value, default_value, unit, allowed, reference, description, source "
            "from meta.rules order by key"
        ).fetchall()
        assert [r[0] for r in rows] == sorted(rule_keys())
        by_key = {r[0]: r for r in rows}
        assert by_key["adherent_share"][1:3] == (0.7, 0.8)
        assert by_key["adherent_share"][7] == "program.toml"
        assert by_key["gentle_max_discomfort"][7] == "default"
        assert all(all(value is not None for value in row) for row in rows)
        # the one row the SQL reads, typed like the rules
        wide = con.execute("select * from meta.program_rules").fetchall()
        assert wide == [tuple(getattr(applied.rules, key) for key in rule_keys())]
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'meta' and table_name = 'program_rules'"
            ).fetchall()
        )
        assert types["disengagement_gap_days"] == "INTEGER"
        assert types["adherent_share"] == "DOUBLE"


def test_a_snapshot_without_meta_rules_reads_as_the_defaults():
    with duckdb.connect() as con:
        assert read_recorded_rules(con) == AppliedRules(recorded=False)


def test_a_build_of_some_tables_refuses_rules_other_than_the_recorded_ones():
    changed = AppliedRules(ProgramRules(adherent_share=0.7), frozenset({"adherent_share"}))
    with duckdb.connect() as con:
        refuse_changed_rules_for_a_subset(con, changed)  # an older warehouse recorded none
        con.execute("create schema meta")
        record_rules(con, AppliedRules())
        refuse_changed_rules_for_a_subset(con, AppliedRules())  # the same rules: fine
        with pytest.raises(
            ProgramRulesError, match=r"changed since the warehouse was built \(adherent_share\)"
        ):
            refuse_changed_rules_for_a_subset(con, changed)


def test_dose_response_bands_follow_the_rules():
    assert [b.label for b in bands(ProgramRules())] == ["< 60 %", "60–79 %", "≥ 80 %"]
    assert [(b.low, b.high) for b in bands(ProgramRules())][:2] == [(0.0, 0.6), (0.6, 0.8)]
    custom = bands(ProgramRules(dose_band_low_share=0.5, adherent_share=0.75))
    assert [b.label for b in custom] == ["< 50 %", "50–74 %", "≥ 75 %"]
    fractional = bands(ProgramRules(dose_band_low_share=0.55, adherent_share=0.725))
    assert [b.label for b in fractional] == ["< 55 %", "55 to < 72.5 %", "≥ 72.5 %"]


def test_docs_list_every_rule_with_its_default():
    """docs/metrics.md, "Program rules": one table row per rule, `key` | default | …"""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## Program rules", 1)[1].split("\n## ", 1)[0]
    listed = dict(re.findall(r"^\| `(\w+)` \| ([^|]+?) \|", section, re.MULTILINE))
    defaults = ProgramRules()
    assert {key: float(value) for key, value in listed.items()} == {
        key: float(getattr(defaults, key)) for key in rule_keys()
    }
