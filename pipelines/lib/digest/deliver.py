"""Who gets a digest when, and sending them: for the CLI and the Dagster schedule.

The schedule ticks every 15 minutes (UTC) and a coach is due in the first hour after the send
time (default Monday 07:00) in their own time zone (`users add --timezone`, else
STEADYBACK_DIGEST_TIMEZONE, else UTC); the ledger makes sure a coach gets one digest per ISO
week however often that hour's ticks, a re-run or a manual `steadyback digest` try.

    STEADYBACK_DIGEST_WEEKDAY    monday (default) … sunday
    STEADYBACK_DIGEST_TIME       07:00 (default), HH:MM in the coach's time zone
    STEADYBACK_DIGEST_TIMEZONE   the time zone of coaches without one (default UTC)
    STEADYBACK_DASHBOARD_URL     the dashboard's address, for the links (required to send)
"""

from __future__ import annotations

import hashlib
import os
import time as clock
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from pipelines.lib.layout import DataDir
from pipelines.lib.users import User, UserStore, timezone_problem

from .compose import Coach, Digest, DigestError, compose, dashboard_url, read_snapshot
from .ledger import FAILED, SENT, open_ledger, read_deliveries
from .smtp import ATTEMPTS, SmtpSettings, deliver

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
SEND_WINDOW = timedelta(hours=1)
TICK_CRON = "*/15 * * * *"  # the schedule's ticks (UTC); a few of them fall in each window
DASHBOARD_URL_ENV = "STEADYBACK_DASHBOARD_URL"
DRY_RUN_URL = "http://127.0.0.1:8501"  # what `steadyback demo` serves


@dataclass(frozen=True)
class Timing:
    weekday: int  # 0 = Monday
    at: time
    default_timezone: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Timing:
        day = env.get("STEADYBACK_DIGEST_WEEKDAY", "monday").strip().lower()
        if day not in WEEKDAYS:
            raise DigestError(f"STEADYBACK_DIGEST_WEEKDAY {day!r}: one of {', '.join(WEEKDAYS)}")
        text = env.get("STEADYBACK_DIGEST_TIME", "07:00").strip()
        try:
            at = time.fromisoformat(text)
        except ValueError:
            raise DigestError(f"STEADYBACK_DIGEST_TIME {text!r}: HH:MM, e.g. 07:00") from None
        zone = env.get("STEADYBACK_DIGEST_TIMEZONE", "UTC").strip()
        if problem := timezone_problem(zone):
            raise DigestError(f"STEADYBACK_DIGEST_TIMEZONE {zone!r} {problem}")
        return cls(WEEKDAYS.index(day), at, zone)


def coaches(users: Iterable[User], timing: Timing, usernames: Iterable[str] | None = None):
    """The coaches of the users file (only `usernames`, when given: DigestError for a name
    that is not a coach)."""
    found = [
        Coach(u.username, u.coach_id or "", u.email, u.timezone or timing.default_timezone)
        for u in users
        if u.role == "coach"
    ]
    if usernames is None:
        return found
    wanted = list(dict.fromkeys(usernames))
    known = {c.username: c for c in found}
    missing = [name for name in wanted if name not in known]
    if missing:
        raise DigestError(f"no coach named {', '.join(map(repr, missing))} in the users file")
    return [known[name] for name in wanted]


def iso_week(moment: datetime, timezone: str) -> str:
    year, week, _ = moment.astimezone(ZoneInfo(timezone)).isocalendar()
    return f"{year}-W{week:02}"


def is_due(coach: Coach, moment: datetime, timing: Timing) -> bool:
    """Whether `moment` is in the hour after the coach's send time, in their time zone."""
    local = moment.astimezone(ZoneInfo(coach.timezone))
    start = datetime.combine(local.date(), timing.at, tzinfo=local.tzinfo)
    return local.weekday() == timing.weekday and start <= local < start + SEND_WINDOW


def due_coaches(layout: DataDir, moment: datetime, timing: Timing) -> list[Coach]:
    """Coaches with an e-mail address who are due at `moment` and not yet sent this week."""
    sent = {k for k, e in read_deliveries(layout).items() if e.get("status") == SENT}
    return [
        coach
        for coach in coaches(UserStore.at(layout.root).list(), timing)
        if coach.email
        and is_due(coach, moment, timing)
        and f"{coach.username}/{iso_week(moment, coach.timezone)}" not in sent
    ]


def message(digest: Digest, settings: SmtpSettings, moment: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = digest.coach.email
    mail["Subject"] = digest.subject
    mail["Date"] = format_datetime(moment.astimezone(UTC))
    # the same for every try of one coach-week: a mail client shows a duplicate once
    token = hashlib.sha256(digest.key.encode("utf-8")).hexdigest()[:32]
    mail["Message-ID"] = f"<digest.{token}@{settings.sender.rsplit('@', 1)[1]}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(digest.text())
    return mail


@dataclass(frozen=True)
class Outcome:
    digest: Digest
    status: str  # sent, failed, already sent, no e-mail address, dry run
    attempts: int = 0
    error: str | None = None


def send_digests(
    data_dir: str | os.PathLike,
    moment: datetime,
    usernames: Iterable[str] | None = None,
    *,
    dry_run: bool = False,
    base_url: str | None = None,
    env: Mapping[str, str] = os.environ,
    attempts: int = ATTEMPTS,
    wait: Callable[[float], None] = clock.sleep,
) -> list[Outcome]:
    """Compose every coach's digest for the ISO week of `moment` (in their time zone) and send
    the ones not sent yet, recording each in the ledger. A dry run sends and records nothing."""
    layout = DataDir.at(data_dir)
    timing = Timing.from_env(env)
    chosen = coaches(UserStore.at(layout.root).list(), timing, usernames)
    url = base_url or env.get(DASHBOARD_URL_ENV) or (DRY_RUN_URL if dry_run else None)
    if url is None:
        raise DigestError(
            f"{DASHBOARD_URL_ENV} is not set (or --base-url): the digest's links need the "
            "address people open the dashboard at"
        )
    url = dashboard_url(url)
    settings = None if dry_run else SmtpSettings.from_env(env)
    snapshot = read_snapshot(layout.snapshot, sorted({c.coach_id for c in chosen}))
    digests = [compose(c, iso_week(moment, c.timezone), snapshot, url) for c in chosen]
    if dry_run:
        return [Outcome(d, "dry run") for d in digests]
    outcomes = []
    with open_ledger(layout) as ledger:
        for digest in digests:
            if not digest.coach.email:
                outcomes.append(Outcome(digest, "no e-mail address"))
                continue
            if ledger.sent(digest.key):
                outcomes.append(Outcome(digest, "already sent"))
                continue
            mail = message(digest, settings, moment)
            delivery = deliver(settings, mail, attempts, wait)
            ledger.record(
                digest.key,
                SENT if delivery.sent else FAILED,
                delivery.attempts,
                delivery.error,
                username=digest.coach.username,
                coach_id=digest.coach.coach_id,
                week=digest.week,
                message_id=mail["Message-ID"],
                snapshot_run_id=digest.run_id,
                snapshot_as_of=digest.as_of.isoformat(),
            )
            outcomes.append(
                Outcome(
                    digest, SENT if delivery.sent else FAILED, delivery.attempts, delivery.error
                )
            )
    return outcomes


def render(outcomes: list[Outcome], dry_run: bool) -> str:
    """What `steadyback digest` prints: each digest in full for a dry run, else one line each."""
    if dry_run:
        blocks = [
            f"Coach: {o.digest.coach.username} ({o.digest.coach.coach_id})\n"
            f"To: {o.digest.coach.email or '(no e-mail address in the users file: not sent)'}\n"
            f"Subject: {o.digest.subject}\n\n{o.digest.text()}"
            for o in outcomes
        ]
        separator = "\n" + "-" * 72 + "\n"
        return separator.join(blocks) or "No coaches in the users file.\n"
    lines = [
        f"{o.digest.key}: {o.status}"
        + (f" after {o.attempts} attempt(s)" if o.attempts else "")
        + (f" — {o.error}" if o.error else "")
        for o in outcomes
    ]
    return "\n".join(lines) + "\n" if lines else "No coaches in the users file.\n"
