"""Debian's Chromium for Playwright: found on the PATH (``GQL_KEYS_TEST_CHROMIUM`` names
another binary) and started with flags that keep it off this machine's closed network."""

from __future__ import annotations

import os
import shutil

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def find_chromium() -> str | None:
    explicit = os.environ.get("GQL_KEYS_TEST_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None
