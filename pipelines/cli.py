"""`steadyback` — generate a demo cohort, run the pipeline, serve the dashboards."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

from pipelines.lib.digest.compose import DigestError
from pipelines.lib.layout import (
    DATA_DIR_ENV,
    LANDING_ENV,
    RAW_ENV,
    DataDir,
    default_data_dir,
    keep_private,
)
from pipelines.lib.parse_cluster import ClusterError
from pipelines.lib.pseudonym import KeyRefused
from pipelines.lib.rules import ProgramRulesError
from pipelines.lib.sign_in import IDLE_ENV, SessionError, idle_seconds
from pipelines.lib.storage import StorageError
from pipelines.lib.text_export import spreadsheet_cell
from pipelines.lib.users import ROLES, UserError

DASHBOARD_APP = Path(__file__).resolve().parents[1] / "dashboards" / "streamlit_app.py"
DASHBOARD_SERVER = DASHBOARD_APP.parent / "server.py"
"""What `serve` and `demo` run: the app plus the route that sets the sign-in cookie."""
DASHBOARD_CONFIG = DASHBOARD_APP.parent / ".streamlit" / "config.toml"
DEMO_COHORT = {"participants": 300, "weeks": 12, "seed": 7}


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.lib.demo_cohort import generate_cohort

    out = Path(args.out)
    started = time.perf_counter()
    summary = generate_cohort(
        out,
        participants=args.participants,
        weeks=args.weeks,
        seed=args.seed,
        minute_level=args.minute_level,
    )
    print(f"Demo cohort written to {out.absolute()} in {time.perf_counter() - started:.1f} s")
    for name, value in summary.items():
        if name in ("files", "rows"):
            continue
        print(f"  {name}: {value}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from pipelines.runner import run_pipeline

    with _instance(args.data_dir) as instance:
        report = run_pipeline(
            args.data_dir,
            as_of=args.as_of,
            instance=instance,
            rotate_key=args.rotate_key,
            landing=args.landing,
            raw=args.raw,
        )
    print(report.render())
    return 0 if report.published else 1


def _instance(data_dir: str | os.PathLike):
    """The data dir's Dagster instance, for a `with` block: its storage connections are
    closed in the thread that opened them (left to the garbage collector, SQLite's
    connections are closed from whichever thread collects them, and fail there), and its
    run history is written without an fsync per event (lib/dagster_instance.py)."""
    from pipelines.lib.dagster_instance import open_instance
    from pipelines.runner import dagster_home

    home = dagster_home(DataDir.at(data_dir))
    os.environ["DAGSTER_HOME"] = str(home)
    return open_instance(home)


def dashboard_settings() -> dict[str, object]:
    """The dashboard's Streamlit settings (`section.option` → value) from its config.toml.

    One definition: Streamlit reads the same file itself when it runs the app, and
    `steadyback serve`/`demo` pass every setting as a flag, which also wins over any
    other config file and STREAMLIT_* environment variables.
    """
    import tomllib

    with DASHBOARD_CONFIG.open("rb") as handle:
        return dict(_flattened(tomllib.load(handle)))


def _flattened(table: dict, prefix: str = ""):
    for name, value in table.items():
        if isinstance(value, dict):
            yield from _flattened(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def streamlit_command(
    data_dir: str | os.PathLike, port: int, host: str, session_idle: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """The dashboard server: every setting of its config.toml as a flag, on `host`:`port`.

    `session_idle` (e.g. `8h`) becomes the server's STEADYBACK_SESSION_IDLE; without it
    the server keeps the variable it inherits, or the default.
    """
    settings = {**dashboard_settings(), "server.address": host, "server.port": port}
    command = [sys.executable, "-m", "streamlit", "run", str(DASHBOARD_SERVER)]
    for name, value in settings.items():
        command += [f"--{name}", str(value).lower() if isinstance(value, bool) else str(value)]
    env = {**os.environ, DATA_DIR_ENV: str(DataDir.at(data_dir).root)}
    # a bad idle time is refused here, before any server starts
    if session_idle is None:
        idle_seconds()
    else:
        idle_seconds(session_idle, "--session-idle")
        env[IDLE_ENV] = session_idle
    return command, env


def dagster_command(
    data_dir: str | os.PathLike, port: int, host: str
) -> tuple[list[str], dict[str, str]]:
    """The Dagster UI (`dagster dev`: webserver, daemon, code server) on this data dir."""
    from pipelines.runner import dagster_home

    layout = DataDir.at(data_dir)
    # fmt: off
    command = [
        sys.executable, "-m", "dagster", "dev", "-m", "pipelines.definitions",
        "-h", host, "-p", str(port),
    ]
    # fmt: on
    env = {**os.environ, DATA_DIR_ENV: str(layout.root), "DAGSTER_HOME": str(dagster_home(layout))}
    return command, env


DASHBOARD_EXPOSED = "it speaks plain HTTP, so passwords cross the network readable"
DAGSTER_EXPOSED = "it has no login: whoever reaches it can read run logs and start runs"


class Service(NamedTuple):
    name: str
    host: str
    port: int
    command: list[str]
    env: dict[str, str]
    exposed_risk: str
    """What anyone who can reach it off this machine gets."""


def demo_services(args: argparse.Namespace) -> list[Service]:
    """The servers `steadyback demo` starts.

    `--host` is the dashboard's address only; the Dagster UI, which has no login,
    listens on `--dagster-host` (loopback unless told otherwise).
    """
    return [
        Service(
            "Dashboard",
            args.host,
            args.port,
            *streamlit_command(args.data_dir, args.port, args.host, args.session_idle),
            DASHBOARD_EXPOSED,
        ),
        Service(
            "Dagster UI",
            args.dagster_host,
            args.dagster_port,
            *dagster_command(args.data_dir, args.dagster_port, args.dagster_host),
            DAGSTER_EXPOSED,
        ),
    ]


def _url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):
        return f"http://{socket.gethostname()}:{port} (every interface)"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _warn_if_exposed(name: str, host: str, risk: str) -> None:
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"warning: the {name} listens on {host}, not only on this machine; {risk}. "
            "Put it behind a reverse proxy with TLS and authentication (docs/deploy.md).",
            file=sys.stderr,
            flush=True,
        )


def cmd_serve(args: argparse.Namespace) -> int:
    from pipelines.lib.users import refuse_demo_users_on_real_data

    refuse_demo_users_on_real_data(args.data_dir)
    command, env = streamlit_command(args.data_dir, args.port, args.host, args.session_idle)
    _warn_if_exposed("Dashboard", args.host, DASHBOARD_EXPOSED)
    print(f"Dashboard: {_url(args.host, args.port)}", flush=True)
    os.execve(command[0], command, env)  # become the server: signals reach it directly


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.lib.demo_cohort import generate_cohort
    from pipelines.lib.users import ensure_demo_users, refuse_demo_users_on_real_data
    from pipelines.runner import run_pipeline

    layout = DataDir.configured(args.data_dir)
    services = demo_services(args)  # a bad --session-idle is refused before the run
    if not layout.landing.is_dir() or not any(layout.landing.iterdir()):
        print(f"No exports in {layout.landing}: generating the demo cohort {DEMO_COHORT} …")
        generate_cohort(layout.root, **DEMO_COHORT)
    print("Running the pipeline …")
    with _instance(layout.root) as instance:
        report = run_pipeline(layout.root, instance=instance)
    print(report.render())
    if not report.published and not layout.snapshot.exists():
        print("Nothing to serve: the run published no snapshot.")
        return 1
    try:
        demo_logins = demo_users_text(ensure_demo_users(layout.root))
    except UserError as error:
        demo_logins = f"  No demo logins: {error}\n"
    refuse_demo_users_on_real_data(layout.root)

    # Each service gets its own process group so that stopping the demo stops all
    # of their children too (the Dagster webserver, daemon and code servers).
    for service in services:
        _warn_if_exposed(service.name, service.host, service.exposed_risk)
    started = [
        subprocess.Popen(service.command, env=service.env, start_new_session=True)
        for service in services
    ]
    print(
        "\n"
        + "".join(f"  {s.name + ':':<12}{_url(s.host, s.port)}\n" for s in services)
        + "  Ctrl-C stops both.\n\n"
        + demo_logins,
        flush=True,
    )
    # also for SIGINT: a demo started in the background of a script inherits "ignore Ctrl-C"
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while all(service.poll() is None for service in started):
            time.sleep(1)
    except KeyboardInterrupt:
        print("Stopping the dashboard and the Dagster UI …", flush=True)
    finally:
        # a second Ctrl-C (or the SIGTERM of a `kill`) must not abandon the servers half-stopped
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stop_services(started)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def stop_services(services: list[subprocess.Popen], grace_s: float = 20) -> None:
    """Stop the demo's servers and whatever they started: each was given its own process
    group, which gets SIGTERM, then SIGKILL for what is left after `grace_s` seconds."""
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


# --- access: dashboard users and the audit log ---------------------------------------------

PASSWORD_ARGUMENT_REFUSED = (
    "steadyback users add: give the password on standard input with --password-stdin, e.g.\n"
    "  read -rs PW && printf '%s\\n' \"$PW\" | steadyback users add ... --password-stdin\n"
    "Passwords are not taken as arguments: arguments end up in shell history and are visible "
    "to other users of this machine in the process list."
)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    rows = [[spreadsheet_cell(cell) for cell in row] for row in rows]
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _read_password(confirm: bool) -> str:
    """One line from standard input, without its line ending; prompted for on a terminal."""
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password again: ") != password:
            raise UserError("the two passwords differ")
        return password
    return sys.stdin.readline().removesuffix("\n").removesuffix("\r")


def cmd_users_add(args: argparse.Namespace) -> int:
    from pipelines.lib.users import UserStore, snapshot_coach_ids

    if not args.password_stdin:
        print(PASSWORD_ARGUMENT_REFUSED, file=sys.stderr)
        return 2
    password = _read_password(confirm=True)
    store = UserStore.at(args.data_dir)
    user = store.add(
        args.username,
        args.role,
        password,
        coach_id=args.coach_id,
        replace=args.replace,
        email=args.email,
        timezone=args.timezone,
    )
    print(f"{'Updated' if args.replace else 'Added'} {user.username} ({user.role}) in {store.path}")
    if user.coach_id:
        known = snapshot_coach_ids(args.data_dir)
        if known is None:
            print(
                f"warning: no published snapshot yet, so coach id {user.coach_id!r} "
                "could not be checked against the roster",
                file=sys.stderr,
            )
        elif user.coach_id not in known:
            print(
                f"warning: coach id {user.coach_id!r} has no participants in the published "
                f"snapshot (its coach ids: {_some(known)}); this coach will see "
                "an empty caseload until the roster lists them",
                file=sys.stderr,
            )
    return 0


def _some(values: list[str], at_most: int = 10) -> str:
    shown = ", ".join(values[:at_most]) or "none"
    return shown + (f", … ({len(values)} in all)" if len(values) > at_most else "")


def cmd_users_list(args: argparse.Namespace) -> int:
    from pipelines.lib.users import UserStore

    store = UserStore.at(args.data_dir)
    users = store.list()
    if not users:
        print(f"No dashboard users in {store.path}")
        return 0
    rows = [
        [u.username, u.role, u.coach_id or "", u.created_at or "", u.email or "", u.timezone or ""]
        for u in users
    ]
    print(_table(["username", "role", "coach id", "created", "e-mail", "time zone"], rows))
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    from pipelines.lib.users import DEMO_USERNAMES, UserStore

    store = UserStore.at(args.data_dir)
    if args.demo:
        removed = store.remove_all(DEMO_USERNAMES)
        _end_sessions(args.data_dir, removed)
        print(
            f"Removed {', '.join(removed)} from {store.path}"
            if removed
            else f"No demo users in {store.path}"
        )
        return 0
    if not store.remove(args.username):
        print(f"steadyback: no user {args.username!r} in {store.path}", file=sys.stderr)
        return 1
    _end_sessions(args.data_dir, [args.username])
    print(f"Removed {args.username} from {store.path}")
    return 0


def _end_sessions(data_dir: str | os.PathLike, usernames: list[str]) -> None:
    """Delete the removed users' sign-in sessions now, so that a users file restored from a
    backup cannot bring them back (they are refused already: no such user)."""
    from pipelines.lib.sign_in import Sessions

    sessions = Sessions.at(data_dir)
    for username in usernames:
        sessions.end_user(username)


def _day(value: str):
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def cmd_audit(args: argparse.Namespace) -> int:
    """The audit log as a table, CSV or JSON lines; see `pipelines.lib.text_export` for why
    no value in any of them can forge a line, drive a terminal or run as a formula."""
    import csv

    from pipelines.lib import audit

    events, problems = audit.read_with_problems(args.data_dir)
    events = audit.select(events, user=args.user, pid=args.pid, since=args.since)
    if args.format == "jsonl":
        for event in events:
            print(audit.export_line(event))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(audit.EXPORT_COLUMNS)
        writer.writerows(audit.export_rows(events))
    elif events:
        print(_table(list(audit.EXPORT_COLUMNS), audit.export_rows(events)))
    else:
        print(f"No audit events in {audit.log_path(args.data_dir)}", file=sys.stderr)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 1 if problems else 0


def cmd_digest(args: argparse.Namespace) -> int:
    """The weekly coach digests of this ISO week: printed (--dry-run) or sent once per coach."""
    from datetime import UTC, datetime

    from pipelines.lib.digest.deliver import render, send_digests

    outcomes = send_digests(
        args.data_dir,
        datetime.now(UTC),
        args.coach or None,
        dry_run=args.dry_run,
        base_url=args.base_url,
    )
    print(render(outcomes, args.dry_run), end="")
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def demo_users_text(demo_users) -> str:
    """The demo logins as a table, marked as demo-only."""
    rows = [
        [u.username, u.password or "(changed — not shown)", u.role, u.coach_id or ""]
        for u in demo_users
    ]
    return (
        "  Demo logins (generated demo data only — these passwords are public):\n"
        + "\n".join(
            "    " + line
            for line in _table(["username", "password", "role", "coach id"], rows).splitlines()
        )
        + "\n"
    )


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
    generate.add_argument(
        "--minute-level",
        action="store_true",
        help="also write Fitabase minuteStepsNarrow and heartrate_seconds (large: about "
        "1 GB per 50 people × 12 weeks)",
    )
    generate.set_defaults(handler=cmd_generate)

    run = commands.add_parser("run", help="ingest DIR/landing/, build, check and publish")
    run.add_argument("--data-dir", default=str(default_data_dir()))
    run.add_argument(
        "--as-of", help="pin the 'as of' day (YYYY-MM-DD); default: the latest day with data"
    )
    run.add_argument(
        "--rotate-key",
        action="store_true",
        help="publish under a new STEADYBACK_PSEUDONYM_KEY: every pid changes "
        "(docs/operations.md, 'Rotating the key')",
    )
    run.add_argument(
        "--landing",
        help=f"read exports from this folder or s3://bucket/prefix (default: ${LANDING_ENV}, "
        "else DIR/landing; docs/operations.md, 'Object storage and a Dask cluster')",
    )
    run.add_argument(
        "--raw",
        help=f"keep the parsed files here, a folder or s3://bucket/prefix (default: ${RAW_ENV}, "
        "else DIR/raw)",
    )
    run.set_defaults(handler=cmd_run)

    serve = commands.add_parser("serve", help="serve the dashboard on the published snapshot")
    serve.add_argument("--data-dir", default=str(default_data_dir()))
    serve.add_argument("--port", type=int, default=8501)
    serve.add_argument(
        "--host", default="127.0.0.1", help="the dashboard's address (default: loopback only)"
    )
    _session_idle_argument(serve)
    serve.set_defaults(handler=cmd_serve)

    demo = commands.add_parser(
        "demo", help="generate (if needed), run, and serve the dashboard and the Dagster UI"
    )
    demo.add_argument("--data-dir", default=str(default_data_dir()))
    demo.add_argument("--port", type=int, default=8501)
    demo.add_argument("--dagster-port", type=int, default=3000)
    demo.add_argument(
        "--host", default="127.0.0.1", help="the dashboard's address (default: loopback only)"
    )
    demo.add_argument(
        "--dagster-host",
        default="127.0.0.1",
        help="the Dagster UI's address (default: loopback only; the UI has no login)",
    )
    _session_idle_argument(demo)
    demo.set_defaults(handler=cmd_demo)

    users = commands.add_parser("users", help="add, list or remove dashboard users")
    users_commands = users.add_subparsers(dest="users_command", required=True)
    users_add = users_commands.add_parser(
        "add", help="add a dashboard user (the password is read from standard input)"
    )
    users_add.add_argument("--data-dir", default=str(default_data_dir()))
    users_add.add_argument("--username", required=True)
    users_add.add_argument("--role", required=True, choices=ROLES)
    users_add.add_argument(
        "--coach-id", help="coaches only: the roster's coach_id of their caseload"
    )
    users_add.add_argument(
        "--email", help="where the weekly coach digest goes (docs/operations.md; coaches)"
    )
    users_add.add_argument(
        "--timezone",
        help="IANA time zone the digest's Monday 07:00 is in (default: "
        "$STEADYBACK_DIGEST_TIMEZONE, else UTC)",
    )
    users_add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (one line); required",
    )
    users_add.add_argument(
        "--replace", action="store_true", help="replace an existing user (e.g. a password reset)"
    )
    users_add.set_defaults(handler=cmd_users_add)
    users_list = users_commands.add_parser("list", help="list the dashboard users (never hashes)")
    users_list.add_argument("--data-dir", default=str(default_data_dir()))
    users_list.set_defaults(handler=cmd_users_list)
    users_remove = users_commands.add_parser("remove", help="remove a dashboard user")
    users_remove.add_argument("--data-dir", default=str(default_data_dir()))
    which = users_remove.add_mutually_exclusive_group(required=True)
    which.add_argument("--username")
    which.add_argument(
        "--demo", action="store_true", help="remove every demo user (demo-manager, …)"
    )
    users_remove.set_defaults(handler=cmd_users_remove)

    audit = commands.add_parser(
        "audit", help="print the audit log: who opened which person's page, and logins"
    )
    audit.add_argument("--data-dir", default=str(default_data_dir()))
    audit.add_argument("--user", help="only this username")
    audit.add_argument("--pid", help="only this participant")
    audit.add_argument("--since", type=_day, help="only from this day on (YYYY-MM-DD, UTC)")
    audit.add_argument("--format", choices=("table", "csv", "jsonl"), default="table")
    audit.set_defaults(handler=cmd_audit)

    digest = commands.add_parser(
        "digest",
        help="send each coach this week's digest by e-mail, once (or print them: --dry-run)",
    )
    digest.add_argument("--data-dir", default=str(default_data_dir()))
    digest.add_argument(
        "--dry-run", action="store_true", help="print every coach's digest; send and record nothing"
    )
    digest.add_argument(
        "--coach", action="append", metavar="USERNAME", help="only this coach (repeatable)"
    )
    digest.add_argument(
        "--base-url",
        help="the dashboard's address for the links (default: $STEADYBACK_DASHBOARD_URL; a dry "
        "run falls back to http://127.0.0.1:8501)",
    )
    digest.set_defaults(handler=cmd_digest)
    return parser


def _session_idle_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--session-idle",
        metavar="TIME",
        help="sign a dashboard user out after this long without using it, e.g. 8h, 30m, 90s "
        "(default: $STEADYBACK_SESSION_IDLE, else 8h; docs/access.md)",
    )


def main(argv: list[str] | None = None) -> int:
    keep_private()  # first: nothing any command writes is readable by others
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as err:
        print(f"steadyback: {err}", file=sys.stderr)
        return 2
    except UserError as err:
        print(f"steadyback: {err}", file=sys.stderr)
        return 2
    except KeyRefused as err:
        print(f"steadyback: {err}", file=sys.stderr)
        return 2
    except (ProgramRulesError, SessionError, StorageError, ClusterError, DigestError) as err:
        print(f"steadyback: {err}", file=sys.stderr)
        return 2


def entry() -> None:
    """The `steadyback` command: `main`, then out without Python's teardown of the interpreter.

    A command has closed everything it wrote by the time it returns (files, DuckDB, the
    Dagster instance, the local cluster); tearing down the modules a run loads (Dagster,
    Polars, DuckDB) then took ~0.6 s more of every `steadyback run` (benchmarks/README.md,
    "Apple Health"). Logging and the output streams are flushed first; an error that escapes
    `main` ends the process the usual way, traceback and all."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
