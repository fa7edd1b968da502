"""Sending one message through the configured SMTP server, with bounded retries.

Everything comes from the environment of the process that sends (the CLI, or Dagster's run
worker), read at send time so that no secret ever sits in run config or a file of ours:

    STEADYBACK_SMTP_HOST        the server (required to send)
    STEADYBACK_SMTP_PORT        default 587 (starttls), 465 (tls), 25 (none)
    STEADYBACK_SMTP_SECURITY    starttls (default) | tls | none
    STEADYBACK_SMTP_USERNAME    with STEADYBACK_SMTP_PASSWORD: log in (both or neither)
    STEADYBACK_SMTP_CA_FILE     a CA bundle to verify the server with (a private CA)
    STEADYBACK_DIGEST_FROM      the sender address (required to send)

Defaults fail closed: the server's certificate is verified (system CAs or the CA file), and a
password is never sent over a connection without TLS.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage

from pipelines.lib.users import EMAIL_PATTERN

from .compose import DigestError

SECURITY = ("starttls", "tls", "none")
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
LOOPBACK = ("127.0.0.1", "::1", "localhost")
ATTEMPTS = 3
BACKOFF_S = (2.0, 10.0)  # before the 2nd and 3rd attempts
TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 587
    security: str = "starttls"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_s: float = TIMEOUT_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> SmtpSettings:
        """The settings of STEADYBACK_SMTP_* and STEADYBACK_DIGEST_FROM; DigestError naming the
        variable when one is missing or not allowed."""
        host = env.get("STEADYBACK_SMTP_HOST", "").strip()
        if not host:
            raise DigestError("STEADYBACK_SMTP_HOST is not set: no SMTP server to send through")
        sender = env.get("STEADYBACK_DIGEST_FROM", "").strip()
        if not EMAIL_PATTERN.fullmatch(sender):
            raise DigestError(
                f"STEADYBACK_DIGEST_FROM {sender!r}: set the sender's e-mail address "
                "(e.g. steadyback@clinic.example.org)"
            )
        security = env.get("STEADYBACK_SMTP_SECURITY", "starttls").strip().lower()
        if security not in SECURITY:
            raise DigestError(
                f"STEADYBACK_SMTP_SECURITY {security!r}: one of {', '.join(SECURITY)}"
            )
        port_text = env.get("STEADYBACK_SMTP_PORT", "").strip()
        try:
            port = int(port_text) if port_text else DEFAULT_PORTS[security]
        except ValueError:
            port = 0
        if not 0 < port < 65536:
            raise DigestError(f"STEADYBACK_SMTP_PORT {port_text!r}: a port number, 1–65535")
        username = env.get("STEADYBACK_SMTP_USERNAME") or None
        password = env.get("STEADYBACK_SMTP_PASSWORD") or None
        if (username is None) != (password is None):
            raise DigestError(
                "STEADYBACK_SMTP_USERNAME and STEADYBACK_SMTP_PASSWORD: set both or neither"
            )
        if password is not None and security == "none" and host not in LOOPBACK:
            raise DigestError(
                f"STEADYBACK_SMTP_SECURITY none with a password: it would cross the network to "
                f"{host} readable; use starttls or tls"
            )
        ca_file = env.get("STEADYBACK_SMTP_CA_FILE") or None
        if ca_file is not None and not os.path.isfile(ca_file):
            raise DigestError(f"STEADYBACK_SMTP_CA_FILE {ca_file!r}: no such file")
        return cls(host, sender, port, security, username, password, ca_file)


class SendFailed(Exception):
    """A message the server did not take; `transient` when trying again may help."""

    def __init__(self, detail: str, transient: bool) -> None:
        super().__init__(detail)
        self.transient = transient


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {text}".strip()


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Send one message (SendFailed when the server or the network says no)."""
    context = ssl.create_default_context(cafile=settings.ca_file)
    where = f"{settings.host}:{settings.port}"
    try:
        if settings.security == "tls":
            server = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=context
            )
        else:
            server = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with server:
            if settings.security == "starttls":
                server.starttls(context=context)
            if settings.username is not None:
                server.login(settings.username, settings.password or "")
            server.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        code, reply = next(iter(error.recipients.values()))
        raise SendFailed(
            f"{where} refused the recipient: {_reply(code, reply)}", code < 500
        ) from None
    except smtplib.SMTPNotSupportedError as error:
        raise SendFailed(f"{where}: {error} (STEADYBACK_SMTP_SECURITY)", False) from None
    except smtplib.SMTPResponseException as error:
        raise SendFailed(
            f"{where} answered {_reply(error.smtp_code, error.smtp_error)}",
            error.smtp_code < 500,
        ) from None
    except smtplib.SMTPServerDisconnected as error:
        raise SendFailed(f"{where} closed the connection: {error}", True) from None
    except ssl.SSLCertVerificationError as error:
        raise SendFailed(
            f"{where}: the server's certificate is not trusted ({error.verify_message}); "
            "STEADYBACK_SMTP_CA_FILE names a private CA",
            False,
        ) from None
    except (OSError, smtplib.SMTPException) as error:
        raise SendFailed(f"{where}: {type(error).__name__}: {error}", True) from None


@dataclass(frozen=True)
class Delivery:
    sent: bool
    attempts: int
    error: str | None = None


def deliver(
    settings: SmtpSettings,
    message: EmailMessage,
    attempts: int = ATTEMPTS,
    wait: Callable[[float], None] = time.sleep,
) -> Delivery:
    """Send, trying again (up to `attempts` in all, BACKOFF_S apart) while the failure is
    transient; a permanent one (5xx, an untrusted certificate) is not tried again."""
    error = None
    for attempt in range(1, attempts + 1):
        try:
            send(settings, message)
            return Delivery(True, attempt)
        except SendFailed as failed:
            error = str(failed)
            if not failed.transient or attempt == attempts:
                return Delivery(False, attempt, error)
            wait(BACKOFF_S[min(attempt, len(BACKOFF_S)) - 1])
    return Delivery(False, attempts, error)
