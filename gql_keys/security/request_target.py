"""What a partner's request line may say before anything is decided on it.

A path is judged as written, but an upstream serves it as *it* reads it: Tomcat, Jetty and
Spring drop ``;…`` from a segment (``..;`` is ``..``), IIS decodes twice and knows
``%u002e``, others fold full-width dots, overlong UTF-8, NUL or trailing whitespace into
``.``. So a path is accepted only in one plain spelling, checked by one compiled
expression, in the spirit of Spring Security's ``StrictHttpFirewall``:

- ``/`` then segments of RFC 3986 ``pchar`` characters without ``;``: letters, digits,
  ``-._~!$&'()*+,=:@``; no whitespace, control character, ``\\``, ``#``, quote or byte
  over 0x7E written raw (so no full-width dots);
- a percent escape only for a printable ASCII byte that is not ``%`` (no double
  encoding), ``.``, ``/``, ``\\``, ``;``, ``?`` or ``#``; no ``%u`` and no malformed
  escape, so no encoded whitespace, control character, overlong UTF-8 or non-ASCII byte;
- no ``.`` or ``..`` segment, and no empty segment except a trailing slash.

A method is an RFC 9110 token of letters only, at most 16, and is upper-cased. Every
method but ``GET`` and ``HEAD`` changes state.
"""

from __future__ import annotations

import re

READ_METHODS = frozenset({"GET", "HEAD"})
MAX_METHOD_LENGTH = 16

_METHOD = re.compile(r"[A-Za-z]{1,16}")
_CHAR = r"[A-Za-z0-9\-._~!$&'()*+,=:@]"
# Escapes of 0x21-0x7E except 23 (#), 25 (%), 2E (.), 2F (/), 3B (;), 3F (?), 5C (\).
_ESCAPE = r"%(?:2[1246-9A-Da-d]|3[0-9ACDEacde]|[46][0-9A-Fa-f]|5[0-9ABD-Fabd-f]|7[0-9A-Ea-e])"
# Possessive runs (Python 3.11+): one pass, no backtracking whatever the input.
_SEGMENT = rf"(?!\.\.?(?:/|\Z))(?:{_CHAR}++|{_ESCAPE})++"
_PATH = re.compile(rf"(?=/)(?:/{_SEGMENT})*+/?")


def is_plain_path(path: str) -> bool:
    """Whether ``path`` (without its query) is written in the one accepted spelling."""
    return _PATH.fullmatch(path) is not None


def method_token(method: str) -> str | None:
    """``method`` upper-cased; None when it is not 1 to 16 letters."""
    return method.upper() if _METHOD.fullmatch(method) is not None else None


def changes_state(method: str) -> bool:
    """Whether a request with this (upper-case) method needs ``_WRITE`` and replay
    protection: every method but ``GET`` and ``HEAD``."""
    return method not in READ_METHODS
