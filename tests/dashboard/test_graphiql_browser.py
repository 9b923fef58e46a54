"""GraphiQL in development: it renders and runs a query in Chromium with nothing from
another origin (it works offline), under a strict CSP, and keeps nothing in storage."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from harness.journey import Recorder
from harness.live_server import LiveServer

pytestmark = pytest.mark.browser


def run_query(page: Page, document: str) -> None:
    editor = page.locator(".graphiql-query-editor .CodeMirror").first
    expect(editor).to_be_visible()
    # CodeMirror 5 keeps its text in its own model: set it through its API, as a paste would.
    editor.evaluate("(element, text) => element.CodeMirror.setValue(text)", document)
    page.get_by_role("button", name="Execute query (Ctrl-Enter)").click()


def test_graphiql_renders_and_runs_a_query_without_another_origin(
    page: Page, recorder: Recorder, server: LiveServer
) -> None:
    page.goto("/graphql")
    expect(page.get_by_text("Loading GraphiQL")).to_have_count(0)
    run_query(page, "{ __typename }")
    expect(page.locator(".graphiql-response")).to_contain_text('"__typename": "Query"')

    # The documentation explorer renders the schema's descriptions; the dialogs are Radix.
    page.get_by_role("button", name="Show Documentation Explorer").click()
    expect(page.get_by_text("A GraphQL schema provides a root type")).to_be_visible()
    page.get_by_role("button", name="Open settings dialog").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")

    assert recorder.foreign_requests() == []
    assert recorder.csp_violations() == []
    assert any(
        url.endswith("/graphiql/vendor/graphiql/graphiql.min.js") for url in recorder.requests
    )


def test_graphiql_keeps_headers_and_documents_out_of_the_browsers_storage(
    page: Page, recorder: Recorder
) -> None:
    page.goto("/graphql")
    run_query(page, '{ viewer { email } } # password "correct horse battery staple"')
    expect(page.locator(".graphiql-response")).to_contain_text('"viewer": null')
    stored = page.evaluate("() => [localStorage.length, sessionStorage.length]")
    assert stored == [0, 0]
    assert recorder.csp_violations() == []


def test_graphiql_page_and_files_carry_a_csp_that_forbids_framing(page: Page) -> None:
    for path in (
        "/graphql",
        "/graphiql/graphiql.js",
        "/graphiql/vendor/react/react.production.min.js",
    ):
        answer = page.request.get(path, headers={"accept": "text/html"})
        assert answer.status == 200, path
        policy = answer.headers["content-security-policy"]
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy
        assert "unpkg" not in policy
        assert answer.headers["x-frame-options"] == "DENY"
