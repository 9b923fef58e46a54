"""Hypothesis strategies for every input the API takes, hostile values included."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from gql_keys.scopes import Scope

# Text with control characters, surrogate-free unicode, bidi marks and NULs.
HOSTILE_CHARS = st.characters(codec="utf-8")
CONTROL = st.sampled_from(["\x00", "\x1b", "\n", "\r", "\t", "\u202e", "\u200b", "\ufeff"])
text = st.one_of(
    st.text(HOSTILE_CHARS, max_size=80),
    st.lists(st.one_of(CONTROL, st.text(max_size=5)), max_size=12).map("".join),
    st.sampled_from(["", " ", "null", "' OR 1=1 --", "%00", "${jndi:x}", "<script>", "🔑" * 70]),
)
long_text = st.text(HOSTILE_CHARS, min_size=60, max_size=300)

scope_names = st.sampled_from([s.value for s in Scope])
scopes = st.lists(st.one_of(scope_names, st.just("NOT_A_SCOPE")), max_size=20)

ipv4 = st.ip_addresses(v=4).map(str)
ipv6 = st.ip_addresses(v=6).map(str)
cidr = st.one_of(
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=4), st.integers(-1, 40)),
    st.builds(lambda a, p: f"{a}/{p}", st.ip_addresses(v=6), st.integers(-1, 140)),
    st.ip_addresses(v=4).map(lambda a: str(ipaddress.ip_network(f"{a}/24", strict=False))),
)
address_like = st.one_of(ipv4, ipv6, cidr, text)
allowlists = st.one_of(st.none(), st.lists(address_like, max_size=25))

timestamps = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", "1e10", "0x10", " 1", "+1", "1.", ".5", "١٢٣"]),
    text,
)
datetimes_text = st.one_of(
    st.datetimes().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+14:00", "2026-02-30T00:00:00Z"]),
    text,
)
signatures = st.one_of(
    st.text("0123456789abcdef", min_size=126, max_size=130),
    st.binary(min_size=60, max_size=70).map(lambda b: __import__("base64").b64encode(b).decode()),
    text,
)
emails = st.one_of(st.emails().map(str), text, st.text(min_size=250, max_size=400))
global_ids = st.one_of(
    text,
    st.binary(max_size=60).map(lambda b: __import__("base64").urlsafe_b64encode(b).decode()),
    st.builds(
        lambda t, pk: __import__("base64").urlsafe_b64encode(f"{t}:{pk}".encode()).decode(),
        st.sampled_from(["ApiKey", "User", "UsageLog", "Nope", ""]),
        st.one_of(st.integers(-(2**70), 2**70).map(str), text),
    ),
)
cursors = global_ids
ints = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, 100, 101]))
