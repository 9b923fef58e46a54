"""The client address allowlists see: the socket peer, unless a trusted proxy speaks."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from gql_keys.security.addresses import parse_address as _parse
from gql_keys.settings import IPNetwork


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Iterable[IPNetwork]
) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_ip(
    peer: str | None, headers: Mapping[str, str], trusted_proxies: tuple[IPNetwork, ...]
) -> str:
    """Return the client address as text.

    ``X-Forwarded-For`` is read only when the socket peer is a listed proxy, walking from
    the right past further trusted proxies, so a client cannot name its own address.
    """
    peer_address = _parse(peer) if peer else None
    if peer_address is None:
        return peer or "unknown"
    if not trusted_proxies or not _trusted(peer_address, trusted_proxies):
        return str(peer_address)
    # A proxy may add its own header line rather than extend the client's: read them all.
    getlist = getattr(headers, "getlist", None)
    lines = (
        getlist("x-forwarded-for") if getlist is not None else [headers.get("x-forwarded-for", "")]
    )
    forwarded = ",".join(lines)
    hops = [hop for hop in (part.strip() for part in forwarded.split(",")) if hop]
    for hop in reversed(hops):
        address = _parse(hop)
        if address is None:
            break
        if not _trusted(address, trusted_proxies):
            return str(address)
    return str(peer_address)
