"""Notification mail reaches a real SMTP server (aiosmtpd), as plain text, never a secret."""

from __future__ import annotations

import logging
import secrets

import pytest
from pydantic import SecretStr

from gql_keys.notifications.mail import LogMailer, MailError, SmtpMailer, mailer_for
from gql_keys.notifications.smtp_urls import parse_smtp_url
from gql_keys.notifications.templates import TEMPLATES, render
from gql_keys.settings import Settings
from harness.live_server import free_port
from harness.mail_server import mail_server

IDENTIFIER = "gqk_5f2d8e6c0b1a49e7a3c4d5e6f7a8b9c0"
KEY: dict[str, str | None] = {
    "id": "QXBpS2V5OjQy",
    "key": IDENTIFIER,
    "label": "market maker",
    "subAccountId": None,
    "address": "203.0.113.7",
}
ACCOUNT = {"email": "trader@example.com", "address": "198.51.100.23", "userAgent": "Firefox"}


def settings_for(url: str, sender: str = "keys@example.com") -> Settings:
    return Settings(smtp_url=SecretStr(url), mail_from=sender)


async def test_a_mail_arrives_as_plain_text_from_the_configured_sender() -> None:
    with mail_server() as server:
        mailer = mailer_for(settings_for(server.url()))
        await mailer.send(render("key.created", KEY, to="trader@example.com"))

    (message,) = server.inbox.messages
    assert message["From"] == "keys@example.com"
    assert message["To"] == "trader@example.com"
    assert message["Subject"] == "[gql-keys] New API key market maker"
    assert message.get_content_type() == "text/plain"
    body = message.get_content()
    assert IDENTIFIER in body
    assert "market maker" in body
    assert "203.0.113.7" in body


async def test_the_smtp_login_of_the_url_is_used_and_never_echoed_when_refused() -> None:
    password = secrets.token_urlsafe(12)
    with mail_server(users={"mailer": password}) as server:
        await mailer_for(settings_for(server.url("mailer", password))).send(
            render("account.password_changed", ACCOUNT, to="trader@example.com")
        )
        assert len(server.inbox.messages) == 1

        wrong = secrets.token_urlsafe(12)
        with pytest.raises(MailError) as refused:
            await mailer_for(settings_for(server.url("mailer", wrong))).send(
                render("account.password_changed", ACCOUNT, to="trader@example.com")
            )
    assert len(server.inbox.messages) == 1
    assert wrong not in str(refused.value)
    assert "535" in str(refused.value)


async def test_a_server_that_is_down_or_refuses_is_a_mail_error_to_retry() -> None:
    mail = render("key.deleted", KEY, to="trader@example.com")
    with pytest.raises(MailError, match="did not take the mail"):
        await SmtpMailer(parse_smtp_url(f"smtp://127.0.0.1:{free_port()}"), "a@b").send(mail)
    with mail_server() as server:
        server.inbox.refuse_with = "451 4.3.0 try again later"
        with pytest.raises(MailError, match=r"451|try again"):
            await mailer_for(settings_for(server.url())).send(mail)
    assert server.inbox.messages == []


async def test_without_an_smtp_url_each_mail_is_written_to_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mailer = mailer_for(Settings())
    assert isinstance(mailer, LogMailer)
    with caplog.at_level(logging.INFO, logger="gql_keys.mail"):
        await mailer.send(render("key.rolled", KEY, to="trader@example.com"))
    assert "to=trader@example.com" in caplog.text
    assert IDENTIFIER in caplog.text


@pytest.mark.parametrize("event_type", sorted(TEMPLATES))
def test_every_template_names_what_happened_and_reads_only_the_fields_it_names(
    event_type: str,
) -> None:
    leaked = "secret-" + secrets.token_hex(8)
    data = {**KEY, **ACCOUNT, "secret": leaked, "totp": leaked, "url": "https://hooks.example"}
    mail = render(event_type, data, to="trader@example.com")
    assert mail.subject.startswith("[gql-keys] ")
    assert len(mail.subject) < 120
    assert leaked not in mail.subject + mail.body
    assert "unknown" not in mail.body.split("\n\n-- ")[0] or event_type in {
        "key.expiring",  # no expiresAt in this payload: said as unknown, not invented
        "key.change_pending",
    }
    if event_type.startswith("key."):
        assert IDENTIFIER in mail.body
        assert "market maker" in mail.body


def test_a_value_cannot_add_lines_or_headers_to_a_mail() -> None:
    hostile = {**KEY, "label": "x\r\nBcc: thief@example.com\r\n\r\nclick here"}
    mail = render("key.created", hostile, to="trader@example.com")
    assert "\r" not in mail.subject
    assert "\n" not in mail.subject
    assert "\nBcc:" not in mail.body


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "starttls"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, False, False),
        ("smtp+starttls://mail.example.com", "mail.example.com", 587, False, True),
        ("smtps://u%40x:p%3Aw@mail.example.com:2465", "mail.example.com", 2465, True, False),
    ],
)
def test_smtp_urls_name_host_port_and_how_the_connection_is_secured(
    url: str, host: str, port: int, tls: bool, starttls: bool
) -> None:
    target = parse_smtp_url(url)
    assert (target.hostname, target.port, target.implicit_tls, target.start_tls) == (
        host,
        port,
        tls,
        starttls,
    )
    if tls:
        assert (target.username, target.password) == ("u@x", "p:w")
        assert "p:w" not in repr(target)
