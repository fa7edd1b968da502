"""The users file: argon2id hashes, owner-only permissions, no lost users, clear errors, demo users.

The file decides who can see participants' data, so these tests check the
properties an administrator relies on without reading the code: what is on
disk, who can read it, and what happens when two commands run at once or the
file is damaged.
"""

from __future__ import annotations

import json
import multiprocessing
import re
import stat
import sys
import threading
import types
from pathlib import Path

import duckdb
import pytest
from argon2 import PasswordHasher
from snapshot_files import snapshot_of_coaches
from users_in_processes import add_when_all_are_ready

from pipelines.lib.demo_cohort import generate_cohort
from pipelines.lib.users import (
    DEMO_PASSWORD,
    DEMO_USERNAMES,
    UserError,
    UserStore,
    ensure_demo_users,
    is_demo_login,
    refuse_demo_users_on_real_data,
    snapshot_coach_ids,
    snapshot_is_generated,
)

PASSWORD = "correct horse battery"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_add_stores_a_salted_argon2id_hash_never_the_password(tmp_path):
    store = UserStore.at(tmp_path)
    store.add("ana", "program_manager", PASSWORD)
    store.add("ben", "analyst", PASSWORD)

    text = store.path.read_text()
    entries = {e["username"]: e for e in json.loads(text)["users"]}
    assert PASSWORD not in text
    assert all(e["password_hash"].startswith("$argon2id$") for e in entries.values())
    assert entries["ana"]["password_hash"] != entries["ben"]["password_hash"]  # salted
    assert PasswordHasher().verify(entries["ana"]["password_hash"], PASSWORD)


def test_verify_accepts_the_password_and_nothing_else(tmp_path):
    store = UserStore.at(tmp_path)
    added = store.add("cora", "coach", PASSWORD, coach_id="C-01")

    assert store.verify("cora", PASSWORD) == added
    assert store.verify("cora", PASSWORD + " ") is None
    assert store.verify("cora", "") is None
    assert store.verify("Cora", PASSWORD) is None  # usernames are exact
    assert store.verify("nobody", PASSWORD) is None


def test_list_get_remove_and_replace(tmp_path):
    store = UserStore.at(tmp_path)
    store.add("zoe", "analyst", PASSWORD)
    store.add("abe", "coach", PASSWORD, coach_id="C-02")

    assert [u.username for u in store.list()] == ["abe", "zoe"]
    assert store.get("abe").coach_id == "C-02"
    assert store.get("abe").created_at

    with pytest.raises(UserError, match="already exists"):
        store.add("abe", "coach", "another password", coach_id="C-02")
    store.add("abe", "coach", "another password", coach_id="C-03", replace=True)
    assert store.verify("abe", PASSWORD) is None
    assert store.verify("abe", "another password").coach_id == "C-03"

    assert store.remove("zoe") is True
    assert store.remove("zoe") is False
    assert store.get("zoe") is None
    assert [u.username for u in store.list()] == ["abe"]


@pytest.mark.parametrize(
    ("username", "role", "password", "coach_id", "message"),
    [
        ("", "analyst", PASSWORD, None, "username"),
        ("-dash", "analyst", PASSWORD, None, "username"),
        ("has space", "analyst", PASSWORD, None, "username"),
        ("x" * 129, "analyst", PASSWORD, None, "username"),
        ("ok", "admin", PASSWORD, None, "role"),
        ("ok", "coach", PASSWORD, None, "coach needs --coach-id"),
        ("ok", "analyst", PASSWORD, "C-01", "only for coaches"),
        ("ok", "analyst", "short", None, "at least 8"),
    ],
)
def test_add_refuses_what_is_not_a_valid_user(
    tmp_path, username, role, password, coach_id, message
):
    store = UserStore.at(tmp_path)
    with pytest.raises(UserError, match=message):
        store.add(username, role, password, coach_id=coach_id)
    assert store.list() == []


def test_email_addresses_are_valid_usernames(tmp_path):
    """Single sign-on maps an e-mail address to the user of that name."""
    store = UserStore.at(tmp_path)
    store.add("ana.lopez+sb@example.org", "program_manager", PASSWORD)
    assert store.verify("ana.lopez+sb@example.org", PASSWORD) is not None


def test_a_coach_s_e_mail_and_time_zone_are_kept_and_optional(tmp_path):
    """The weekly digest's address and time zone (docs/operations.md); a users file written
    before they existed reads as before, and entries without them stay without them."""
    store = UserStore.at(tmp_path)
    old_entry = {
        "username": "old",
        "role": "analyst",
        "password_hash": PasswordHasher().hash(PASSWORD),
    }
    store.path.parent.mkdir(parents=True)
    store.path.write_text(json.dumps({"version": 1, "users": [old_entry]}))
    assert store.get("old").email is None and store.verify("old", PASSWORD) is not None

    store.add("cora", "coach", PASSWORD, coach_id="C-01", email="cora@clinic.example.org",
              timezone="Europe/London")  # fmt: skip
    store.add("ben", "analyst", PASSWORD)
    cora = store.get("cora")
    assert (cora.email, cora.timezone) == ("cora@clinic.example.org", "Europe/London")
    entries = {e["username"]: e for e in json.loads(store.path.read_text())["users"]}
    assert entries["old"] == old_entry, "an entry written before is kept as it was"
    assert "email" not in entries["ben"] and "timezone" not in entries["ben"]
    assert entries["cora"]["email"] == "cora@clinic.example.org"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "cora", "--email 'cora': is not an e-mail address"),
        ("email", "cora@clinic", "is not an e-mail address"),
        ("email", "cora@clinic.example.org\nBcc: all@example.org", "no spaces, quotes or line"),
        ("email", "cora@clinic.example.org\n", "is not an e-mail address"),
        ("email", '"cora"@clinic.example.org', "is not an e-mail address"),
        ("timezone", "Mars/Olympus", "--timezone 'Mars/Olympus': is not an IANA time zone"),
        ("timezone", "../../etc/passwd", "is not an IANA time zone"),
    ],
)
def test_an_invalid_e_mail_or_time_zone_is_refused(tmp_path, field, value, message):
    store = UserStore.at(tmp_path)
    with pytest.raises(UserError, match=re.escape(message)):
        store.add("cora", "coach", PASSWORD, coach_id="C-01", **{field: value})
    assert store.list() == []


def test_the_file_and_its_folder_are_readable_by_their_owner_only(tmp_path):
    store = UserStore.at(tmp_path)
    store.add("ana", "program_manager", PASSWORD)
    store.add("ben", "analyst", PASSWORD)
    store.remove("ben")

    assert mode(store.path) == 0o600
    assert mode(store.path.parent) == 0o700
    assert mode(store.path.with_suffix(".lock")) == 0o600
    assert not list(store.path.parent.glob(".users-*"))  # no temp files left behind


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[]", '"users" list'),
        ('{"version": 1}', '"users" list'),
        ('{"version": 99, "users": []}', "version 99"),
        ('{"version": 1, "users": ["ana"]}', "not an object"),
        ('{"version": 1, "users": [{"role": "analyst", "password_hash": "x"}]}', "no username"),
        (
            '{"version": 1, "users": [{"username": "a", "role": "root", "password_hash": "x"}]}',
            "unknown role",
        ),
        ('{"version": 1, "users": [{"username": "a", "role": "analyst"}]}', "no password hash"),
        (
            '{"version": 1, "users": [{"username": "a", "role": "coach", "password_hash": "x"}]}',
            "has no coach id",
        ),
        (
            '{"version": 1, "users": [{"username": "a", "role": "analyst", "password_hash": "x",'
            ' "email": "a@b"}]}',
            "user 'a': email is not an e-mail address",
        ),
        (
            '{"version": 1, "users": [{"username": "a", "role": "analyst", "password_hash": "x",'
            ' "timezone": 7}]}',
            "user 'a': timezone is not an IANA time zone",
        ),
    ],
)
def test_a_damaged_file_is_an_error_naming_it_and_is_never_overwritten(tmp_path, content, problem):
    store = UserStore.at(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content)

    for attempt in (
        store.list,
        lambda: store.get("a"),
        lambda: store.verify("a", PASSWORD),
        lambda: store.add("new", "analyst", PASSWORD),
        lambda: store.remove("a"),
    ):
        with pytest.raises(UserError) as error:
            attempt()
        assert str(store.path) in str(error.value)
        assert problem in str(error.value)
    assert store.path.read_text() == content


def test_a_duplicated_username_is_an_error(tmp_path):
    store = UserStore.at(tmp_path)
    store.add("ana", "analyst", PASSWORD)
    document = json.loads(store.path.read_text())
    document["users"].append({**document["users"][0], "role": "program_manager"})
    store.path.write_text(json.dumps(document))

    with pytest.raises(UserError, match="appears twice"):
        store.verify("ana", PASSWORD)


def test_concurrent_adds_from_threads_keep_every_user(tmp_path):
    store = UserStore.at(tmp_path)
    errors: list[BaseException] = []

    def add(number: int) -> None:
        try:
            UserStore.at(tmp_path).add(f"user{number}", "analyst", PASSWORD)
        except BaseException as error:  # noqa: BLE001 — reported below
            errors.append(error)

    threads = [threading.Thread(target=add, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors
    assert sorted(u.username for u in store.list()) == sorted(f"user{n}" for n in range(12))


def test_concurrent_adds_from_processes_keep_every_user(tmp_path, monkeypatch):
    # spawned children re-run the parent's __main__: after an AppTest in this process that
    # would be a Streamlit page, so start them from a plain one
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    context = multiprocessing.get_context("spawn")
    names = [f"proc{n}" for n in range(8)]
    ready = context.Barrier(len(names))  # started and imported: all add at one moment
    processes = [
        context.Process(target=add_when_all_are_ready, args=(str(tmp_path), name, PASSWORD, ready))
        for name in names
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0] * len(names)
    assert sorted(u.username for u in UserStore.at(tmp_path).list()) == sorted(names)


# --- demo users ------------------------------------------------------------------------------

NOT_GENERATED = {  # what meta.snapshot says, each of which must read as "not generated"
    "false": False,
    "null": None,
    "a snapshot published before the column existed": "no column",
}


def fake_demo_dir(root: Path, coach_ids: list, generated: object = True) -> Path:
    """The generator's landing files (and its manifest of them) under a snapshot whose roster
    lists these coaches and whose `meta.snapshot.generated_cohort` is `generated`."""
    generate_cohort(root, participants=4, weeks=2, seed=1)
    connection = duckdb.connect(str(snapshot_of_coaches(root, coach_ids)))
    connection.execute("create schema meta")
    if generated == "no column":
        connection.execute("create table meta.snapshot as select 'run-1' as run_id")
    else:
        connection.execute(
            "create table meta.snapshot as select 'run-1' as run_id, ?::boolean as generated_cohort",
            [generated],
        )
    connection.close()
    return root


def test_demo_users_are_one_per_role_and_coaches_of_the_first_two_coach_ids(tmp_path):
    data_dir = fake_demo_dir(tmp_path, ["C-09", "C-02", "C-02", "C-05", None])

    demo = ensure_demo_users(data_dir)

    assert snapshot_coach_ids(data_dir) == ["C-02", "C-05", "C-09"]
    assert [(u.role, u.coach_id) for u in demo] == [
        ("program_manager", None),
        ("analyst", None),
        ("coach", "C-02"),
        ("coach", "C-05"),
    ]
    store = UserStore.at(data_dir)
    for username, password, role, coach_id in demo:
        assert password == DEMO_PASSWORD
        assert store.verify(username, password) == store.get(username)
        assert store.get(username).role == role
        assert store.get(username).coach_id == coach_id


def test_demo_users_are_created_once_and_a_changed_password_is_not_shown(tmp_path):
    data_dir = fake_demo_dir(tmp_path, ["C-01", "C-02"])
    first = ensure_demo_users(data_dir)
    store = UserStore.at(data_dir)
    created = {u.username: u.created_at for u in store.list()}
    manager = first[0].username
    store.add(manager, "program_manager", "a private password", replace=True)

    again = ensure_demo_users(data_dir)

    assert [u.username for u in again] == [u.username for u in first]
    assert again[0].password is None
    assert all(u.password == DEMO_PASSWORD for u in again[1:])
    assert {u.username: u.created_at for u in store.list() if u.username != manager} == {
        name: at for name, at in created.items() if name != manager
    }


def test_demo_users_with_one_coach_in_the_roster(tmp_path):
    data_dir = fake_demo_dir(tmp_path, ["C-07"])
    demo = ensure_demo_users(data_dir)
    assert [u.coach_id for u in demo if u.role == "coach"] == ["C-07"]


@pytest.mark.parametrize(
    "change",
    ["a real roster replaces the generated one", "one real export added", "a file removed"],
)
def test_no_demo_users_once_landing_is_not_exactly_the_generated_files(tmp_path, change):
    """A public password must never open real participants' data: the generator's own
    record of its files decides, not the presence of a truth file."""
    data_dir = fake_demo_dir(tmp_path, ["C-01", "C-02"])
    roster = sorted((data_dir / "landing" / "roster").glob("*.csv"))[-1]
    if change == "a real roster replaces the generated one":
        roster.write_text("participant_id,cohort,coach_id,enrolled_on,program_weeks,timezone\n")
    elif change == "one real export added":
        (data_dir / "landing" / "oura" / "P-1").mkdir(parents=True)
        (data_dir / "landing" / "oura" / "P-1" / "oura.csv").write_text("date,Steps\n")
    else:
        roster.unlink()
    assert (data_dir / "truth" / "effects.json").is_file()  # what used to be enough

    with pytest.raises(UserError, match="not the generated demo cohort"):
        ensure_demo_users(data_dir)
    assert not UserStore.at(data_dir).path.exists()


@pytest.mark.parametrize("generated", NOT_GENERATED.values(), ids=NOT_GENERATED.keys())
def test_no_demo_users_unless_the_published_snapshot_is_generated(tmp_path, generated):
    data_dir = fake_demo_dir(tmp_path, ["C-01", "C-02"], generated=generated)

    assert not snapshot_is_generated(data_dir)
    with pytest.raises(UserError, match="does not come from the generated demo cohort"):
        ensure_demo_users(data_dir)
    assert not UserStore.at(data_dir).path.exists()


def test_snapshot_is_generated_fails_closed(tmp_path):
    assert not snapshot_is_generated(tmp_path)  # nothing published
    damaged = tmp_path / "published" / "current.duckdb"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a duckdb file")
    assert not snapshot_is_generated(tmp_path)
    assert snapshot_is_generated(fake_demo_dir(tmp_path / "generated", ["C-01"]))


def test_the_public_demo_password_is_refused_for_everyone_else(tmp_path):
    store = UserStore.at(tmp_path)
    with pytest.raises(UserError, match="public demo password"):
        store.add("ana", "program_manager", DEMO_PASSWORD)
    assert store.get("ana") is None
    store.add("demo-manager", "program_manager", DEMO_PASSWORD)  # the demo users keep it
    assert is_demo_login("ana", DEMO_PASSWORD) and is_demo_login("demo-analyst", "x")
    assert not is_demo_login("ana", DEMO_PASSWORD + "!")


def test_demo_users_on_real_data_are_named_with_the_command_that_removes_them(tmp_path):
    data_dir = fake_demo_dir(tmp_path / "data dir", ["C-01", "C-02"])
    ensure_demo_users(data_dir)
    UserStore.at(data_dir).add("ana", "program_manager", PASSWORD)
    refuse_demo_users_on_real_data(data_dir)  # generated: nothing to refuse

    connection = duckdb.connect(str(data_dir / "published" / "current.duckdb"))
    connection.execute("update meta.snapshot set generated_cohort = false")  # real data published
    connection.close()

    with pytest.raises(UserError) as refused:
        refuse_demo_users_on_real_data(data_dir)
    message = str(refused.value)
    assert "demo-analyst, demo-coach-1, demo-coach-2, demo-manager" in message
    assert f"steadyback users remove --demo --data-dir '{data_dir}'" in message

    assert UserStore.at(data_dir).remove_all(DEMO_USERNAMES) == [
        "demo-analyst",
        "demo-coach-1",
        "demo-coach-2",
        "demo-manager",
    ]
    refuse_demo_users_on_real_data(data_dir)
    assert [u.username for u in UserStore.at(data_dir).list()] == ["ana"]
