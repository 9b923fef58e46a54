"""The redacting filter scrubs every kind of secret from every part of a log record."""

from __future__ import annotations

import io
import json
import logging

import pytest

from gql_keys.app_logging import (
    REDACTED,
    ConsoleFormatter,
    RedactingFilter,
    configure_logging,
    redact_text,
)
from gql_keys.security.keymaterial import new_secret
from gql_keys.security.tokens import SERVICE_TOKEN_PREFIX, SESSION_TOKEN_PREFIX, new_token
from gql_keys.security.totp import new_recovery_codes, new_seed
from gql_keys.settings import Settings
from tests.security.conftest import LogCapture

SEED = new_seed()
SECRETS = {
    "session token": new_token(SESSION_TOKEN_PREFIX),
    "service token": new_token(SERVICE_TOKEN_PREFIX),
    "api secret": new_secret(),
    "hex signature": "ab" * 64,
    "base64 signature": "A" * 86 + "==",
    "totp seed": SEED,
    "otpauth uri": f"otpauth://totp/gql-keys:a%40b.c?secret={SEED}&issuer=gql-keys",
    "recovery code": new_recovery_codes(1)[0],
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_each_kind_of_secret_is_redacted_from_free_text(name: str) -> None:
    secret = SECRETS[name]
    text = redact_text(f"while handling {secret}: something failed")
    assert secret not in text
    assert REDACTED in text


@pytest.mark.parametrize(
    "dump",
    [
        'verifyTwoFactor(input: {challengeId: "kch_1", code: "492039"})',
        "{'input': {'totpCode': '492039'}}",
        '{"code":"492039"}',
        "code=492039",
        'login(input: {email: "a@b.c", password: "hunter2 hunter2"})',
        "{'password': 'hunter2 hunter2'}",
        "Authorization: Bearer abc.def",
    ],
)
def test_codes_and_passwords_in_argument_dumps_are_redacted(dump: str) -> None:
    text = redact_text(dump)
    assert "492039" not in text
    assert "hunter2" not in text
    assert "abc.def" not in text


def test_ordinary_text_is_left_alone() -> None:
    text = "user 42 created key gqk_0123abcd with scopes SPOT_READ at 2026-11-25T10:00:00Z"
    assert redact_text(text) == text


def test_message_args_extras_and_tracebacks_are_all_redacted(
    captured_logs: LogCapture,
) -> None:
    token = SECRETS["session token"]
    log = logging.getLogger("gql_keys.tests.redaction")
    log.info("login for %s", token, extra={"variables": {"password": "pw-secret-1"}})
    try:
        raise ValueError(f"bad seed {SEED}")
    except ValueError:
        log.exception("failed with signature %s", SECRETS["hex signature"])
    text = captured_logs.text
    for secret in (token, "pw-secret-1", SEED, SECRETS["hex signature"]):
        assert secret not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["variables"] == {"password": REDACTED}
    assert "ValueError" in lines[1]["exception"]


def test_strawberry_execution_logger_is_quiet_and_redacted(captured_logs: LogCapture) -> None:
    configure_logging(Settings())
    execution = logging.getLogger("strawberry.execution")
    assert execution.getEffectiveLevel() > logging.ERROR
    execution.critical("raw message with %s", SECRETS["api secret"])
    assert SECRETS["api secret"] not in captured_logs.text


def test_configure_logging_puts_the_filter_on_every_handler() -> None:
    root = logging.getLogger()
    foreign = logging.StreamHandler()
    root.addHandler(foreign)
    try:
        configure_logging(Settings())
        assert any(type(f).__name__ == "RedactingFilter" for f in foreign.filters)
    finally:
        root.removeHandler(foreign)


def test_error_codes_stay_readable() -> None:
    text = "{'extensions': {'code': 'INVALID_TWO_FACTOR_CODE'}} code=NOT_FOUND"
    assert redact_text(text) == text


def test_console_lines_are_redacted_and_carry_extras() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ConsoleFormatter())
    handler.addFilter(RedactingFilter())
    log = logging.getLogger("gql_keys.tests.console")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("token %s refused", SECRETS["session token"], extra={"keyId": "gqk_1"})
    finally:
        log.removeHandler(handler)
        log.propagate = True
    line = stream.getvalue()
    assert SECRETS["session token"] not in line
    assert REDACTED in line
    assert line.rstrip().endswith("keyId=gqk_1")
    assert " WARNING gql_keys.tests.console: token " in line
