"""``GQL_KEYS_SMTP_URL``: where mail goes, and how the connection is secured.

``smtp://host:port`` (plain; port 25), ``smtp+starttls://host:port`` (upgraded with
STARTTLS; port 587) and ``smtps://host:port`` (TLS from the first byte; port 465), each
with optional ``user:password@`` (percent-encoded).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    hostname: str
    port: int
    implicit_tls: bool
    start_tls: bool
    username: str | None
    password: str | None = None

    def __repr__(self) -> str:  # the password never reaches a log line or a traceback
        return f"SmtpTarget({self.hostname}:{self.port}, tls={self.implicit_tls or self.start_tls})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The target ``url`` names; ``ValueError`` (which never echoes the URL) when it can't."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise ValueError("the scheme must be smtp, smtp+starttls or smtps")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise ValueError("the port is not a number from 1 to 65535") from None
    if not parts.hostname:
        raise ValueError("a host name is needed, as in smtp://mail.example.com:25")
    return SmtpTarget(
        hostname=parts.hostname,
        port=port,
        implicit_tls=scheme == "smtps",
        start_tls=scheme == "smtp+starttls",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )
