"""The clients' reference: its code runs and its tables name every code the server has."""

from __future__ import annotations

import re
from pathlib import Path

from gql_keys.domain_errors import ErrorCode
from gql_keys.http import authz
from gql_keys.services.verification import VerificationCode

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "reference.md"


def test_the_python_signing_snippet_reproduces_gates_test_vector() -> None:
    blocks = re.findall(r"```python\n(.*?)```", REFERENCE.read_text(), re.S)
    assert blocks
    for block in blocks:
        exec(compile(block, str(REFERENCE), "exec"), {})


def test_every_error_and_verification_code_has_a_row() -> None:
    rows = set(re.findall(r"^\| `([A-Z_]+)`", REFERENCE.read_text(), re.M))
    assert {c.value for c in ErrorCode} <= rows
    assert {c.value for c in VerificationCode} <= rows


def test_every_label_authz_answers_with_has_a_row() -> None:
    # Every answer /authz can give is a module-level (status, label, message) tuple.
    answers = [
        value
        for value in [*vars(authz).values(), *authz._ANSWERS.values()]
        if isinstance(value, tuple)
        and len(value) == 3
        and isinstance(value[0], int)
        and isinstance(value[1], str)
    ]
    labels = {label for _, label, _ in answers if label}
    assert {"INVALID_PATH", "INVALID_REQUEST", "READ_ONLY", "INVALID_VERIFIER"} <= labels
    rows = set(re.findall(r"^\| `([A-Z_]+)`", REFERENCE.read_text(), re.M))
    assert labels <= rows
