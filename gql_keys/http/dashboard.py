"""Serve the reference dashboard: ``/`` and its static files under ``/dashboard/``.

Every dashboard response carries a strict Content-Security-Policy: scripts, styles and
connections from this origin only (WebSockets included), no inline code, no ``eval``, no
framing, and Trusted Types so that no string can ever become markup. The GraphQL
endpoint (and GraphiQL in development) is outside these routes and keeps its own rules.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.middleware.gzip import GZipMiddleware
from starlette.responses import FileResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gql_keys.dashboard import STATIC_DIR

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=()",
}
MIN_GZIP_BYTES = 512


class PageHeaders:
    """Add a page's security headers (the dashboard's unless told) to every response of
    the wrapped app, and ``Cache-Control: no-cache`` so an upgraded package is picked up
    at once (static files still answer 304 to a matching ``If-None-Match``)."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = HEADERS) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers[name] = value
                headers["cache-control"] = "no-cache"
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def index(scope: Scope, receive: Receive, send: Send) -> None:
    page = FileResponse(STATIC_DIR / "index.html", media_type="text/html; charset=utf-8")
    await page(scope, receive, send)


def dashboard_routes() -> list[BaseRoute]:
    """``/`` (the page) and ``/dashboard/*`` (its modules, styles, images), gzipped."""
    static = StaticFiles(directory=STATIC_DIR)
    return [
        Route(
            "/",
            PageHeaders(GZipMiddleware(index, minimum_size=MIN_GZIP_BYTES)),
            methods=["GET", "HEAD"],
        ),
        Mount(
            "/dashboard",
            app=PageHeaders(GZipMiddleware(static, minimum_size=MIN_GZIP_BYTES)),
            name="dashboard",
        ),
    ]
