"""The reference dashboard: static ES modules served at ``/`` by ``gql_keys.http.dashboard``.

``static/vendor`` holds the browser libraries fetched by ``scripts/vendor.py`` (versions,
checksums and licences in ``static/vendor/VERSIONS.json`` and ``static/vendor/licenses``).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
