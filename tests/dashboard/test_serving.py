"""How the package serves the dashboard: the page and its files at ``/``, under a strict
Content-Security-Policy, gzipped, within the first-load budget, and off on request."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from pathlib import Path

import httpx
from starlette.applications import Starlette

from gql_keys.app import create_app
from gql_keys.dashboard import STATIC_DIR
from gql_keys.graphiql import CONTENT_SECURITY_POLICY as GRAPHIQL_CSP
from gql_keys.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
BUDGET_BYTES = 150 * 1024
STATIC_IMPORT = re.compile(
    r"""(?:^|[;\s])(?:import|export)\s*(?:[^"';]*?\bfrom\s*)?["']([^"']+)["']"""
)
LINKED = re.compile(r"""<(?:link|script)\b[^>]*\b(?:href|src)="([^"]+)\"""")


async def test_root_serves_the_dashboard_under_a_strict_policy(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<div id="app">' in response.text
    policy = dict(
        part.strip().split(" ", 1)
        for part in response.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_static_files_carry_the_policy_and_travel_gzipped(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/dashboard/js/app.js", headers={"accept-encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        ("text/javascript", "application/javascript")
    )
    assert response.headers["content-encoding"] == "gzip"
    assert "script-src 'self'" in response.headers["content-security-policy"]
    again = await client.get(
        "/dashboard/js/app.js", headers={"if-none-match": response.headers["etag"]}
    )
    assert again.status_code == 304


async def test_graphql_keeps_its_own_headers(client: httpx.AsyncClient) -> None:
    response = await client.post("/graphql", json={"query": "{ viewer { id } }"})
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers
    ide = await client.get("/graphql", headers={"accept": "text/html"})
    assert ide.status_code == 200  # GraphiQL, in development, has a CSP of its own
    assert ide.headers["content-security-policy"] == GRAPHIQL_CSP
    assert "trusted-types" not in ide.headers["content-security-policy"]


async def test_the_dashboard_can_be_turned_off(settings: Settings) -> None:
    assert load_settings({"GQL_KEYS_DASHBOARD": "false"}).dashboard is False
    assert load_settings({}).dashboard is True
    app: Starlette = create_app(settings.with_overrides(dashboard=False))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/dashboard/js/app.js")).status_code == 404
        assert (await client.get("/healthz")).status_code == 200


def first_load_files() -> list[Path]:
    """The page, what it links, and every module reachable by static imports (dynamic
    ``import()`` — the chart library — loads later and is not counted)."""
    index = STATIC_DIR / "index.html"
    files = [index]
    pending = [
        STATIC_DIR / href.removeprefix("dashboard/") for href in LINKED.findall(index.read_text())
    ]
    while pending:
        path = pending.pop().resolve()
        if path in files:
            continue
        files.append(path)
        if path.suffix in (".js", ".mjs"):
            pending.extend(path.parent / spec for spec in STATIC_IMPORT.findall(path.read_text()))
    return files


def test_first_load_fits_in_150_kb_compressed() -> None:
    files = first_load_files()
    assert STATIC_DIR / "js" / "app.js" in files
    assert STATIC_DIR / "vendor" / "graphql-ws" / "common-CGW11Fyb.js" in files
    assert not any(p.name == "uPlot.esm.js" for p in files)
    compressed = sum(len(gzip.compress(p.read_bytes(), 9)) for p in files)
    print(f"first load: {len(files)} files, {compressed / 1024:.1f} KiB gzipped")
    assert compressed <= BUDGET_BYTES


def test_the_page_holds_no_inline_code_and_names_no_other_origin() -> None:
    page = (STATIC_DIR / "index.html").read_text()
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None
    assert "<style" not in page
    assert " style=" not in page
    assert re.search(r"<[^>]*\son\w+=", page) is None  # no inline event handlers
    for path in (STATIC_DIR / "js").glob("*.js"):
        text = path.read_text()
        assert "style=" not in text, path
        assert "innerHTML" not in text, path
        assert not re.search(r"https?://", text), path
    assert not re.search(r"""(?:href|src)="(?:https?:)?//""", page)


def test_vendored_files_match_their_recorded_checksums() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "vendor.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
