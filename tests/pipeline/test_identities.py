"""The coaches' identities file: written by the publishing run, private, and never published.

Expected identities come from the generator's truth (participants.csv) and the
published snapshot, read here with DuckDB and the csv module, not through
`pipelines.lib.identities`.
"""

from __future__ import annotations

import csv
import json
import stat
from pathlib import Path

import duckdb
import pytest

from pipelines.lib.identities import (
    IdentitiesError,
    Identity,
    read_identities,
    write_identities,
)
from pipelines.lib.layout import DataDir
from pipelines.lib.pseudonym import pseudonym_key, pseudonymize


def truth_people(data_dir: Path) -> list[dict[str, str]]:
    with (data_dir / "truth" / "participants.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def snapshot_rows(data_dir: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_run_writes_exactly_the_snapshots_people_owner_only(small_cohort):
    path = small_cohort / "access" / "identities.json"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    document = json.loads(path.read_text(encoding="utf-8"))
    published = {
        pid for (pid,) in snapshot_rows(small_cohort, "select pid from marts.participants")
    }
    assert set(document["people"]) == published
    (run_id,) = snapshot_rows(small_cohort, "select run_id from meta.snapshot")[0]
    assert document["run_id"] == run_id


def test_each_pid_maps_to_its_roster_id_name_and_final_coach(small_cohort):
    identities = read_identities(small_cohort / "access" / "identities.json")
    key = pseudonym_key()
    expected = {
        pseudonymize(p["participant_id"], key): Identity(
            p["participant_id"], p["display_name"] or None, p["coach_id"]
        )
        for p in truth_people(small_cohort)
    }
    assert identities == expected
    # the optional column: some have a display name, some do not
    names = [i.display_name for i in identities.values()]
    assert any(names) and None in names


def test_no_display_name_or_participant_id_in_the_published_snapshot(small_cohort):
    people = truth_people(small_cohort)
    secrets = {p["display_name"].lower() for p in people if p["display_name"]}
    secrets |= {p["participant_id"].lower() for p in people}
    columns = snapshot_rows(
        small_cohort,
        "select table_schema, table_name, column_name, data_type from information_schema.columns "
        "where table_catalog = current_database()",
    )
    assert "display_name" not in {column for _, _, column, _ in columns}
    checked = 0
    for schema, table, column, data_type in columns:
        if data_type != "VARCHAR":
            continue
        values = snapshot_rows(
            small_cohort, f'select distinct lower("{column}") from "{schema}"."{table}"'
        )
        for (value,) in values:
            checked += value is not None
            leaked = [s for s in secrets if value and s in value]
            assert not leaked, f"{schema}.{table}.{column} holds {leaked[:3]}"
    assert checked > 1000


def test_nothing_but_the_identities_file_outside_the_warehouse_holds_a_display_name(small_cohort):
    """Run logs, Dagster storage, the snapshot: only access/identities.json names people."""
    names = {p["display_name"].encode() for p in truth_people(small_cohort) if p["display_name"]}
    skip = {small_cohort / "landing", small_cohort / "raw", small_cohort / "truth"}
    holders = set()
    for path in small_cohort.rglob("*"):
        if not path.is_file() or any(folder in path.parents for folder in skip):
            continue
        if path == small_cohort / "warehouse.duckdb":
            continue
        content = path.read_bytes()
        if any(name in content for name in names):
            holders.add(path.relative_to(small_cohort).as_posix())
    assert holders == {"access/identities.json"}


def test_a_rewrite_is_atomic_and_private_whatever_the_umask(tmp_path, permissive_umask):
    data_dir = DataDir.at(tmp_path)
    write_identities(data_dir, {"p_a": Identity("P-1", "Ana R.", "C-01")}, "run-1")
    write_identities(data_dir, {"p_b": Identity("P-2", None, "C-02")}, "run-2")
    assert mode(data_dir.identities) == 0o600
    assert mode(data_dir.access_dir) == 0o700
    assert read_identities(data_dir.identities) == {"p_b": Identity("P-2", None, "C-02")}
    assert sorted(p.name for p in data_dir.access_dir.iterdir()) == ["identities.json"]


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"version": 99, "people": {}}',
        '{"version": 1}',
        '{"version": 1, "people": {"p_a": {"participant_id": "P-1"}}}',
        '{"version": 1, "people": {"p_a": {"participant_id": 7, "coach_id": "C-1"}}}',
        '{"version": 1, "people": {"p_a": "P-1"}}',
    ],
)
def test_a_file_steadyback_did_not_write_is_an_error_naming_it(tmp_path, content):
    path = tmp_path / "identities.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(IdentitiesError, match=str(path)):
        read_identities(path)
