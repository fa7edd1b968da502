"""`steadyback serve/demo --session-idle`: passed to the dashboard server, or refused up front."""

from __future__ import annotations

import pytest

from pipelines import cli
from pipelines.lib.sign_in import IDLE_ENV


def argument_after(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_serve_runs_the_server_with_the_cookie_route_and_passes_the_idle_time(
    tmp_path, monkeypatch
):
    monkeypatch.delenv(IDLE_ENV, raising=False)
    command, env = cli.streamlit_command(tmp_path, 9999, "127.0.0.1", "30m")
    assert command[2:5] == ["streamlit", "run", str(cli.DASHBOARD_SERVER)]
    assert cli.DASHBOARD_SERVER.parent == cli.DASHBOARD_APP.parent  # the same config.toml
    assert env[IDLE_ENV] == "30m"

    _, env = cli.streamlit_command(tmp_path, 9999, "127.0.0.1")
    assert IDLE_ENV not in env  # the server's default (8 h)
    monkeypatch.setenv(IDLE_ENV, "2h")
    _, env = cli.streamlit_command(tmp_path, 9999, "127.0.0.1")
    assert env[IDLE_ENV] == "2h"


def test_demo_passes_the_idle_time_to_the_dashboard_only(tmp_path):
    args = cli.build_parser().parse_args(
        ["demo", "--data-dir", str(tmp_path), "--session-idle", "45m"]
    )
    dashboard, dagster = cli.demo_services(args)
    assert dashboard.env[IDLE_ENV] == "45m"
    assert dagster.env.get(IDLE_ENV) != "45m"
    assert argument_after(dashboard.command, "--server.port") == "8501"


@pytest.mark.parametrize(
    ("arguments", "env", "named"),
    [
        (["--session-idle", "8d"], None, "--session-idle"),
        (["--session-idle", "0s"], None, "--session-idle"),
        ([], "forever", IDLE_ENV),
    ],
    ids=["days", "zero", "environment"],
)
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_bad_idle_time_is_refused_before_anything_starts(
    tmp_path, monkeypatch, capsys, command, arguments, env, named
):
    import pipelines.runner

    if env is None:
        monkeypatch.delenv(IDLE_ENV, raising=False)
    else:
        monkeypatch.setenv(IDLE_ENV, env)

    def must_not_run(*args, **kwargs):
        raise AssertionError("started although the idle time is refused")

    monkeypatch.setattr(cli.os, "execve", must_not_run)
    monkeypatch.setattr(cli.subprocess, "Popen", must_not_run)
    monkeypatch.setattr(pipelines.runner, "run_pipeline", must_not_run)

    code = cli.main([command, "--data-dir", str(tmp_path), *arguments])

    err = capsys.readouterr().err
    assert code == 2
    assert named in err and "s, m or h" in err and "from 1s to 168h" in err
