"""`steadyback` — generate a demo cohort, run the pipeline, serve the dashboards."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.lib.layout import DATA_DIR_ENV, DataDir, default_data_dir

DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
DEMO_COHORT = {"participants": 300, "weeks": 12, "seed": 7}


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.lib.demo_cohort import generate_cohort

    out = Path(args.out)
    started = time.perf_counter()
    summary = generate_cohort(out, participants=args.participants, weeks=args.weeks, seed=args.seed)
    print(f"Demo cohort written to {out.absolute()} in {time.perf_counter() - started:.1f} s")
    for name, value in summary.items():
        if name in ("files", "rows"):
            continue
        print(f"  {name}: {value}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runner import run_pipeline

    report = run_pipeline(args.data_dir, as_of=args.as_of, instance=_instance(args.data_dir))
    print(report.render())
    return 0 if report.published else 1


def _instance(data_dir: str | os.PathLike):
    import dagster as dg

    from pipelines.runner import dagster_home

    os.environ["DAGSTER_HOME"] = str(dagster_home(DataDir.at(data_dir)))
    return dg.DagsterInstance.get()


def streamlit_command(
    data_dir: str | os.PathLike, port: int, host: str
) -> tuple[list[str], dict[str, str]]:
    # fmt: off
    command = [
        sys.executable, "-m", "streamlit", "run", str(DASHBOARD_APP),
        "--server.port", str(port),
        "--server.address", host,
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    # fmt: on
    env = {**os.environ, DATA_DIR_ENV: str(DataDir.at(data_dir).root)}
    return command, env


def cmd_serve(args: argparse.Namespace) -> int:
    command, env = streamlit_command(args.data_dir, args.port, args.host)
    print(f"Dashboard: http://{args.host}:{args.port}", flush=True)
    os.execve(command[0], command, env)  # become the server: signals reach it directly


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.lib.demo_cohort import generate_cohort
    from pipelines.runner import dagster_home, run_pipeline

    layout = DataDir.at(args.data_dir)
    if not layout.landing.is_dir() or not any(layout.landing.iterdir()):
        print(f"No exports in {layout.landing}: generating the demo cohort {DEMO_COHORT} …")
        generate_cohort(layout.root, **DEMO_COHORT)
    print("Running the pipeline …")
    report = run_pipeline(layout.root, instance=_instance(layout.root))
    print(report.render())
    if not report.published and not layout.snapshot.exists():
        print("Nothing to serve: the run published no snapshot.")
        return 1

    env = {**os.environ, DATA_DIR_ENV: str(layout.root), "DAGSTER_HOME": str(dagster_home(layout))}
    command, streamlit_env = streamlit_command(layout.root, args.port, args.host)
    # Each service gets its own process group so that stopping the demo stops all
    # of their children too (the Dagster webserver, daemon and code servers).
    services = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-m",
                "pipelines.definitions",
                "-h",
                args.host,
                "-p",
                str(args.dagster_port),
            ],
            env=env,
            start_new_session=True,
        ),
        subprocess.Popen(command, env=streamlit_env, start_new_session=True),
    ]
    print(
        "\n"
        f"  Dashboard:  http://localhost:{args.port}\n"
        f"  Dagster UI: http://localhost:{args.dagster_port}\n"
        "  Ctrl-C stops both.\n",
        flush=True,
    )
    # also for SIGINT: a demo started in the background of a script inherits "ignore Ctrl-C"
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(service.poll() is None for service in services):
            time.sleep(1)
    except KeyboardInterrupt:
        print("Stopping the dashboard and the Dagster UI …", flush=True)
    finally:
        _stop(services)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _stop(services: list[subprocess.Popen], grace_s: float = 20) -> None:
    for service in services:
        if service.poll() is None:
            os.killpg(service.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for service in services:
        try:
            service.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(service.pid, signal.SIGKILL)  # whatever of the group is still there
        except ProcessLookupError:
            pass


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="steadyback", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser(
        "generate", help="write a deterministic synthetic cohort into DIR/landing/"
    )
    generate.add_argument("--participants", type=int, default=DEMO_COHORT["participants"])
    generate.add_argument("--weeks", type=int, default=DEMO_COHORT["weeks"])
    generate.add_argument("--seed", type=int, default=DEMO_COHORT["seed"])
    generate.add_argument("--out", default=str(default_data_dir()))
    generate.set_defaults(handler=cmd_generate)

    run = commands.add_parser("run", help="ingest DIR/landing/, build, check and publish")
    run.add_argument("--data-dir", default=str(default_data_dir()))
    run.add_argument(
        "--as-of", help="pin the 'as of' day (YYYY-MM-DD); default: the latest day with data"
    )
    run.set_defaults(handler=cmd_run)

    serve = commands.add_parser("serve", help="serve the dashboard on the published snapshot")
    serve.add_argument("--data-dir", default=str(default_data_dir()))
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: all)")
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo", help="generate (if needed), run, and serve the dashboard and the Dagster UI"
    )
    demo.add_argument("--data-dir", default=str(default_data_dir()))
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--dagster-port", type=int, default=3000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as err:
        print(f"steadyback: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
