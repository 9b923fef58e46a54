"""A gateway that forwards the partner's own headers next to its own (Traefik does unless
``authRequestHeaders`` is set): the check request then carries two answers to one
question. ``/authz`` used to pick one by a fixed order (``X-Original-*`` over
``X-Forwarded-*``, ``X-Real-IP`` over ``X-Forwarded-For``), joined repeated lines with
commas (a method of ``GET,POST``) and never looked at a body sent beside an
``X-Body-Sha512``. Each ambiguity is now 400 ``INVALID_REQUEST``, with no row."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from gql_keys.models import UsageLog
from gql_keys.runtime import Runtime
from harness.keys import create_active_key, create_user, sign, verifier_token

TRUSTED = [
    "X-Original-Method",
    "X-Forwarded-Method",
    "X-Original-URI",
    "X-Forwarded-Uri",
    "X-Real-IP",
    "X-Body-Sha512",
    "X-Required-Scope",
    "KEY",
    "Timestamp",
    "SIGN",
]
PATH = "/api/v4/spot/orders"


async def signed(
    rt: Runtime, method: str = "GET", path: str = PATH, body: bytes = b""
) -> list[tuple[str, str]]:
    """A verifier's check headers for one partner request its key signed (no dialect)."""
    user = await create_user()
    row, secret = await create_active_key(rt, user.id, scopes=["SPOT_WRITE"])
    timestamp = f"{rt.clock.time():.4f}"
    return [
        ("X-Verifier-Token", await verifier_token(f"gateway-{row.id}")),
        ("KEY", row.key),
        ("Timestamp", timestamp),
        ("SIGN", sign(secret, method, path, "", body, timestamp)),
    ]


def refused(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["label"]


async def no_rows() -> bool:
    return await UsageLog.all().count() == 0


async def test_a_method_repeated_on_two_lines_is_not_joined_into_one(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    headers = await signed(rt, method="GET,POST")
    headers += [("X-Original-Method", "GET"), ("X-Original-Method", "POST")]
    headers += [("X-Original-URI", PATH)]
    response = await client.get("/authz" + PATH, headers=headers)
    assert refused(response) == (400, "INVALID_REQUEST")
    assert await no_rows()


@pytest.mark.parametrize("name", TRUSTED)
async def test_every_trusted_header_appears_at_most_once(
    client: httpx.AsyncClient, rt: Runtime, name: str
) -> None:
    headers = await signed(rt)
    value = (
        dict(headers).get(name)
        or {
            "X-Original-Method": "GET",
            "X-Forwarded-Method": "GET",
            "X-Original-URI": PATH,
            "X-Forwarded-Uri": PATH,
            "X-Real-IP": "203.0.113.7",
            "X-Body-Sha512": hashlib.sha512(b"").hexdigest(),
            "X-Required-Scope": "SPOT_READ",
        }[name]
    )
    if name not in dict(headers):
        headers.append((name, value))
    headers.append((name, value))  # the same value twice is still two answers
    response = await client.get("/authz" + PATH, headers=headers)
    assert refused(response) == (400, "INVALID_REQUEST")
    assert await no_rows()


@pytest.mark.parametrize(
    ("original", "forwarded"),
    [
        (("X-Original-Method", "GET"), ("X-Forwarded-Method", "POST")),
        (("X-Original-URI", PATH), ("X-Forwarded-Uri", "/api/v4/withdrawals")),
    ],
)
async def test_both_dialects_naming_different_requests_is_refused(
    client: httpx.AsyncClient,
    rt: Runtime,
    original: tuple[str, str],
    forwarded: tuple[str, str],
) -> None:
    headers = await signed(rt)
    response = await client.get("/authz" + PATH, headers=[*headers, original, forwarded])
    assert refused(response) == (400, "INVALID_REQUEST")
    assert await no_rows()


async def test_both_dialects_naming_the_same_request_pass(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    headers = await signed(rt)
    headers += [("X-Original-Method", "GET"), ("X-Forwarded-Method", "get")]
    headers += [("X-Original-URI", PATH), ("X-Forwarded-Uri", PATH)]
    headers += [("X-Real-IP", "203.0.113.7"), ("X-Forwarded-For", "10.0.0.1, ::ffff:203.0.113.7")]
    response = await client.get("/authz", headers=headers)
    assert response.status_code == 200, response.text


async def test_a_real_ip_that_is_not_the_last_forwarded_address_is_refused(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    headers = await signed(rt)
    headers += [("X-Real-IP", "203.0.113.7"), ("X-Forwarded-For", "203.0.113.7, 198.51.100.1")]
    response = await client.get("/authz" + PATH, headers=headers)
    assert refused(response) == (400, "INVALID_REQUEST")
    assert await no_rows()


async def test_a_body_that_does_not_hash_to_the_claimed_hash_is_refused(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    signed_body, sent_body = b'{"amount":"1"}', b'{"amount":"9"}'
    headers = await signed(rt, method="POST", body=signed_body)
    headers.append(("X-Body-Sha512", hashlib.sha512(signed_body).hexdigest()))
    response = await client.post("/authz" + PATH, headers=headers, content=sent_body)
    assert refused(response) == (400, "INVALID_REQUEST")
    assert await no_rows()
    # The same claim beside the very body it hashes is what Traefik's forwardBody sends.
    headers = await signed(rt, method="POST", body=signed_body)
    headers.append(("X-Body-Sha512", hashlib.sha512(signed_body).hexdigest()))
    response = await client.post("/authz" + PATH, headers=headers, content=signed_body)
    assert response.status_code == 200, response.text
