"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from harness.live_server import free_port


@dataclass
class Inbox:
    """What the server accepted: one parsed message per mail, in order of arrival."""

    messages: list[EmailMessage] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    logins: list[tuple[bytes, bytes]] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 try again later"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refuse_with is not None:
            return self.refuse_with
        content = envelope.original_content or b""
        self.raw.append(content)
        parsed = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"


@dataclass
class MailServer:
    host: str
    port: int
    inbox: Inbox

    def url(self, user: str | None = None, password: str | None = None) -> str:
        login = f"{user}:{password}@" if user is not None else ""
        return f"smtp://{login}{self.host}:{self.port}"


@contextmanager
def mail_server(*, users: dict[str, str] | None = None) -> Iterator[MailServer]:
    """An SMTP server on a free loopback port; with ``users``, it requires a login."""
    inbox = Inbox()

    def authenticate(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and users is not None
            and users.get(data.login.decode()) == data.password.decode()
        )
        if isinstance(data, LoginPassword):
            inbox.logins.append((data.login, data.password))
        return AuthResult(success=ok, handled=False)  # a refusal answers 535

    port = free_port()
    options: dict[str, Any] = {}
    if users is not None:
        options = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield MailServer("127.0.0.1", port, inbox)
    finally:
        controller.stop()
