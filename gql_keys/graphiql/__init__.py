"""GraphiQL, in development only: a page served at ``GET /graphql`` (for browsers) and its
files under ``/graphiql/`` (a boot script, a stylesheet, and React, ReactDOM and GraphiQL
vendored by ``scripts/vendor.py`` into ``static/vendor`` with their versions, checksums
and licences). Nothing is loaded from another origin, so it works offline.

Its Content-Security-Policy is the dashboard's but for two things GraphiQL's bundle needs:
inline styles (its editor and menus set them) and fonts as ``data:`` URLs (in its CSS).
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
PAGE = STATIC_DIR / "index.html"
PREFIX = "/graphiql"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "font-src 'self' data:",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
