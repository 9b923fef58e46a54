"""Sending one Standard Webhooks message: signed with the ``standardwebhooks`` library,
to a destination checked and pinned at send time, redirects not followed, the response
body never read."""

from __future__ import annotations

import asyncio
import base64
import secrets
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from gql_keys.notifications.destinations import Destination, UnsafeDestination, check

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "gql-keys-webhooks"


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes it: ``whsec_`` + base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def signed_headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(message_id, at, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@dataclass(frozen=True, slots=True)
class Outcome:
    succeeded: bool
    status_code: int | None  # None: no answer (refused, unreachable, timed out)
    reason: str  # for the log; never a secret nor the response body


async def send(
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    message_id: str,
    body: str,
    at: datetime,
    *,
    allow_private: bool,
    time_limit: float,
) -> Outcome:
    """POST ``body``; success is a 2xx answer within ``time_limit`` seconds in all."""
    try:
        destination = await check(url, allow_private)
    except UnsafeDestination as exc:
        return Outcome(False, None, str(exc))
    headers = signed_headers(secret, message_id, at, body)
    headers["host"] = destination.host_header
    try:
        async with asyncio.timeout(time_limit):
            response = await post_to_first_that_connects(
                client, destination, body, headers, time_limit
            )
    except TimeoutError:
        return Outcome(False, None, "timed out")
    except httpx.HTTPError as exc:
        return Outcome(False, None, type(exc).__name__)
    ok = 200 <= response.status_code < 300
    return Outcome(ok, response.status_code, f"HTTP {response.status_code}")


async def post_to_first_that_connects(
    client: httpx.AsyncClient,
    destination: Destination,
    body: str,
    headers: dict[str, str],
    time_limit: float,
) -> httpx.Response:
    """The answer of the first checked address that takes the connection."""
    extensions = {"sni_hostname": destination.server_name}
    for n, url in enumerate(destination.urls, start=1):
        request = client.build_request(
            "POST",
            url,
            content=body.encode(),
            headers=headers,
            extensions=extensions,
            timeout=time_limit,
        )
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError:
            if n == len(destination.urls):
                raise
            continue
        await response.aclose()  # the body is not read, let alone stored
        return response
    raise AssertionError("a destination has at least one address")  # pragma: no cover


def client() -> httpx.AsyncClient:
    """One client per delivering process: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False)
