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

import pytest
from generated_data import copy_generated
from snapshot_files import snapshot_of_coaches

from pipelines import cli
from pipelines.lib import audit
from pipelines.lib.sign_in import Sessions
from pipelines.lib.users import DEMO_PASSWORD, UserStore, snapshot_coach_ids

PASSWORD = "correct horse battery"


def steadyback(monkeypatch, capsys, *argv: str, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def with_roster(root: Path, coach_ids: list[str]) -> Path:
    """A data dir whose published snapshot lists participants of these coaches."""
    snapshot_of_coaches(root, coach_ids)
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
    assert lines[0].split() == [
        "username",
        "role",
        "coach",
        "id",
        "created",
        "e-mail",
        "time",
        "zone",
    ]
    assert lines[2].split()[:3] == ["cora", "coach", "C-07"]
    assert lines[3].split()[:2] == ["zoe", "analyst"]
    assert store.get("cora").created_at in lines[2]
    assert "argon2" not in out and PASSWORD not in out


def test_list_without_users(tmp_path, monkeypatch, capsys):
    code, out, _ = steadyback(monkeypatch, capsys, "users", "list", "--data-dir", str(tmp_path))
    assert code == 0 and "No dashboard users" in out


def test_remove(tmp_path, monkeypatch, capsys):
    store = UserStore.at(tmp_path)
    store.add("zoe", "analyst", PASSWORD)
    store.add("yan", "analyst", PASSWORD)
    sessions = Sessions.at(tmp_path)
    for name in ("zoe", "zoe", "yan"):
        sessions.start(store.get(name), idle_s=3600)
    args = ("users", "remove", "--data-dir", str(tmp_path), "--username", "zoe")

    assert steadyback(monkeypatch, capsys, *args)[0] == 0
    assert UserStore.at(tmp_path).get("zoe") is None
    # her sessions are gone from the file, not only refused: a restored users file can't revive them
    assert (sessions.count("zoe"), sessions.count("yan")) == (0, 1)
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
    # the command leaves without Python's teardown (cli.entry): piped output still comes whole
    listed = subprocess.run(
        [*command, "users", "list", "--data-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert listed.returncode == 0 and "ana" in listed.stdout and "analyst" in listed.stdout
    damaged = UserStore.at(tmp_path / "damaged")
    damaged.path.parent.mkdir(parents=True)
    damaged.path.write_text("{oops")
    refused = subprocess.run(
        [*command, "users", "list", "--data-dir", str(tmp_path / "damaged")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 2 and str(damaged.path) in refused.stderr


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


def test_demo_prints_the_demo_logins_before_serving(small_cohort, tmp_path, monkeypatch, capsys):
    """`steadyback demo` on generated data: demo users created and printed, then the servers."""
    import pipelines.runner

    data_dir = copy_generated(small_cohort, tmp_path)
    report = SimpleNamespace(published=True, render=lambda: "run summary")
    monkeypatch.setattr(pipelines.runner, "run_pipeline", lambda *args, **kwargs: report)
    # the cli points DAGSTER_HOME at the data dir: monkeypatch restores it afterwards
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    started: list[list[str]] = []

    class FinishedService:
        pid = -1

        def __init__(self, command, **kwargs):
            started.append(command)

        def poll(self):
            return 0

    monkeypatch.setattr(cli.subprocess, "Popen", FinishedService)
    monkeypatch.setattr(cli, "stop_services", lambda services: None)
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
    assert [row[3] for row in printed[2:]] == snapshot_coach_ids(data_dir)[:2]
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
    # the cli points DAGSTER_HOME at the data dir: monkeypatch restores it afterwards
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))
    monkeypatch.setattr(
        cli.subprocess, "Popen", lambda *a, **k: SimpleNamespace(pid=-1, poll=lambda: 0)
    )
    monkeypatch.setattr(cli, "stop_services", lambda services: None)
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


# --- audit exports: no value can forge a row, drive a terminal or run as a formula -----------

CRAFTED_PIDS = [  # what a coach can type as ?pid= (logged as denied)
    "\r=1+1",
    " =cmd|' /C calc'!A0",
    "\t=1+1",
    "@SUM(1+1)",
    "-2+3",
    "+1",
    "p_1\r\n=1+1",
    "\u2028=1+1",
    "\x85=1+1",
    "\x1b[2J\x1b[31m=1+1",
    "a\u202eb=1+1",
]
LEGITIMATE = [  # (user, role, page, pid, outcome): read back exactly, in every format
    ("ana", "program_manager", "person", "p_02afba33ae4696a2", "viewed"),
    ("cora@example.org", "coach", "person", "p_6f24d43ebf6fdfee", "report"),
    ('zoë, "o\'brien"', None, "login", None, "login_failed"),  # a username as typed
]


def crafted_and_legitimate(data_dir: Path) -> list[audit.AuditEvent]:
    events = [
        audit.record(data_dir, user=u, role=r, page=g, pid=p, outcome=o)
        for u, r, g, p, o in LEGITIMATE
    ]
    events += [
        audit.record(data_dir, user="coach", role="coach", page="person", pid=pid, outcome="denied")
        for pid in CRAFTED_PIDS
    ]
    return events


def starts_a_formula(cell: str) -> bool:
    return cell.lstrip(" ")[:1] in ("=", "+", "-", "@", "\t", "\r")


def test_audit_csv_is_one_line_per_event_and_never_a_formula(tmp_path, monkeypatch, capsys):
    events = crafted_and_legitimate(tmp_path)

    code, out, _ = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "csv"
    )

    assert code == 0
    lines = out.splitlines()  # splits at \r, \n, \u2028, \x85 and the other line breaks
    assert len(lines) == 1 + len(events)
    assert all(line[:4].isdigit() for line in lines[1:]), "every physical line is one event"
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["time", "user", "role", "page", "pid", "outcome"]
    assert all(cell.isprintable() and not starts_a_formula(cell) for row in rows for cell in row)
    legitimate = [
        [e.at, e.user, e.role or "", e.page, e.pid or "", e.outcome]
        for e in events[: len(LEGITIMATE)]
    ]
    assert rows[1 : 1 + len(LEGITIMATE)] == legitimate  # legitimate values round-trip exactly
    pids = [row[4] for row in rows[1 + len(LEGITIMATE) :]]
    assert pids[:2] == ["\\r=1+1", "' =cmd|' /C calc'!A0"]
    assert pids[CRAFTED_PIDS.index("-2+3")] == "'-2+3"
    assert pids[CRAFTED_PIDS.index("\u2028=1+1")] == "\\u2028=1+1"


def test_audit_table_is_one_line_per_event_and_never_a_formula(tmp_path, monkeypatch, capsys):
    events = crafted_and_legitimate(tmp_path)

    code, out, _ = steadyback(monkeypatch, capsys, "audit", "--data-dir", str(tmp_path))

    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 + len(events)
    assert all(line.isprintable() for line in lines), "no escape sequence reaches the terminal"
    assert all(line[:4].isdigit() for line in lines[2:])
    assert lines[2].split() == [
        events[0].at,
        "ana",
        "program_manager",
        "person",
        events[0].pid,
        "viewed",
    ]
    for line, pid in zip(lines[2 + len(LEGITIMATE) :], CRAFTED_PIDS, strict=True):
        assert line.rstrip().endswith("denied")
        shown = line.split("person", 1)[1].strip()
        assert not starts_a_formula(shown), (pid, shown)


def test_audit_jsonl_is_one_line_per_event_with_exact_values(tmp_path, monkeypatch, capsys):
    events = crafted_and_legitimate(tmp_path)

    code, out, _ = steadyback(
        monkeypatch, capsys, "audit", "--data-dir", str(tmp_path), "--format", "jsonl"
    )

    assert code == 0
    lines = out.splitlines()
    assert len(lines) == len(events)
    assert all(line.isprintable() for line in lines)
    assert [audit.AuditEvent(**json.loads(line)) for line in lines] == events  # lossless
    assert lines == audit.log_path(tmp_path).read_text(encoding="utf-8").splitlines()  # as stored


# --- users remove --demo, and what the servers bind to -------------------------------------------


def test_users_remove_demo_removes_the_demo_users_and_nobody_else(
    small_cohort, tmp_path, monkeypatch, capsys
):
    from pipelines.lib.users import ensure_demo_users

    data_dir = copy_generated(small_cohort, tmp_path)
    ensure_demo_users(data_dir)
    UserStore.at(data_dir).add("ana", "program_manager", PASSWORD)

    code, out, _ = steadyback(
        monkeypatch, capsys, "users", "remove", "--demo", "--data-dir", str(data_dir)
    )

    assert code == 0
    assert "Removed demo-analyst, demo-coach-1, demo-coach-2, demo-manager" in out
    assert [u.username for u in UserStore.at(data_dir).list()] == ["ana"]
    code, out, _ = steadyback(
        monkeypatch, capsys, "users", "remove", "--demo", "--data-dir", str(data_dir)
    )
    assert code == 0 and "No demo users" in out


@pytest.mark.parametrize("which", [(), ("--demo", "--username", "ana")], ids=["neither", "both"])
def test_users_remove_needs_exactly_one_of_username_and_demo(tmp_path, monkeypatch, capsys, which):
    with pytest.raises(SystemExit) as exit_:
        steadyback(monkeypatch, capsys, "users", "remove", "--data-dir", str(tmp_path), *which)
    assert exit_.value.code == 2


def argument_after(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_demo_keeps_the_dagster_ui_on_loopback_when_the_dashboard_is_exposed(tmp_path):
    """`--host` is the dashboard's; the Dagster UI (no login) moves only with `--dagster-host`."""
    args = cli.build_parser().parse_args(["demo", "--data-dir", str(tmp_path), "--host", "0.0.0.0"])
    dashboard, dagster = cli.demo_services(args)

    assert dagster.command[2:4] == ["dagster", "dev"]
    assert argument_after(dagster.command, "-h") == "127.0.0.1"
    assert argument_after(dashboard.command, "--server.address") == "0.0.0.0"

    args = cli.build_parser().parse_args(["demo", "--dagster-host", "10.0.0.5"])
    dashboard, dagster = cli.demo_services(args)
    assert argument_after(dagster.command, "-h") == "10.0.0.5"
    assert argument_after(dashboard.command, "--server.address") == "127.0.0.1"


def test_serve_passes_every_dashboard_setting_as_a_flag(tmp_path):
    """Flags win over every other Streamlit config file and STREAMLIT_* variables."""
    import tomllib

    with cli.DASHBOARD_CONFIG.open("rb") as handle:
        config = tomllib.load(handle)
    command, env = cli.streamlit_command(tmp_path, 9999, "127.0.0.1")

    assert config["server"]["address"] == "127.0.0.1"
    assert config["client"] == {"showErrorDetails": "none", "toolbarMode": "minimal"}
    for section, options in config.items():
        for name, value in options.items():
            expected = {"server.port": "9999"}.get(
                f"{section}.{name}", str(value).lower() if isinstance(value, bool) else str(value)
            )
            assert argument_after(command, f"--{section}.{name}") == expected
    assert env["STEADYBACK_DATA_DIR"] == str(tmp_path)
