"""Where a webhook may go: no server-side request forgery.

Unless private destinations are allowed (development), a URL must be ``https`` and every
address its host resolves to must be public. The check runs at creation and again at
every delivery, after resolution; the request then connects to the address checked (the
name stays in ``Host`` and in TLS's server name), so DNS rebinding between check and
connect cannot switch it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESS = ipaddress.ip_address("169.254.169.254")


class UnsafeDestination(ValueError):
    """The URL may not be called (its message says why, and never echoes a secret)."""


@dataclass(frozen=True, slots=True)
class Destination:
    """A request target pinned to the checked addresses of its host, in resolver order."""

    urls: tuple[str, ...]  # one per address, with the address in place of the name
    host_header: str
    server_name: str  # for TLS SNI and certificate checks

    @property
    def url(self) -> str:
        return self.urls[0]


def is_public(address: IPAddress) -> bool:
    """Globally routable unicast, and no IPv4 hidden in an IPv6 address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address.sixtofour is not None:
            return False
        if address.teredo is not None:
            return False
    return not (
        address == METADATA_ADDRESS
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )


def parse_url(url: str, allow_private: bool) -> SplitResult:
    """The URL's parts, or UnsafeDestination for one that is not an http(s) URL we call."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise UnsafeDestination("The URL is not valid.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeDestination("The URL must be an http(s) URL with a host.")
    if parts.scheme != "https" and not allow_private:
        raise UnsafeDestination("The URL must use https.")
    if parts.username is not None or parts.password is not None:
        raise UnsafeDestination("The URL must not carry credentials.")
    return parts


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an address literal: itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise UnsafeDestination("The URL's host does not resolve.") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise UnsafeDestination("The URL's host does not resolve.")
    return addresses


async def check(url: str, allow_private: bool) -> Destination:
    """Resolve ``url``'s host, refuse it unless every address is allowed, and pin it to
    those addresses (tried in order: a host may answer on its IPv4 address only)."""
    parts = parse_url(url, allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = await resolve(host, port)
    if not allow_private and not all(is_public(a) for a in addresses):
        raise UnsafeDestination("The URL must lead to a public address.")
    urls = tuple(_pinned(parts, address) for address in addresses)
    name = f"[{host}]" if ":" in host else host
    host_header = f"{name}:{parts.port}" if parts.port is not None else name
    return Destination(urls=urls, host_header=host_header, server_name=host)


def _pinned(parts: SplitResult, address: IPAddress) -> str:
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port is not None else literal
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
