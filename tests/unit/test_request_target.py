"""The request-line grammar every door checks before a decision: one plain spelling per
path, methods as tokens of letters."""

from __future__ import annotations

import pytest

from gql_keys.security.request_target import changes_state, is_plain_path, method_token

PLAIN = [
    "/",
    "/api/v4/spot/orders",
    "/api/v4/spot/",
    "/api/v4/spot/orders/7%2B1",
    "/api/v4/spot/orders/t-1%3a2",
    "/api/v4/futures/usdt/orders/~a_b-c.d!$&'()*+,=:@",
    "/a/...",
    "/a/.hidden/..x",
]
NOT_PLAIN = {
    "": "empty",
    "api/v4/spot": "relative",
    "//": "empty segment",
    "/a//b": "empty segment",
    "/a/./b": "dot segment",
    "/a/../b": "dot-dot segment",
    "/a/..": "dot-dot segment at the end",
    "/.": "dot segment alone",
    "/a/..;/b": "path parameter (Tomcat's ..;)",
    "/a;jsessionid=1": "path parameter",
    "/a/%2e%2e/b": "encoded dots",
    "/a/%2E/b": "encoded dot",
    "/a/b%2fc": "encoded slash",
    "/a/%252e%252e": "double encoding",
    "/a/%u002e%u002e": "IIS %u encoding",
    "/a/\uff0e\uff0e/b": "full-width dots",
    "/a/%ef%bc%8e%ef%bc%8e": "encoded full-width dots",
    "/a/%c0%ae%c0%ae": "overlong UTF-8",
    "/a/..%00": "encoded NUL",
    "/a/..\x00": "NUL",
    "/a/..\t": "tab",
    "/a/%09..": "encoded tab",
    "/a/.. ": "space",
    "/a/..%20": "encoded space",
    "/a/\\..\\b": "backslash",
    "/a/%5c..": "encoded backslash",
    "/a/%3b": "encoded semicolon",
    "/a/%3f": "encoded question mark",
    "/a#b": "fragment",
    "/a/%23": "encoded number sign",
    "/a/\x7f": "DEL",
    "/a/%7F": "encoded DEL",
    "/a/é": "non-ASCII",
    "/a/%e9": "encoded non-ASCII byte",
    "/a/%": "truncated escape",
    "/a/%4": "truncated escape",
    "/a/%zz": "not hex",
    "/a/\u2028": "line separator",
    '/a/"b"': "quote",
}


@pytest.mark.parametrize("path", PLAIN)
def test_plain_paths_pass(path: str) -> None:
    assert is_plain_path(path)


@pytest.mark.parametrize(("path", "why"), NOT_PLAIN.items())
def test_every_other_spelling_is_refused(path: str, why: str) -> None:
    assert not is_plain_path(path), why


def test_an_escape_stands_only_for_printable_ascii_without_structure() -> None:
    for byte in range(256):
        allowed = 0x21 <= byte <= 0x7E and chr(byte) not in "#%./;?\\"
        assert is_plain_path(f"/a/%{byte:02x}b") is allowed, byte
        assert is_plain_path(f"/a/%{byte:02X}b") is allowed, byte


def test_hostile_input_is_judged_in_linear_time() -> None:
    # Possessive runs: no backtracking, so a long near-miss costs one pass.
    assert not is_plain_path("/" + "a%41" * 200_000 + "\\")
    assert not is_plain_path("/" + "a/" * 200_000 + "..")


@pytest.mark.parametrize(
    ("method", "token"),
    [("GET", "GET"), ("get", "GET"), ("PROPFIND", "PROPFIND"), ("A" * 16, "A" * 16)],
)
def test_methods_are_letters_upper_cased(method: str, token: str) -> None:
    assert method_token(method) == token


@pytest.mark.parametrize("method", ["", "A" * 17, "G-T", "GET,POST", "GET POST", "GET1", "ǅ"])
def test_other_methods_are_refused(method: str) -> None:
    assert method_token(method) is None


def test_only_get_and_head_leave_state_alone() -> None:
    assert not changes_state("GET")
    assert not changes_state("HEAD")
    assert all(changes_state(m) for m in ("POST", "DELETE", "OPTIONS", "PROPFIND", "FOO"))
