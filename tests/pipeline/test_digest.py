"""The weekly coach digest against a real SMTP server started by the test (aiosmtpd, on a free
loopback port), on the demo cohort's published snapshot: who gets which mail, what it says
(recomputed from the published tables), that it names no one and carries no health value, one
mail per coach and week however often it runs, failures retried, reported and recorded, STARTTLS
with a login, the dry run, and the Dagster schedule and job."""

from __future__ import annotations

import json
import re
import shutil
import socket
import ssl
import subprocess
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from generated_data import copy_generated

from pipelines import cli
from pipelines.defs.digest import coach_digest, coach_digest_schedule
from pipelines.defs.resources import SteadybackResource
from pipelines.lib.digest.compose import DigestError
from pipelines.lib.digest.deliver import send_digests
from pipelines.lib.digest.ledger import read_deliveries
from pipelines.lib.digest.smtp import BACKOFF_S, SmtpSettings
from pipelines.lib.layout import DataDir
from pipelines.lib.users import UserStore, ensure_demo_users

PASSWORD = "a coach's password"
MONDAY = datetime(2026, 6, 22, 6, 0, tzinfo=UTC)  # 07:00 in London (BST), 01:00 in Chicago
BASE_URL = "https://steadyback.example.org"
SENDER = "steadyback@clinic.example.org"
HEALTH_WORDS = re.compile(
    r"(?i)\b(pain|sleep\w*|steps?|discomfort|odi|tsk|stress|mood|confidence|breathing|"
    r"stability|intense|probability|\d+(\.\d+)?\s*%)"
)


# --- a real SMTP server ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message; RCPT answers come from `answers` while it lasts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.answers: list[str] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.answers:
            return self.answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"

    def parsed(self):
        return [(to, message_from_bytes(raw, policy=policy.default)) for to, raw in self.messages]


@pytest.fixture
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield handler, controller.port
    controller.stop()


def smtp_env(monkeypatch, port: int, security: str = "none") -> None:
    monkeypatch.setenv("STEADYBACK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("STEADYBACK_SMTP_PORT", str(port))
    monkeypatch.setenv("STEADYBACK_SMTP_SECURITY", security)
    monkeypatch.setenv("STEADYBACK_DIGEST_FROM", SENDER)
    monkeypatch.setenv("STEADYBACK_DASHBOARD_URL", BASE_URL + "/")
    for name in ("STEADYBACK_SMTP_USERNAME", "STEADYBACK_SMTP_PASSWORD", "STEADYBACK_SMTP_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "STEADYBACK_DIGEST_WEEKDAY",
        "STEADYBACK_DIGEST_TIME",
        "STEADYBACK_DIGEST_TIMEZONE",
    ):
        monkeypatch.delenv(name, raising=False)


# --- the data dir: the demo cohort's snapshot and a users file --------------------------------------


def coach_ids(data_dir: Path) -> list[str]:
    with duckdb.connect(str(DataDir.at(data_dir).snapshot), read_only=True) as con:
        return [
            c
            for (c,) in con.execute(
                "select distinct coach_id from marts.participants order by 1"
            ).fetchall()
        ]


@pytest.fixture
def data_dir(demo_cohort, tmp_path) -> Path:
    """The demo cohort's snapshot and identities, with coaches of its first three coach ids — ana
    (London, e-mail), bo (Chicago, e-mail), cy (no e-mail) — and an analyst with an e-mail."""
    target = tmp_path / "data"
    shutil.copytree(demo_cohort / "published", target / "published")
    (target / "access").mkdir(mode=0o700)
    shutil.copy(demo_cohort / "access" / "identities.json", target / "access" / "identities.json")
    first, second, third = coach_ids(target)[:3]
    store = UserStore.at(target)
    store.add(
        "ana",
        "coach",
        PASSWORD,
        coach_id=first,
        email="ana@clinic.example.org",
        timezone="Europe/London",
    )
    store.add(
        "bo",
        "coach",
        PASSWORD,
        coach_id=second,
        email="bo@clinic.example.org",
        timezone="America/Chicago",
    )
    store.add("cy", "coach", PASSWORD, coach_id=third)
    store.add("dee", "analyst", PASSWORD, email="dee@clinic.example.org")
    return target


def expected_lines(data_dir: Path, coach_id: str) -> dict[str, str]:
    """pid → what its line says, recomputed from the published tables (silence rule: 7 days)."""
    snapshot = DataDir.at(data_dir).snapshot
    with duckdb.connect(str(snapshot), read_only=True) as con:
        ((as_of,),) = con.execute("select as_of from meta.snapshot").fetchall()
        people = con.execute(
            "select pid, enrolled_on from marts.participants where coach_id = ? and status = 'active'",
            [coach_id],
        ).fetchall()
        lines = {}
        for pid, enrolled_on in people:
            weeks = con.execute(
                "select week, as_of, band from models.disengagement_risk where pid = ? order by week",
                [pid],
            ).fetchall()
            band = None
            if weeks and weeks[-1][1] > as_of - timedelta(days=7) and weeks[-1][2] != "low":
                band = weeks[-1][2]
            (alerts,) = con.execute(
                "select count(*) from marts.flags where pid = ? and is_open and severity = 'alert'",
                [pid],
            ).fetchone()
            (last,) = con.execute(
                "select max(day) from marts.participant_day where pid = ? and day_state <> 'unknown' "
                "and (pain is not null or sleep_quality is not null or stress is not null "
                "or movement_confidence is not null)",
                [pid],
            ).fetchone()
            silent = (as_of - (last or enrolled_on - timedelta(days=1))).days
            said = []
            if band:
                said.append(f"{band} risk of stopping")
            if alerts:
                said.append(f"{alerts} open alert" + ("s" if alerts > 1 else ""))
            if silent >= 7:
                said.append(f"no check-in for {silent} days")
            if said:
                lines[pid] = "; ".join(said)
    return lines


def body_lines(mail) -> dict[str, str]:
    """pid → what the mail's line about it says (and its link is checked)."""
    found = {}
    for line in mail.get_content().splitlines():
        match = re.fullmatch(r"  - (p_[0-9a-f]{16}): (.+) — (\S+)", line)
        if match:
            pid, said, link = match.groups()
            assert link == f"{BASE_URL}/person?pid={pid}"
            found[pid] = said
    return found


# --- what is sent, to whom -------------------------------------------------------------------------


def test_each_coach_with_an_e_mail_gets_one_digest_of_their_own_people(
    data_dir, inbox, monkeypatch
):
    handler, port = inbox
    smtp_env(monkeypatch, port)
    outcomes = send_digests(data_dir, MONDAY)

    assert {o.digest.coach.username: o.status for o in outcomes} == {
        "ana": "sent", "bo": "sent", "cy": "no e-mail address",
    }  # fmt: skip
    received = handler.parsed()
    assert sorted(to for to, _ in received) == [
        ["ana@clinic.example.org"],
        ["bo@clinic.example.org"],
    ]
    first, second, _ = coach_ids(data_dir)[:3]
    for to, mail in received:
        coach_id = first if to == ["ana@clinic.example.org"] else second
        expected = expected_lines(data_dir, coach_id)
        assert expected, "the demo caseload has people to look at"
        assert body_lines(mail) == expected
        assert mail["From"] == SENDER and mail["To"] == to[0]
        assert mail["Subject"] == f"steadyback, week 2026-W26: {len(expected)} people to look at"
        assert mail["Auto-Submitted"] == "auto-generated"
        text = mail.get_content()
        assert "from data as of Sun 21 Jun 2026" in text
        assert f"Your caseload: {BASE_URL}/caseload" in text
        counts = [
            sum("risk of stopping" in said for said in expected.values()),
            sum("open alert" in said for said in expected.values()),
            sum("no check-in" in said for said in expected.values()),
        ]
        assert re.findall(r"^  (\d+) ", text, re.MULTILINE) == [str(n) for n in counts]


def test_no_mail_names_anyone_or_carries_a_health_value(data_dir, inbox, monkeypatch):
    """Scan every byte sent: no display name or participant id (access/identities.json), no
    flag evidence or early-warning reason, no health word, no probability or share."""
    handler, port = inbox
    smtp_env(monkeypatch, port)
    send_digests(data_dir, MONDAY)
    assert len(handler.messages) == 2
    people = json.loads((data_dir / "access" / "identities.json").read_text())["people"]
    names = {p["display_name"] for p in people.values() if p.get("display_name")}
    ids = {p["participant_id"] for p in people.values()}
    with duckdb.connect(str(DataDir.at(data_dir).snapshot), read_only=True) as con:
        sentences = {e for (e,) in con.execute("select evidence from marts.flags").fetchall()}
        sentences |= {
            r
            for (r,) in con.execute(
                "select reasons from models.disengagement_risk where reasons is not null"
            ).fetchall()
        }
    assert len(names) >= 50 and len(ids) == 300 and len(sentences) > 100
    for _, raw in handler.messages:
        text = raw.decode("utf-8")
        mail = message_from_bytes(raw, policy=policy.default)
        readable = mail.get_content() + "\n" + str(mail["Subject"])
        assert not [n for n in names if re.search(rf"\b{re.escape(n)}", readable)]
        assert not [i for i in ids if i in text]
        assert not [s for s in sentences if s in readable]
        assert not HEALTH_WORDS.findall(readable.replace("health information", ""))


# --- one mail per coach and week -----------------------------------------------------------------------


def test_one_mail_per_coach_and_week_however_often_it_runs(data_dir, inbox, monkeypatch):
    handler, port = inbox
    smtp_env(monkeypatch, port)
    send_digests(data_dir, MONDAY)
    again = send_digests(data_dir, MONDAY + timedelta(minutes=15))
    assert [o.status for o in again if o.digest.coach.email] == ["already sent", "already sent"]
    assert len(handler.messages) == 2

    deliveries = read_deliveries(DataDir.at(data_dir))
    assert set(deliveries) == {"ana/2026-W26", "bo/2026-W26"}
    assert all(
        e["status"] == "sent" and e["attempts"] == 1 and e["error"] is None
        for e in deliveries.values()
    )
    assert "ana@clinic.example.org" not in DataDir.at(data_dir).digest_deliveries.read_text()
    assert oct(DataDir.at(data_dir).digest_deliveries.stat().st_mode & 0o777) == "0o600"
    assert oct(DataDir.at(data_dir).digest_dir.stat().st_mode & 0o777) == "0o700"

    send_digests(data_dir, MONDAY + timedelta(days=7))  # the next ISO week
    assert len(handler.messages) == 4
    weeks = {entry["week"] for entry in read_deliveries(DataDir.at(data_dir)).values()}
    assert weeks == {"2026-W26", "2026-W27"}


# --- failures: retried, reported, recorded --------------------------------------------------------------


def test_a_refused_connection_is_retried_reported_and_recorded_then_sent_later(
    data_dir, inbox, monkeypatch, capsys
):
    handler, port = inbox
    nothing_listens = free_port()
    smtp_env(monkeypatch, nothing_listens)
    waits: list[float] = []
    outcomes = send_digests(data_dir, MONDAY, ["ana"], wait=waits.append)

    (failed,) = outcomes
    assert failed.status == "failed" and failed.attempts == 3
    assert "Connection refused" in failed.error and f"127.0.0.1:{nothing_listens}" in failed.error
    assert waits == list(BACKOFF_S), "bounded: three attempts, two waits"
    entry = read_deliveries(DataDir.at(data_dir))["ana/2026-W26"]
    assert (entry["status"], entry["attempts"], entry["coach_id"]) == (
        "failed",
        3,
        coach_ids(data_dir)[0],
    )
    assert "Connection refused" in entry["error"]

    # the CLI says so and exits 1 (its own clock picks the week; without the waits)
    monkeypatch.setattr("pipelines.lib.digest.smtp.BACKOFF_S", (0.0, 0.0))
    code = cli.main(["digest", "--data-dir", str(data_dir), "--coach", "ana"])
    out = capsys.readouterr().out
    assert code == 1 and re.fullmatch(
        r"ana/\d{4}-W\d\d: failed after 3 attempt\(s\) — .*Connection refused.*\n", out
    )

    # the server is back: the failed week is sent (a failure is not a "sent")
    smtp_env(monkeypatch, port)
    (sent,) = send_digests(data_dir, MONDAY, ["ana"], wait=waits.append)
    assert sent.status == "sent" and len(handler.messages) == 1
    entry = read_deliveries(DataDir.at(data_dir))["ana/2026-W26"]
    assert (entry["status"], entry["attempts"], entry["error"]) == ("sent", 4, None)


def test_a_4xx_answer_is_tried_again_and_a_5xx_is_not(data_dir, inbox, monkeypatch):
    handler, port = inbox
    smtp_env(monkeypatch, port)
    handler.answers = ["451 4.3.0 Mailbox busy, try later", "451 4.3.0 Mailbox busy, try later"]
    (busy,) = send_digests(data_dir, MONDAY, ["ana"], wait=lambda s: None)
    assert (busy.status, busy.attempts) == ("sent", 3) and len(handler.messages) == 1

    handler.answers = ["550 5.1.1 No such user"]
    (refused,) = send_digests(data_dir, MONDAY, ["bo"], wait=lambda s: None)
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "refused the recipient: 550 5.1.1 No such user" in refused.error
    entry = read_deliveries(DataDir.at(data_dir))["bo/2026-W26"]
    assert entry["status"] == "failed" and "550" in entry["error"]
    assert len(handler.messages) == 1


# --- STARTTLS and a login -----------------------------------------------------------------------------------


@pytest.fixture
def tls_inbox(tmp_path):
    """A server that requires STARTTLS before anything, and a login over it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl command to make a test certificate with")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
         str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password, session.ssl is not None))
        return AuthResult(success=auth_data.password == b"smtp secret")

    handler = Inbox()
    controller = Controller(
        handler, hostname="127.0.0.1", port=free_port(), tls_context=context,
        require_starttls=True, authenticator=authenticator, auth_required=True,
        auth_require_tls=True,
    )  # fmt: skip
    controller.start()
    yield handler, controller.port, cert, logins
    controller.stop()


def test_starttls_with_a_login_and_an_untrusted_certificate_refused(
    data_dir, tls_inbox, monkeypatch
):
    handler, port, cert, logins = tls_inbox
    smtp_env(monkeypatch, port, security="starttls")
    monkeypatch.setenv("STEADYBACK_SMTP_USERNAME", "steadyback")
    monkeypatch.setenv("STEADYBACK_SMTP_PASSWORD", "smtp secret")
    monkeypatch.setenv("STEADYBACK_SMTP_CA_FILE", str(cert))
    (sent,) = send_digests(data_dir, MONDAY, ["ana"])
    assert sent.status == "sent" and len(handler.messages) == 1
    assert logins == [(b"steadyback", b"smtp secret", True)], "the password only inside TLS"

    # without the private CA the certificate is not trusted: failed at once, never retried
    monkeypatch.delenv("STEADYBACK_SMTP_CA_FILE")
    (refused,) = send_digests(data_dir, MONDAY, ["bo"], wait=lambda s: pytest.fail("retried"))
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert "certificate is not trusted" in refused.error
    assert len(logins) == 1, "no password sent to a server that was not verified"


@pytest.mark.parametrize(
    ("env", "said"),
    [
        ({}, "STEADYBACK_SMTP_HOST is not set"),
        ({"STEADYBACK_SMTP_HOST": "mail.example.org"}, "STEADYBACK_DIGEST_FROM ''"),
        (
            {"STEADYBACK_SMTP_HOST": "mail.example.org", "STEADYBACK_DIGEST_FROM": SENDER,
             "STEADYBACK_SMTP_SECURITY": "ssl"},
            "one of starttls, tls, none",
        ),
        (
            {"STEADYBACK_SMTP_HOST": "mail.example.org", "STEADYBACK_DIGEST_FROM": SENDER,
             "STEADYBACK_SMTP_SECURITY": "none", "STEADYBACK_SMTP_USERNAME": "u",
             "STEADYBACK_SMTP_PASSWORD": "p"},
            "would cross the network to mail.example.org readable",
        ),
        (
            {"STEADYBACK_SMTP_HOST": "mail.example.org", "STEADYBACK_DIGEST_FROM": SENDER,
             "STEADYBACK_SMTP_USERNAME": "u"},
            "set both or neither",
        ),
        (
            {"STEADYBACK_SMTP_HOST": "mail.example.org", "STEADYBACK_DIGEST_FROM": SENDER,
             "STEADYBACK_SMTP_PORT": "smtp"},
            "STEADYBACK_SMTP_PORT 'smtp'",
        ),
    ],
)  # fmt: skip
def test_smtp_settings_fail_closed_naming_the_variable(env, said):
    with pytest.raises(DigestError, match=re.escape(said)):
        SmtpSettings.from_env(env)


def test_smtp_settings_default_to_starttls_and_never_show_the_password():
    base = {"STEADYBACK_SMTP_HOST": "m.example.org", "STEADYBACK_DIGEST_FROM": SENDER}
    settings = SmtpSettings.from_env(base)
    assert (settings.port, settings.security, settings.username) == (587, "starttls", None)
    tls = SmtpSettings.from_env(
        base | {"STEADYBACK_SMTP_SECURITY": "tls", "STEADYBACK_SMTP_USERNAME": "u",
                "STEADYBACK_SMTP_PASSWORD": "hunter2"}
    )  # fmt: skip
    assert tls.port == 465 and tls.password == "hunter2" and "hunter2" not in repr(tls)


# --- the dry run --------------------------------------------------------------------------------------------


def test_dry_run_prints_the_demo_coaches_digests_and_sends_nothing(
    demo_cohort, tmp_path, monkeypatch, capsys
):
    target = copy_generated(demo_cohort, tmp_path / "data")
    ensure_demo_users(target)
    for name in ("STEADYBACK_SMTP_HOST", "STEADYBACK_DASHBOARD_URL", "STEADYBACK_DIGEST_FROM"):
        monkeypatch.delenv(name, raising=False)
    code = cli.main(["digest", "--dry-run", "--data-dir", str(target)])
    out = capsys.readouterr().out
    assert code == 0
    first, second = coach_ids(target)[:2]
    assert f"Coach: demo-coach-1 ({first})" in out and f"Coach: demo-coach-2 ({second})" in out
    assert out.count("To: (no e-mail address in the users file: not sent)") == 2
    assert "http://127.0.0.1:8501/person?pid=p_" in out
    assert not DataDir.at(target).digest_dir.exists(), "a dry run records nothing"
    # a real send needs a server and the dashboard's address, and says which is missing
    assert cli.main(["digest", "--data-dir", str(target)]) == 2
    assert "STEADYBACK_DASHBOARD_URL is not set" in capsys.readouterr().err


# --- the schedule and the job -------------------------------------------------------------------------------


def tick(data_dir: Path, moment: datetime):
    context = dg.build_schedule_context(
        scheduled_execution_time=moment,
        resources={"steadyback": SteadybackResource(data_dir=str(data_dir))},
    )
    return coach_digest_schedule(context)


def test_the_schedule_asks_for_the_coaches_due_in_their_time_zone_and_the_job_sends(
    data_dir, inbox, monkeypatch
):
    handler, port = inbox
    smtp_env(monkeypatch, port)
    sunday = tick(data_dir, MONDAY - timedelta(days=1))
    assert isinstance(sunday, dg.SkipReason) and "no coach is due" in sunday.skip_message

    london = tick(data_dir, MONDAY)  # 07:00 in London, 01:00 in Chicago
    assert isinstance(london, dg.RunRequest)
    assert london.run_key == "coach-digest-20260622T0600"
    config = london.run_config["ops"]["send_coach_digests"]["config"]
    assert config["usernames"] == ["ana"]
    chicago = tick(data_dir, datetime(2026, 6, 22, 12, 15, tzinfo=UTC))  # 07:15 in Chicago
    assert chicago.run_config["ops"]["send_coach_digests"]["config"]["usernames"] == ["bo"]
    assert isinstance(tick(data_dir, datetime(2026, 6, 22, 13, 0, tzinfo=UTC)), dg.SkipReason)

    with dg.DagsterInstance.ephemeral() as instance:
        result = coach_digest.execute_in_process(
            run_config=london.run_config,
            instance=instance,
            resources={"steadyback": SteadybackResource(data_dir=str(data_dir))},
        )
    assert result.success and [to for to, _ in handler.messages] == [["ana@clinic.example.org"]]
    # sent this week: the next tick of the same hour asks for no run
    assert isinstance(tick(data_dir, MONDAY + timedelta(minutes=15)), dg.SkipReason)

    monkeypatch.delenv("STEADYBACK_SMTP_HOST")
    unconfigured = tick(data_dir, datetime(2026, 6, 22, 12, 0, tzinfo=UTC))
    assert isinstance(unconfigured, dg.SkipReason)
    assert "STEADYBACK_SMTP_HOST is not set" in unconfigured.skip_message


def test_a_failed_send_fails_the_job_run_after_recording_it(data_dir, monkeypatch):
    smtp_env(monkeypatch, free_port())
    monkeypatch.setattr("pipelines.lib.digest.smtp.BACKOFF_S", (0.0, 0.0))
    config = {
        "ops": {
            "send_coach_digests": {"config": {"usernames": ["ana"], "moment": MONDAY.isoformat()}}
        }
    }
    with dg.DagsterInstance.ephemeral() as instance:
        result = coach_digest.execute_in_process(
            run_config=config, instance=instance, raise_on_error=False,
            resources={"steadyback": SteadybackResource(data_dir=str(data_dir))},
        )  # fmt: skip
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "ana/2026-W26: 127.0.0.1:" in failure.step_failure_data.error.to_string()
    assert read_deliveries(DataDir.at(data_dir))["ana/2026-W26"]["status"] == "failed"


def test_the_week_is_the_coach_s_own(data_dir, inbox, monkeypatch):
    """Sunday 23:30 UTC is Monday in London and Sydney, still Sunday in Chicago: each coach's
    digest is of their own ISO week."""
    handler, port = inbox
    smtp_env(monkeypatch, port)
    UserStore.at(data_dir).add(
        "syd", "coach", PASSWORD, coach_id=coach_ids(data_dir)[3], email="syd@clinic.example.org",
        timezone="Australia/Sydney",
    )  # fmt: skip
    late_sunday = datetime(2026, 6, 21, 23, 30, tzinfo=UTC)
    weeks = {o.digest.coach.username: o.digest.week for o in send_digests(data_dir, late_sunday)}
    assert (weeks["syd"], weeks["ana"], weeks["bo"]) == ("2026-W26", "2026-W26", "2026-W25")


def test_a_damaged_ledger_stops_the_send_and_is_never_overwritten(data_dir, inbox, monkeypatch):
    """Overwriting it could send a week twice: the error names the file, nothing is sent."""
    handler, port = inbox
    smtp_env(monkeypatch, port)
    ledger = DataDir.at(data_dir).digest_deliveries
    ledger.parent.mkdir(mode=0o700)
    ledger.write_text('{"version": 1, "deliveries": [')
    with pytest.raises(DigestError, match=re.escape(str(ledger))):
        send_digests(data_dir, MONDAY)
    assert ledger.read_text() == '{"version": 1, "deliveries": [' and handler.messages == []
