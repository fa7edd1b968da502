"""`steadyback users …`, `steadyback audit` and the demo logins `steadyback demo` prints.

Run through `pipelines.cli.main` with standard input and output captured, plus
the installed console script once, so that "the password comes from standard
input" is tested the way an administrator types it.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from pipelines import cli
from pipelines.lib import audit
from pipelines.lib.users import DEMO_PASSWORD, UserStore

PASSWORD = "correct horse battery"


def steadyback(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def with_roster(root: Path, coach_ids: list[str]) -> Path:
    """A data dir whose published snapshot lists participants of these coaches."""
    snapshot = root / "published" / "current.duckdb"
    snapshot.parent.mkdir(parents=True)
    connection = duckdb.connect(str(snapshot))
    connection.execute("create schema marts")
    connection.execute("create table marts.participants (pid varchar, coach_id varchar)")
    for number, coach_id in enumerate(coach_ids):
        connection.execute("insert into marts.participants values (?, ?)", [f"p{number}", coach_id])
    connection.close()
    return root


def test_add_reads_the_password_from_stdin(tmp_path, monkeypatch, capsys):
    code, out, err = steadyback(
        monkeypatch,
        capsys,
        *("users", "add", "--data-dir", str(tmp_path), "--username", "ana"),
        *("--role", "program_manager", "--password-stdin"),
        stdin=PASSWORD + "\n",
    )

    assert (code, err) == (0, "")
    assert "ana" in out
    store = UserStore.at(tmp_path)
    assert store.verify("ana", PASSWORD).role == "program_manager"  # trailing newline stripped
    assert store.verify("ana", PASSWORD + "\n") is None


def test_add_without_password_stdin_is_refused_and_says_why(tmp_path, monkeypatch, capsys):
    code, out, err = steadyback(
        monkeypatch,
        capsys,
        *("users", "add", "--data-dir", str(tmp_path), "--username", "ana"),
        *("--role", "analyst"),
        stdin=PASSWORD + "\n",
    )

    assert code == 2
    assert "--password-stdin" in err
    assert "shell history" in err and "process list" in err
    assert not UserStore.at(tmp_path).path.exists()


def test_a_password_argument_is_not_even_accepted(tmp_path, monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_:
        steadyback(
            monkeypatch,
            capsys,
            *("users", "add", "--data-dir", str(tmp_path), "--username", "ana"),
            *("--role", "analyst", "--password", PASSWORD),
        )
    assert exit_.value.code == 2
    assert not UserStore.at(tmp_path).path.exists()


@pytest.mark.parametrize(
    ("extra", "stdin", "message"),
    [
        (("--role", "coach"), PASSWORD, "needs --coach-id"),
        (("--role", "analyst", "--coach-id", "C-01"), PASSWORD, "only for coaches"),
        (("--role", "analyst"), "short", "at least 8"),
        (("--role", "analyst"), "", "at least 8"),
    ],
)
def test_invalid_users_are_errors_on_stderr_with_exit_2(
    tmp_path, monkeypatch, capsys, extra, stdin, message
):
    code, out, err = steadyback(
        monkeypatch,
        capsys,
        *("users", "add", "--data-dir", str(tmp_path), "--username", "ana", "--password-stdin"),
        *extra,
        stdin=stdin + "\n",
    )
    assert code == 2
    assert err.startswith("steadyback: ") and message in err
    assert out == ""


def test_adding_an_existing_user_needs_replace(tmp_path, monkeypatch, capsys):
    args = ("users", "add", "--data-dir", str(tmp_path), "--username", "ana", "--role", "analyst")
    assert steadyback(monkeypatch, capsys, *args, "--password-stdin", stdin=PASSWORD)[0] == 0

    code, _, err = steadyback(monkeypatch, capsys, *args, "--password-stdin", stdin="new password")
    assert code == 2 and "already exists" in err
    assert UserStore.at(tmp_path).verify("ana", PASSWORD)

    code, out, _ = steadyback(
        monkeypatch, capsys, *args, "--password-stdin", "--replace", stdin="new password"
    )
    assert code == 0 and "Updated" in out
    assert UserStore.at(tmp_path).verify("ana", "new password")
    assert UserStore.at(tmp_path).verify("ana", PASSWORD) is None


def test_a_coach_id_missing_from_the_roster_is_a_warning_not_an_error(
    tmp_path, monkeypatch, capsys
):
    with_roster(tmp_path, ["C-01", "C-02"])
    base = ("users", "add", "--data-dir", str(tmp_path), "--role", "coach", "--password-stdin")

    code, _, err = steadyback(
        monkeypatch, capsys, *base, "--username", "cora", "--coach-id", "C-02", stdin=PASSWORD
    )
    assert (code, err) == (0, "")

    code, _, err = steadyback(
        monkeypatch, capsys, *base, "--username", "carl", "--coach-id", "C-99", stdin=PASSWORD
    )
    assert code == 0
    assert err.startswith("warning:") and "'C-99'" in err and "C-01, C-02" in err
    assert UserStore.at(tmp_path).get("carl").coach_id == "C-99"


def test_a_coach_id_without_a_snapshot_is_added_with_a_warning(tmp_path, monkeypatch, capsys):
    code, _, err = steadyback(
        monkeypatch,
        capsys,
        *("users", "add", "--data-dir", str(tmp_path), "--username", "cora", "--role", "coach"),
        *("--coach-id", "C-01", "--password-stdin"),
        stdin=PASSWORD,
    )
    assert code == 0
    assert "no published snapshot" in err
    assert UserStore.at(tmp_path).get("cora") is not None


def test_list_shows_users_but_never_hashes(tmp_path, monkeypatch, capsys):
    store = UserStore.at(tmp_path)
    store.add("zoe", "analyst", PASSWORD)
    store.add("cora", "coach", PASSWORD, coach_id="C-07")

    code, out, _ = steadyback(monkeypatch, capsys, "users", "list", "--data-dir", str(tmp_path))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["username", "role", "coach", "id", "created"]
    assert lines[2].split()[:3] == ["cora", "coach", "C-07"]
    assert lines[3].split()[:2] == ["zoe", "analyst"]
    assert store.get("cora").created_at in lines[2]
    assert "argon2" not in out and PASSWORD not in out


def test_list_without_users(tmp_path, monkeypatch, capsys):
    code, out, _ = steadyback(monkeypatch, capsys, "users", "list", "--data-dir", str(tmp_path))
    assert code == 0 and "No dashboard users" in out


def test_remove(tmp_path, monkeypatch, capsys):
    UserStore.at(tmp_path).add("zoe", "analyst", PASSWORD)
    args = ("users", "remove", "--data-dir", str(tmp_path), "--username", "zoe")

    assert steadyback(monkeypatch, capsys, *args)[0] == 0
    assert UserStore.at(tmp_path).get("zoe") is None
    code, out, err = steadyback(monkeypatch, capsys, *args)
    assert code == 1
    assert "no user 'zoe'" in err


def test_a_damaged_users_file_is_named_with_exit_2(tmp_path, monkeypatch, capsys):
    store = UserStore.at(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{oops")

    code, _, err = steadyback(monkeypatch, capsys, "users", "list", "--data-dir", str(tmp_path))
    assert code == 2
    assert str(store.path) in err


def test_the_console_script_reads_a_piped_password(tmp_path):
    script = Path(sys.executable).with_name("steadyback")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "pipelines.cli"]
    result = subprocess.run(
        [*command, "users", "add", "--data-dir", str(tmp_path), "--username", "ana"]
        + ["--role", "analyst", "--password-stdin"],
        input=PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert UserStore.at(tmp_path).verify("ana", PASSWORD) is not None


# --- audit ----------------------------------------------------------------------------------


def three_events(data_dir: Path) -> list[audit.AuditEvent]:
    return [
        audit.record(data_dir, user="ana", role="program_manager", page="person", pid="p_1"),
        audit.record(
            data_dir, user="cora", role="coach", page="person", pid="p_2", outcome="denied"
        ),
        audit.record(data_dir, user="ana", role="program_manager", page="person", pid="p_2"),
    ]


def test_audit_prints_every_event_oldest_first(tmp_path, monkeypatch, capsys):
    events = three_events(tmp_path)

    code, out, _ = steadyback(monkeypatch, capsys, "audit", "--data-dir", str(tmp_path))

    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["time", "user", "role", "page", "pid", "outcome"]
    assert [line.split() for line in lines[2:]] == [
        [e.at, e.user, e.role, e.page, e.pid, e.outcome] for e in events
    ]


def test_audit_csv_and_jsonl(tmp_path, monkeypatch, capsys):
    events = three_events(tmp_path)

    _, out, _ = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["time"], r["user"], r["pid"], r["outcome"]) for r in rows] == [
        (e.at, e.user, e.pid, e.outcome) for e in events
    ]

    _, out, _ = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "jsonl"
    )
    assert [audit.AuditEvent(**json.loads(line)) for line in out.splitlines()] == events


def test_audit_filters(tmp_path, monkeypatch, capsys):
    events = three_events(tmp_path)
    base = ("audit", "--data-dir", str(tmp_path), "--format", "jsonl")

    def shown(*filters: str) -> list[audit.AuditEvent]:
        _, out, _ = steadyback(monkeypatch, capsys, *base, *filters)
        return [audit.AuditEvent(**json.loads(line)) for line in out.splitlines()]

    assert shown("--user", "ana") == [events[0], events[2]]
    assert shown("--pid", "p_2") == events[1:]
    assert shown("--user", "ana", "--pid", "p_2") == [events[2]]
    today = events[0].at[:10]
    assert shown("--since", today) == events
    assert shown("--since", "2999-01-01") == []


def test_audit_warns_about_damaged_lines_but_prints_the_rest(tmp_path, monkeypatch, capsys):
    events = three_events(tmp_path)
    with audit.log_path(tmp_path).open("a") as log:
        log.write("not json\n")

    code, out, err = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "jsonl"
    )
    assert code == 1
    assert len(out.splitlines()) == len(events)
    assert f"{audit.log_path(tmp_path)}:4" in err


def test_audit_without_a_log(tmp_path, monkeypatch, capsys):
    code, out, err = steadyback(monkeypatch, capsys, "audit", "--data-dir", str(tmp_path))
    assert code == 0 and out == "" and "No audit events" in err


# --- demo -----------------------------------------------------------------------------------


def test_demo_prints_the_demo_logins_before_serving(tmp_path, monkeypatch, capsys):
    """`steadyback demo` on generated data: demo users created and printed, then the servers."""
    import pipelines.runner

    data_dir = with_roster(tmp_path, ["C-03", "C-01", "C-02"])
    (data_dir / "landing").mkdir()
    (data_dir / "landing" / "roster.csv").write_text("participant_id\n")
    (data_dir / "truth").mkdir()
    (data_dir / "truth" / "effects.json").write_text("{}")
    report = SimpleNamespace(published=True, render=lambda: "run summary")
    monkeypatch.setattr(pipelines.runner, "run_pipeline", lambda *args, **kwargs: report)
    monkeypatch.setattr(cli, "_instance", lambda data_dir: None)
    started: list[list[str]] = []

    class FinishedService:
        pid = -1

        def __init__(self, command, **kwargs):
            started.append(command)

        def poll(self):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", FinishedService)
    monkeypatch.setattr(cli, "_stop", lambda services: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)

    code = cli.main(["demo", "--data-dir", str(data_dir)])
    out = capsys.readouterr().out

    assert code == 0 and len(started) == 2
    assert "demo data only" in out and "public" in out
    table = out[out.index("Demo logins") :].splitlines()[1:]
    assert table[0].split() == ["username", "password", "role", "coach", "id"]
    printed = [line.split() for line in table[2:6]]
    assert [(row[1], row[2]) for row in printed] == [(DEMO_PASSWORD, "program_manager")] + [
        (DEMO_PASSWORD, "analyst")
    ] + [(DEMO_PASSWORD, "coach")] * 2
    assert [row[3] for row in printed[2:]] == ["C-01", "C-02"]
    store = UserStore.at(data_dir)
    for username, password, role, *_ in printed:
        assert store.verify(username, password).role == role


def test_demo_on_real_exports_creates_no_demo_users(tmp_path, monkeypatch, capsys):
    import pipelines.runner

    data_dir = with_roster(tmp_path, ["C-01", "C-02"])
    (data_dir / "landing").mkdir()
    (data_dir / "landing" / "roster.csv").write_text("participant_id\n")
    report = SimpleNamespace(published=True, render=lambda: "run summary")
    monkeypatch.setattr(pipelines.runner, "run_pipeline", lambda *args, **kwargs: report)
    monkeypatch.setattr(cli, "_instance", lambda data_dir: None)
    monkeypatch.setattr(
        cli.subprocess, "Popen", lambda *a, **k: SimpleNamespace(pid=-1, poll=lambda: 0)
    )
    monkeypatch.setattr(cli, "_stop", lambda services: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)

    assert cli.main(["demo", "--data-dir", str(data_dir)]) == 0
    out = capsys.readouterr().out
    assert "No demo logins" in out and "steadyback users add" in out
    assert not UserStore.at(data_dir).path.exists()


def test_audit_csv_never_hands_a_spreadsheet_a_formula(tmp_path, monkeypatch, capsys):
    audit.record(
        tmp_path, user="coach", role="coach", page="person", pid='=HYPERLINK("x")', outcome="denied"
    )

    _, out, _ = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "csv"
    )

    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row["pid"] == '\'=HYPERLINK("x")'


def test_audit_table_keeps_a_crafted_pid_on_its_own_line(tmp_path, monkeypatch, capsys):
    forged = "p_x\n2026-01-01T00:00:00.000+00:00  pm  program_manager  person  p_0123  viewed"
    audit.record(tmp_path, user="coach", role="coach", page="person", pid=forged, outcome="denied")

    _, out, _ = steadyback(monkeypatch, capsys, "audit", "--data-dir", str(tmp_path))

    lines = out.splitlines()
    assert len(lines) == 3  # header, rule, the one event
    assert "p_x\\n2026" in lines[2] and lines[2].rstrip().endswith("denied")
