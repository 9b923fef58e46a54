"""Outgoing e-mail: SMTP through aiosmtplib, or the log when no SMTP server is set.

The outbox hands each mail to :func:`mailer_for`'s mailer and retries it on
:class:`MailError`, so a mailer only reports; it never retries or queues by itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

import aiosmtplib

from gql_keys.notifications.smtp_urls import SmtpTarget, parse_smtp_url
from gql_keys.settings import Settings

log = logging.getLogger("gql_keys.mail")

SEND_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class Mail:
    """One plain-text mail to one address."""

    to: str
    subject: str
    body: str


class MailError(Exception):
    """The mail was not accepted by the SMTP server (the outbox tries again later)."""


class Mailer(Protocol):
    async def send(self, mail: Mail) -> None: ...


class SmtpMailer:
    """Hands each mail to one SMTP server, over a connection of its own."""

    def __init__(self, target: SmtpTarget, sender: str, timeout: float = SEND_TIMEOUT_SECONDS):
        self._target = target
        self._sender = sender
        self._timeout = timeout

    def message(self, mail: Mail) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = mail.to
        message["Subject"] = mail.subject
        message["Date"] = formatdate(localtime=False, usegmt=True)
        message["Message-ID"] = make_msgid(domain=self._sender.rpartition("@")[2] or None)
        message.set_content(mail.body)
        return message

    async def send(self, mail: Mail) -> None:
        target = self._target
        try:
            await aiosmtplib.send(
                self.message(mail),
                hostname=target.hostname,
                port=target.port,
                username=target.username,
                password=target.password,
                use_tls=target.implicit_tls,
                start_tls=target.start_tls,
                timeout=self._timeout,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # The server's own words (a reply code and text) name the problem; they never
            # contain the password, which is only ever sent base64-encoded.
            code = getattr(exc, "code", None)
            reason = (
                " ".join(str(part) for part in (code, getattr(exc, "message", "")) if part)
                or type(exc).__name__
            )
            raise MailError(
                f"{target.hostname}:{target.port} did not take the mail: {reason}"
            ) from None


class LogMailer:
    """Development: each mail is written to the log (mails never carry a secret)."""

    async def send(self, mail: Mail) -> None:
        log.info(
            "mail not sent (GQL_KEYS_SMTP_URL is not set) to=%s subject=%r\n%s",
            mail.to,
            mail.subject,
            mail.body,
        )


def mailer_for(settings: Settings) -> Mailer:
    url = settings.smtp_url.get_secret_value()
    if not url:
        return LogMailer()
    return SmtpMailer(parse_smtp_url(url), settings.mail_from)
