"""GitHub secret-scanning partner alerts: check the signature, then quarantine the live key
of every reported secret.

The alert is a JSON array of ``{"token", "type", "url", "source"}`` signed by GitHub over
its raw bytes (:mod:`gql_keys.security.alert_signatures`). The signature is checked before
the body is parsed: a missing or wrong one changes nothing. The answer has one
``{"token_raw", "token_type", "label"}`` per token, in order: ``true_positive`` when the
token is the secret of a live key (quarantined, reason ``LEAK_REPORTED``; a canary's secret
raises ``CANARY_TRIPPED`` instead), else ``false_positive``. No token ever reaches a log.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from gql_keys.domain_errors import ServiceUnavailable
from gql_keys.runtime import Runtime
from gql_keys.security.alert_signatures import AlertKeysUnavailable, signature_valid
from gql_keys.services.quarantine import report_leaks
from gql_keys.services.security_events import ClientInfo

log = logging.getLogger("gql_keys.secret_scanning")

PATH = "/secret-scanning/github"
# GitHub batches the tokens it found; bounded so one alert's work stays small.
MAX_ALERT_BYTES = 512 * 1024
MAX_ALERT_TOKENS = 1000
MAX_IDENTIFIER_LENGTH = 256
TRUE_POSITIVE = "true_positive"
FALSE_POSITIVE = "false_positive"


class AlertRejected(Exception):
    """The alert is refused; ``reason`` says why, in words safe to show the sender."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AlertUnsigned(AlertRejected):
    """No signature, an unknown signing key, or a signature that does not verify."""


class AlertMalformed(AlertRejected):
    """Signed, but not a JSON array of token objects."""


class AlertTooLarge(AlertRejected):
    """More bytes or tokens than one alert may carry."""


@dataclass(frozen=True, slots=True)
class Token:
    token: str
    type: str


async def check_signature(
    rt: Runtime, body: bytes, key_identifier: str | None, signature: str | None
) -> None:
    """Raise :class:`AlertUnsigned` unless GitHub's key ``key_identifier`` signed ``body``;
    :class:`ServiceUnavailable` when GitHub's keys cannot be had."""
    if not key_identifier or not signature or len(key_identifier) > MAX_IDENTIFIER_LENGTH:
        raise AlertUnsigned("The alert is not signed.")
    try:
        key = await rt.alert_keys.key(key_identifier)
    except AlertKeysUnavailable as exc:
        log.warning("secret-scanning alert refused: GitHub's public keys are unavailable (%s)", exc)
        raise ServiceUnavailable from None
    if key is None or not signature_valid(key, body, signature):
        raise AlertUnsigned("The alert's signature does not verify.")


def parse_alert(body: bytes) -> list[Token]:
    """The tokens of a signed alert, in order."""
    try:
        document = json.loads(body)
    except ValueError:
        raise AlertMalformed("The alert is not JSON.") from None
    if not isinstance(document, list):
        raise AlertMalformed("The alert must be a JSON array.")
    if len(document) > MAX_ALERT_TOKENS:
        raise AlertTooLarge(f"An alert may carry at most {MAX_ALERT_TOKENS} tokens.")
    tokens: list[Token] = []
    for entry in document:
        if not isinstance(entry, dict) or not isinstance(entry.get("token"), str):
            raise AlertMalformed("Each entry must be an object with a string token.")
        kind = entry.get("type", "")
        if not isinstance(kind, str):
            raise AlertMalformed("An entry's type must be a string.")
        tokens.append(Token(entry["token"], kind))
    return tokens


async def handle_alert(
    rt: Runtime,
    body: bytes,
    key_identifier: str | None,
    signature: str | None,
    client: ClientInfo,
) -> list[dict[str, Any]]:
    """Check, parse and act on one alert; the answer's entries."""
    if len(body) > MAX_ALERT_BYTES:
        raise AlertTooLarge(f"An alert may be at most {MAX_ALERT_BYTES} bytes.")
    await check_signature(rt, body, key_identifier, signature)
    tokens = parse_alert(body)
    outcomes = await report_leaks(rt, [t.token for t in tokens], client, PATH)
    quarantined = sum(1 for o in outcomes.values() if o.newly_quarantined)
    log.log(
        logging.WARNING if outcomes else logging.INFO,
        "secret-scanning alert: %d token(s), %d of live keys, %d key(s) newly quarantined",
        len(tokens),
        len(outcomes),
        quarantined,
    )
    return [
        {
            "token_raw": t.token,
            "token_type": t.type,
            "label": TRUE_POSITIVE if t.token in outcomes else FALSE_POSITIVE,
        }
        for t in tokens
    ]
