"""Check requests to ``/authz`` the way each gateway sends them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.keys import sign

DIALECTS = ("envoy", "nginx", "traefik")


@dataclass
class PartnerRequest:
    """One request a partner signed, as the gateway saw it."""

    key: str
    secret: str
    timestamp: str
    method: str = "GET"
    path: str = "/api/v4/spot/orders"
    query: str = "currency_pair=BTC_USDT"
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    signature: str | None = None  # None: signed correctly

    def signed_headers(self) -> dict[str, str]:
        signature = self.signature
        if signature is None:
            signature = sign(
                self.secret, self.method, self.path, self.query, self.body, self.timestamp
            )
        return {"KEY": self.key, "Timestamp": self.timestamp, "SIGN": signature}

    @property
    def uri(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


def check_request(dialect: str, partner: PartnerRequest, verifier: str | None) -> dict[str, Any]:
    """``httpx`` request arguments for the check request ``dialect`` sends."""
    headers = {**partner.signed_headers(), **partner.headers}
    if verifier is not None:
        headers["X-Verifier-Token"] = verifier
    if dialect == "envoy":  # the partner's request itself, under the path prefix
        return {
            "method": partner.method,
            "url": f"/authz{partner.uri}",
            "headers": headers,
            "content": partner.body,
        }
    if dialect == "nginx":  # /authz + $request_uri, no body
        headers["X-Original-Method"] = partner.method
        headers["X-Original-URI"] = partner.uri
        return {"method": "GET", "url": f"/authz{partner.uri}", "headers": headers}
    if dialect == "traefik":
        headers["X-Forwarded-Method"] = partner.method
        headers["X-Forwarded-Uri"] = partner.uri
        return {"method": "GET", "url": "/authz", "headers": headers}
    raise ValueError(dialect)


async def check(
    client: httpx.AsyncClient, dialect: str, partner: PartnerRequest, verifier: str | None
) -> httpx.Response:
    return await client.request(**check_request(dialect, partner, verifier))
