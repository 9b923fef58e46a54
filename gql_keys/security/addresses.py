"""Client addresses: parsing the text a peer or proxy gives, and the key a per-address
throttle counts under.

One host usually holds a whole IPv6 /64, so counting per full IPv6 address would let it
rotate addresses past every per-address limit: throttles count IPv6 per network prefix
(``throttle_ipv6_prefix``, default /64) and IPv4 per address.
"""

from __future__ import annotations

import functools
import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Only short texts are cached, so the caches stay small whatever a header carries.
MAX_CACHED_TEXT = 64


def _parse_text(text: str) -> IPAddress | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


_parse_cached = functools.lru_cache(maxsize=1024)(_parse_text)


def parse_address(text: str) -> IPAddress | None:
    """The address in ``text`` (``[v6]`` brackets allowed, IPv4-mapped IPv6 as IPv4),
    None when it is not one. Cached, as the same peers come back on every request."""
    return _parse_cached(text) if len(text) <= MAX_CACHED_TEXT else _parse_text(text)


def _canonical_text(text: str) -> str | None:
    address = _parse_text(text)
    return None if address is None else str(address)


_canonical_cached = functools.lru_cache(maxsize=1024)(_canonical_text)


def canonical_address(text: str) -> str | None:
    """The address in ``text`` written the one way rows and throttles store it (as
    :func:`parse_address` reads it); None when it is not one. Cached like it: writing
    an address back is as costly as parsing it."""
    return _canonical_cached(text) if len(text) <= MAX_CACHED_TEXT else _canonical_text(text)


def _throttle_key_text(text: str, ipv6_prefix: int) -> str:
    address = _parse_text(text)
    if address is None:
        return text  # not an address (e.g. "unknown"): counted as the text it is
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    return str(ipaddress.IPv6Network((address, ipv6_prefix), strict=False))


_throttle_key_cached = functools.lru_cache(maxsize=1024)(_throttle_key_text)


def throttle_address(client_ip: str, ipv6_prefix: int) -> str:
    """What a per-address throttle counts ``client_ip`` under: an IPv4 address as is (an
    IPv4-mapped IPv6 one as its IPv4), an IPv6 address as its ``/ipv6_prefix`` network."""
    if len(client_ip) > MAX_CACHED_TEXT:
        return _throttle_key_text(client_ip, ipv6_prefix)
    return _throttle_key_cached(client_ip, ipv6_prefix)
