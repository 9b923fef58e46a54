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
