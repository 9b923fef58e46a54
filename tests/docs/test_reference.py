"""The clients' reference: its code runs and its tables name every code the server has."""

from __future__ import annotations

import re
from pathlib import Path

from gql_keys.domain_errors import ErrorCode
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
