"""The audit log: one whole JSON line per event, never interleaved, owner-only, outside the snapshot."""

from __future__ import annotations

import json
import multiprocessing
import stat
import sys
import types
from datetime import UTC, date, datetime

import pytest

from pipelines.lib import audit
from pipelines.lib.layout import DataDir


def test_record_and_read_back_in_order(tmp_path):
    first = audit.record(tmp_path, user="ana", role="program_manager", page="person", pid="p_1")
    second = audit.record(
        tmp_path, user="cora", role="coach", page="person", pid="p_2", outcome="denied"
    )
    third = audit.record(tmp_path, user="x", role=None, page="login", outcome="login_failed")

    assert audit.read(tmp_path) == [first, second, third]
    assert first.outcome == "viewed"
    assert datetime.fromisoformat(first.at).tzinfo is not None
    assert abs((datetime.now(UTC) - datetime.fromisoformat(first.at)).total_seconds()) < 60
    assert first.at <= second.at <= third.at


def test_the_log_lives_in_the_access_folder_not_the_snapshot(tmp_path):
    audit.record(tmp_path, user="ana", role="program_manager", page="person", pid="p_1")
    layout = DataDir.at(tmp_path)
    assert audit.log_path(tmp_path) == layout.audit_log
    assert layout.audit_log.parent == layout.access_dir
    assert layout.published_dir not in layout.audit_log.parents
    assert stat.S_IMODE(layout.audit_log.stat().st_mode) == 0o600
    assert stat.S_IMODE(layout.access_dir.stat().st_mode) == 0o700


def test_an_absent_log_is_empty(tmp_path):
    assert audit.read(tmp_path) == []


def test_unknown_outcomes_are_refused(tmp_path):
    with pytest.raises(ValueError, match="outcome"):
        audit.record(tmp_path, user="ana", role="analyst", page="person", outcome="peeked")
    assert not audit.log_path(tmp_path).exists()


def test_values_cannot_break_or_forge_a_line(tmp_path):
    """A pid typed into a URL is logged as it came, inside one JSON line."""
    forged = 'p_1"}\n{"at": "2020-01-01", "user": "someone-else", "outcome": "viewed'
    audit.record(tmp_path, user="ana\nbob", role="coach", page="person", pid=forged)

    lines = audit.log_path(tmp_path).read_text().splitlines()
    assert len(lines) == 1
    (event,) = audit.read(tmp_path)
    assert event.pid == forged
    assert event.user == "ana\nbob"


def test_a_damaged_line_is_reported_with_file_and_line_and_the_rest_still_read(tmp_path):
    audit.record(tmp_path, user="ana", role="program_manager", page="person", pid="p_1")
    with audit.log_path(tmp_path).open("a") as log:
        log.write('{"at": "2026-01-01T00:00:00.000+00:00", "user": "trunc\n')
        log.write('{"no": "fields"}\n')
    audit.record(tmp_path, user="ben", role="program_manager", page="person", pid="p_2")

    events, problems = audit.read_with_problems(tmp_path)
    assert [e.user for e in events] == ["ana", "ben"]
    assert [p.split(": ")[0] for p in problems] == [
        f"{audit.log_path(tmp_path)}:2",
        f"{audit.log_path(tmp_path)}:3",
    ]
    with pytest.raises(audit.AuditLogError, match=f"{audit.log_path(tmp_path)}:2"):
        audit.read(tmp_path)


def test_select_filters_by_user_pid_and_day(tmp_path):
    log = audit.log_path(tmp_path)
    log.parent.mkdir(parents=True)
    rows = [
        ("2026-03-01T23:59:59.999+00:00", "ana", "p_1"),
        ("2026-03-02T00:00:00.000+00:00", "ana", "p_2"),
        ("2026-03-03T08:00:00.000+00:00", "ben", "p_1"),
    ]
    log.write_text(
        "".join(
            json.dumps(
                {
                    "at": at,
                    "user": u,
                    "role": "coach",
                    "page": "person",
                    "pid": p,
                    "outcome": "viewed",
                }
            )
            + "\n"
            for at, u, p in rows
        )
    )
    events = audit.read(tmp_path)

    assert [e.at[:10] for e in audit.select(events, since=date(2026, 3, 2))] == [
        "2026-03-02",
        "2026-03-03",
    ]
    assert [e.pid for e in audit.select(events, user="ana")] == ["p_1", "p_2"]
    assert [e.user for e in audit.select(events, pid="p_1")] == ["ana", "ben"]
    assert audit.select(events, user="ana", pid="p_1", since=date(2026, 3, 2)) == []
    assert audit.select(events) == events


def _append_many(data_dir: str, writer: int, count: int, pad: int) -> None:
    for number in range(count):
        audit.record(
            data_dir,
            user=f"writer{writer}",
            role="coach",
            page="person",
            pid=f"{number:05d}-" + "x" * pad,  # long lines: several kB, more than one write's worth
        )


def test_several_processes_appending_never_interleave_a_line(tmp_path, monkeypatch):
    # spawned children re-run the parent's __main__: after an AppTest in this process that
    # would be a Streamlit page, so start them from a plain one
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    context = multiprocessing.get_context("spawn")
    writers, per_writer, pad = 4, 150, 20_000
    processes = [
        context.Process(target=_append_many, args=(str(tmp_path), w, per_writer, pad))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=300)
    assert [p.exitcode for p in processes] == [0] * writers

    events, problems = audit.read_with_problems(tmp_path)
    assert problems == []
    assert len(events) == writers * per_writer
    for writer in range(writers):
        own = [e.pid for e in events if e.user == f"writer{writer}"]
        assert own == [f"{n:05d}-" + "x" * pad for n in range(per_writer)]  # whole and in order


def test_a_page_showing_many_identities_logs_one_event_per_person_at_once(tmp_path, capsys):
    from pipelines import cli

    audit.record(tmp_path, user="cora", role="coach", page="login", outcome="login")
    shown = audit.record_each(
        tmp_path,
        user="cora",
        role="coach",
        page="caseload",
        pids=["p_1", "p_2", "p_3"],
        outcome="identity_shown",
    )
    searched = audit.record(
        tmp_path, user="cora", role="coach", page="caseload", outcome="searched"
    )

    assert audit.read(tmp_path)[1:] == [*shown, searched]
    assert len({e.at for e in shown}) == 1
    assert (
        audit.record_each(
            tmp_path, user="cora", role="coach", page="caseload", pids=[], outcome="identity_shown"
        )
        == []
    )
    assert len(audit.read(tmp_path)) == 5

    # `steadyback audit --pid` answers "who was shown whom"
    assert cli.main(["audit", "--data-dir", str(tmp_path), "--pid", "p_2"]) == 0
    rows = capsys.readouterr().out.splitlines()[2:]
    assert [row.split()[1:] for row in rows] == [
        ["cora", "coach", "caseload", "p_2", "identity_shown"]
    ]
