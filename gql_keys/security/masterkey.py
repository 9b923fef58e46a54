"""Loading (or, on the embedded default, creating) the master key that seals secrets."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from pathlib import Path

from gql_keys.settings import Settings, SettingsError

log = logging.getLogger(__name__)

MASTER_KEY_FILE = "master.key"


def _decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError("GQL_KEYS_MASTER_KEY must be base64 of 32 bytes") from None
    if len(raw) != 32:
        raise SettingsError("GQL_KEYS_MASTER_KEY must be base64 of 32 bytes")
    return raw


def load_master_keys(settings: Settings) -> list[bytes]:
    """The active master key first, then retired ones still needed to open old secrets.

    ``GQL_KEYS_MASTER_KEY`` holds ``active[,retired…]``. When it is unset, a key is
    generated once into the data folder (mode 0600) and a warning says so, except in
    production, where it is required (:class:`SettingsError`).
    """
    if settings.master_key:
        return [_decode(part) for part in settings.master_key.split(",") if part.strip()]
    if settings.production:
        raise SettingsError(
            "GQL_KEYS_MASTER_KEY is required when GQL_KEYS_ENV=production "
            "(a generated key file is a development convenience)"
        )
    path = Path(settings.data_dir) / MASTER_KEY_FILE
    if path.exists():
        return [_decode(path.read_text(encoding="ascii"))]
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    encoded = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(encoded + "\n")
    log.warning(
        "GQL_KEYS_MASTER_KEY is not set: generated a master key into %s (mode 0600). "
        "Set GQL_KEYS_MASTER_KEY in production and keep it outside the database.",
        path,
    )
    return [_decode(encoded)]
