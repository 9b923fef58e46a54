"""Scope rules: the built-in Gate APIv4 table, rules files, and files that stop the start."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gql_keys.scope_rules import BUILTIN, ScopeRulesError, load_scope_rules, scope_rules_from
from gql_keys.scopes import Scope

RULES = """\
# rules for an exchange that is not Gate
[[rule]]
methods = ["GET", "head"]
prefix = "/v1/market/"
scope = "SPOT_READ"

[[rule]]
glob = "/v1/*/withdraw*"
scope = "WITHDRAW"

[[rule]]
methods = ["POST", "DELETE"]
prefix = "/v1/orders"
scope = "SPOT_WRITE"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scopes.toml"
    path.write_text(text)
    return path


def test_builtin_rules_need_read_for_get_and_head_and_write_otherwise() -> None:
    assert BUILTIN.required_scope("GET", "/api/v4/spot/orders") is Scope.SPOT_READ
    assert BUILTIN.required_scope("HEAD", "/api/v4/wallet/x") is Scope.WALLET_READ
    assert BUILTIN.required_scope("OPTIONS", "/api/v4/wallet/x") is Scope.WALLET_WRITE
    assert BUILTIN.required_scope("POST", "/api/v4/spot/orders") is Scope.SPOT_WRITE
    assert BUILTIN.required_scope("GET", "/api/v4/withdrawals") is Scope.WITHDRAW
    assert BUILTIN.required_scope("GET", "/api/v4/futures") is None


def test_a_file_replaces_the_builtin_rules_first_match_wins(tmp_path: Path) -> None:
    rules = load_scope_rules(write(tmp_path, RULES))
    assert rules.required_scope("HEAD", "/v1/market/tickers") is Scope.SPOT_READ
    assert rules.required_scope("POST", "/v1/market/tickers") is None
    assert rules.required_scope("POST", "/v1/wallet/withdrawals") is Scope.WITHDRAW
    assert rules.required_scope("DELETE", "/v1/orders/9") is Scope.SPOT_WRITE
    assert rules.required_scope("GET", "/v1/orders/9") is None
    assert rules.required_scope("GET", "/api/v4/spot/orders") is None


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v4/spot/orders", True),
        ("DELETE", "/api/v4/spot/orders/123", True),
        ("DELETE", "/api/v4/margin/price_orders/9", True),
        ("DELETE", "/api/v4/options/orders", True),
        ("DELETE", "/api/v4/futures/usdt/orders/5", True),
        ("DELETE", "/api/v4/delivery/usdt/price_orders", True),
        ("DELETE", "/api/v4/futures/orders", True),
        ("POST", "/api/v4/spot/orders", False),
        ("PATCH", "/api/v4/spot/orders/123", False),
        ("DELETE", "/api/v4/spot/orders_archive", False),
        ("DELETE", "/api/v4/spot/my_orders", False),
        ("DELETE", "/api/v4/wallet/orders", False),
        ("DELETE", "/api/v4/account/orders", False),
        ("DELETE", "/api/v4/spot/usdt/orders", False),  # no settle currency on spot
        ("DELETE", "/api/v4/withdrawals/orders", False),
        ("GET", "/api/v4/spot/orders", False),  # reads are allowed by their own rule
    ],
)
def test_builtin_rules_mark_order_cancellations_for_quarantined_keys(
    method: str, path: str, allowed: bool
) -> None:
    assert BUILTIN.quarantine_allows(method, path) is allowed


def test_cancellation_rules_require_the_same_scope_as_the_area_writes() -> None:
    assert BUILTIN.required_scope("DELETE", "/api/v4/futures/usdt/orders/5") is (
        Scope.FUTURES_WRITE
    )
    assert BUILTIN.required_scope("DELETE", "/api/v4/spot/orders/1") is Scope.SPOT_WRITE


def test_a_file_marks_what_a_quarantined_key_may_do(tmp_path: Path) -> None:
    text = RULES + '\n[[rule]]\nmethods = ["POST"]\nprefix = "/v1/cancel"\nscope = "SPOT_WRITE"\n'
    text += "quarantine_allows = true\n"
    rules = load_scope_rules(write(tmp_path, text))
    assert rules.quarantine_allows("POST", "/v1/cancel_all")
    assert not rules.quarantine_allows("DELETE", "/v1/orders/9")  # first match, unmarked
    with pytest.raises(ScopeRulesError, match="line 4: rule 1: quarantine_allows"):
        load_scope_rules(
            write(
                tmp_path,
                '[[rule]]\nprefix = "/a/"\nscope = "SPOT_READ"\nquarantine_allows = "yes"\n',
            )
        )


def test_no_file_means_the_builtin_rules() -> None:
    assert scope_rules_from("") is BUILTIN


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            '[[rule]]\nprefix = "/a/"\nscope = "SPOT_READ"\n[[rule]]\nprefix = "/b/"\n'
            'scope = "SPOT_TRADE"\n',
            6,
            "unknown scope 'SPOT_TRADE'",
        ),
        ('[[rule]]\nprefix = "/a/"\nglob = "/a/*"\nscope = "SPOT_READ"\n', 1, "exactly one"),
        (
            '[[rule]]\nmethods = ["GET", "G T"]\nprefix = "/a/"\nscope = "SPOT_READ"\n',
            2,
            "not an HTTP method",
        ),
        ('[[rule]]\nprefix = "a/"\nscope = "SPOT_READ"\n', 2, "starting with '/'"),
        ('[[rule]]\nprefix = "/a/"\nscope = "SPOT_READ"\npath = "/x"\n', 4, "unknown key"),
        ('[[rule]]\nprefix = "/a/"\nscope = SPOT_READ\n', 3, "line 3"),
        ('[rules]\nprefix = "/a/"\n', 1, "unknown table"),
        ("# nothing\n", None, "no [[rule]]"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line(
    tmp_path: Path, text: str, line: int | None, words: str
) -> None:
    with pytest.raises(ScopeRulesError) as caught:
        load_scope_rules(write(tmp_path, text))
    message = str(caught.value)
    assert words in message
    assert "scopes.toml" in message
    if line is not None:
        assert f"line {line}" in message


def test_serve_stops_before_starting_on_a_bad_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[[rule]]\nprefix = "/a/"\nscope = "NOPE"\n')
    done = subprocess.run(
        [str(Path(sys.executable).parent / "gql-keys"), "serve", "--port", "9"],
        env={
            "GQL_KEYS_SCOPE_RULES": str(path),
            "GQL_KEYS_DATA_DIR": str(tmp_path / "data"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"{path}, line 3: rule 1: unknown scope 'NOPE'" in done.stderr
