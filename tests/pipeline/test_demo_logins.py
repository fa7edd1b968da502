"""Demo logins end with the demo data: the path from issue 9, run for real.

`make demo` on the generated cohort makes demo users (public password). Replacing
`data/landing/*` with real exports, as the README says, and running `steadyback demo`
again must not leave `demo-manager` / `steadyback-demo` working on the real people:
the demo refuses to serve and names the one command that removes them, `steadyback
serve` refuses the same way, and the login form refuses demo users — also for a
browser tab that was logged in as one before the real data was published.
"""

from __future__ import annotations

import gc
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest
from argon2 import PasswordHasher
from generated_data import copy_generated
from streamlit.testing.v1 import AppTest

from pipelines import cli
from pipelines.lib import audit
from pipelines.lib.users import DEMO_PASSWORD, UserStore, ensure_demo_users

pytestmark = pytest.mark.pipeline

APP = Path(__file__).resolve().parents[2] / "dashboards" / "streamlit_app.py"
PROJECT_ROOT = APP.parents[1]
REMOVE_COMMAND = "steadyback users remove --demo --data-dir"


def replace_landing_with_real_exports(data_dir: Path) -> None:
    """The program's own exports in the spec's format (../shared/spec/program-exports.md):
    a roster, the app's sessions and daily check-ins — nothing the generator wrote."""
    landing = data_dir / "landing"
    shutil.rmtree(landing)
    (landing / "roster").mkdir(parents=True)
    (landing / "app").mkdir()
    people = [("P-10001", "C-7"), ("P-10002", "C-7"), ("P-10003", "C-8")]
    (landing / "roster" / "roster_2026-05-04.csv").write_text(
        "participant_id,cohort,site,coach_id,enrolled_on,program_weeks,timezone\n"
        + "".join(
            f"{pid},2026-may,Leeds,{coach},2026-04-06,4,Europe/London\n" for pid, coach in people
        )
    )
    sessions, checkins = [], []
    for number, (pid, _) in enumerate(people):
        for day in range(1, 22):
            on = f"2026-04-{5 + day:02d}"
            sessions.append(
                f"s-{number}-{day},{pid},{on}T07:30:00+01:00,{600 + 30 * day},stretch,"
                f"hamstrings,{day % 5},true,true,4.2.0\n"
            )
            checkins.append(f"{pid},{on},{max(0, 7 - day // 4)},6,4,6,{on}T20:00:00+01:00\n")
    (landing / "app" / "sessions_2026-05-04.csv").write_text(
        "session_id,participant_id,started_at,duration_s,kind,target,discomfort,"
        "guided_breathing,completed,app_version\n" + "".join(sessions)
    )
    (landing / "app" / "checkins_2026-05-04.csv").write_text(
        "participant_id,date,pain,sleep_quality,stress,movement_confidence,submitted_at\n"
        + "".join(checkins)
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def login_page(data_dir: Path, monkeypatch) -> AppTest:
    monkeypatch.setenv("STEADYBACK_DATA_DIR", str(data_dir))
    # Whatever earlier runs left for the garbage collector is collected here, not while the
    # app's script thread compiles: CPython 3.11.7's ast is not thread-safe (gh-106905), and a
    # traceback logged from another thread parses source too.
    gc.collect()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at


def log_in(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="login_username").input(username)
    at.text_input(key="login_password").input(password)
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def logged_in(at: AppTest) -> bool:
    return "Username" not in [t.label for t in at.text_input]


def test_demo_logins_stop_working_when_real_exports_replace_the_demo_cohort(
    small_cohort, tmp_path, monkeypatch, capsys
):
    data_dir = copy_generated(small_cohort, tmp_path / "data")
    demo_users = ensure_demo_users(data_dir)  # what `make demo` did on the generated cohort
    assert [u.username for u in demo_users][:2] == ["demo-manager", "demo-analyst"]
    open_tab = log_in(login_page(data_dir, monkeypatch), "demo-manager", DEMO_PASSWORD)
    assert logged_in(open_tab), "demo logins work on the generated cohort"

    # Real exports replace the demo cohort, and `steadyback demo` runs again.
    replace_landing_with_real_exports(data_dir)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster-home"))  # restored afterwards
    started: list[list[str]] = []

    real_popen = subprocess.Popen

    def popen(command, *args, **kwargs):  # the servers are recorded, not started
        if command[1:3] in (["-m", "dagster"], ["-m", "streamlit"]):
            started.append(command)
            return SimpleNamespace(pid=-1, poll=lambda: 0)
        return real_popen(command, *args, **kwargs)  # e.g. Dagster's log tailing during the run

    monkeypatch.setattr(cli.subprocess, "Popen", popen)
    monkeypatch.setattr(cli, "stop_services", lambda services: None)
    monkeypatch.setattr(cli.signal, "signal", lambda *args: None)

    code = cli.main(["demo", "--data-dir", str(data_dir)])

    out, err = capsys.readouterr()
    assert "Published:" in out, out  # the run published the real exports
    with duckdb.connect(str(data_dir / "published" / "current.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from marts.participants").fetchone() == (3,)
    assert code == 2 and started == [], "no server starts while demo users exist"
    assert "demo-manager" in err and f"{REMOVE_COMMAND} {data_dir}" in err

    # The tab that was logged in as demo-manager is logged out at its next click.
    open_tab.run()
    assert not logged_in(open_tab)

    # The login form refuses demo users, and says why.
    at = log_in(login_page(data_dir, monkeypatch), "demo-manager", DEMO_PASSWORD)
    assert not logged_in(at)
    assert "Demo logins work only on the generated demo cohort" in at.error[0].value
    last = audit.read(data_dir)[-1]
    assert (last.user, last.outcome) == ("demo-manager", "login_failed")

    # So does the public password under any other name (a users file edited by hand).
    users_file = UserStore.at(data_dir).path
    document = json.loads(users_file.read_text())
    document["users"].append(
        {
            "username": "old-admin",
            "role": "program_manager",
            "password_hash": PasswordHasher().hash(DEMO_PASSWORD),
        }
    )
    users_file.write_text(json.dumps(document))
    at = log_in(login_page(data_dir, monkeypatch), "old-admin", DEMO_PASSWORD)
    assert not logged_in(at)
    assert "Demo logins work only on the generated demo cohort" in at.error[0].value

    # `steadyback serve` refuses to start, with the same command.
    served = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "serve", "--data-dir", str(data_dir)]
        + ["--port", str(free_port())],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert served.returncode == 2, served.stdout + served.stderr
    assert f"{REMOVE_COMMAND} {data_dir}" in served.stderr

    # The one command it names removes them, and nobody else.
    assert cli.main(["users", "remove", "--demo", "--data-dir", str(data_dir)]) == 0
    assert [u.username for u in UserStore.at(data_dir).list()] == ["old-admin"]
