"""The application's logs: console or JSON lines with request ids, and a filter that
scrubs secrets.

``configure_logging`` installs one handler on the root logger and puts a
``RedactingFilter`` on every handler it can find (ours, uvicorn's, a test's), so a
password, TOTP seed or code, session/service token, API secret or signature never
reaches a log line: not in the message, its arguments, ``extra`` fields, exception
text or stack.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from gql_keys.settings import Settings

REDACTED = "[REDACTED]"

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "gql_keys_request_id", default=None
)

# Keys whose values are secret wherever they appear (dicts, JSON, GraphQL arguments).
SECRET_KEYS = frozenset(
    {
        "password",
        "newpassword",
        "currentpassword",
        "secret",
        "code",
        "totpcode",
        "token",
        "signature",
        "sign",
        "authorization",
        "seed",
        "recoverycodes",
        "recoverycode",
        "otpauthuri",
        "qrsvg",
        "masterkey",
        "privatekey",
    }
)
_KEY_ALTERNATION = (
    r"password|newPassword|currentPassword|secret|token|signature|sign"
    r"|authorization|seed|recoveryCodes?|otpauthUri|qrSvg|masterKey|privateKey"
)
_VALUE = r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;)}\]]+)"""


def _redact_code(match: re.Match[str]) -> str:
    """``code: "492039"`` loses its value; ``code: "NOT_FOUND"`` (an error code) keeps it."""
    if any(ch.isdigit() for ch in match.group(2)):
        return match.group(1) + '"' + REDACTED + '"'
    return match.group(0)


_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Bearer credentials in any header dump.
    (re.compile(r"(?i)(bearer\s+)[^\s\"',;]+"), r"\1" + REDACTED),
    # key: "value", "key": "value", key=value, key: value (GraphQL, JSON, repr, k=v).
    (
        re.compile(r"""(?i)(["']?\b(?:""" + _KEY_ALTERNATION + r""")\b["']?\s*[:=]\s*)""" + _VALUE),
        r"\1" + '"' + REDACTED + '"',
    ),
    # TOTP and recovery codes by name; error codes (no digits) stay readable.
    (re.compile(r"""(?i)(["']?\b(?:totpCode|code)\b["']?\s*[:=]\s*)""" + _VALUE), _redact_code),
    # Session and service tokens, API secrets.
    (re.compile(r"\b(?:gksvc_|gks_|gqks_)[A-Za-z0-9_\-]+"), REDACTED),
    # HMAC-SHA512 signatures (hex) and Ed25519 signatures (base64 of 64 bytes).
    (re.compile(r"\b[0-9a-fA-F]{128}\b"), REDACTED),
    (re.compile(r"[A-Za-z0-9+/]{86}(?:==)?"), REDACTED),
    # TOTP seeds (base32, 32 characters for 160 bits) and otpauth URIs.
    (re.compile(r"otpauth://\S+"), REDACTED),
    (re.compile(r"\b[A-Z2-7]{16,}\b"), REDACTED),
    # Recovery codes (xxxxx-xxxxx, Crockford base32).
    (re.compile(r"\b[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}\b"), REDACTED),
    # A quoted six-digit string is a TOTP code in a GraphQL or JSON dump.
    (re.compile(r"""(["'])\d{6}\1"""), r"\1" + REDACTED + r"\1"),
)


def redact_text(text: str) -> str:
    """``text`` with every secret-looking part replaced by ``[REDACTED]``."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` with secrets removed from strings, dicts and sequences."""
    if depth > 8:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {
            k: REDACTED
            if isinstance(k, str) and k.lower().replace("_", "") in SECRET_KEYS
            else redact_value(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact_text(repr(value))


_STANDARD_ATTRIBUTES = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "request_id", "_gql_keys_redacted", "color_message"}
)


class RedactingFilter(logging.Filter):
    """Rewrites each record in place so no handler ever sees a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_gql_keys_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            message = f"{record.msg!r} {record.args!r}"
        record.msg = redact_text(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        for name, value in list(record.__dict__.items()):
            if name in _STANDARD_ATTRIBUTES:
                continue
            if name.lower().replace("_", "") in SECRET_KEYS:
                record.__dict__[name] = REDACTED
            else:
                record.__dict__[name] = redact_value(value)
        record._gql_keys_redacted = True
        return True


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request id and the ``extra`` fields of ``record``."""
    fields: dict[str, Any] = {}
    request_id = getattr(record, "request_id", None) or request_id_var.get()
    if request_id:
        fields["requestId"] = request_id
    for name, value in record.__dict__.items():
        if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
            fields[name] = value
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """A line a person reads: local time, level, logger, message, then ``key=value``
    extras; a traceback follows on its own lines."""

    def format(self, record: logging.LogRecord) -> str:
        time = self.formatTime(record, "%H:%M:%S")
        line = f"{time} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = _fields(record)
        if fields:
            line += "  " + " ".join(f"{name}={value}" for name, value in fields.items())
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


FORMATTERS: dict[str, type[logging.Formatter]] = {
    "console": ConsoleFormatter,
    "json": JsonFormatter,
}


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of each record."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


# Loggers that may have handlers of their own (uvicorn configures these).
_KNOWN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "strawberry.execution")


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Put a ``RedactingFilter`` on every handler of ``logger`` (root by default) and
    of the loggers uvicorn and Strawberry use."""
    loggers = [logger or logging.getLogger()] + [logging.getLogger(n) for n in _KNOWN_LOGGERS]
    for each in loggers:
        for handler in each.handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())


def configure_logging(settings: Settings) -> None:
    """Idempotent: one handler on the root logger, redaction on every handler.

    Lines are readable console text in development and JSON in production, unless
    ``GQL_KEYS_LOG_FORMAT`` says otherwise. The first call also sets the root level and
    the format; later calls (more apps in one process, as in tests) leave them to
    whoever changed them since.
    """
    root = logging.getLogger()
    if not any(isinstance(h, StderrHandler) for h in root.handlers):
        handler = StderrHandler()
        handler.setFormatter(FORMATTERS[settings.effective_log_format]())
        root.addHandler(handler)
        root.setLevel(settings.log_level)
        # Tortoise announces each start and close at INFO ("Tortoise-ORM shutdown" after
        # the migration that precedes serving); keep that for DEBUG.
        if settings.log_level != "DEBUG":
            logging.getLogger("tortoise").setLevel(logging.WARNING)
    # Our errors are logged once, redacted, by gql_keys.graphql.error_logging; Strawberry's
    # own execution logger would print raw messages.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    install_redaction(root)
