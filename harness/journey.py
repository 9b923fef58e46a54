"""What a person and a partner do around the dashboard: the browser steps by accessible
name (the names API.md fixes), TOTP codes from the Setup key, and signed partner
requests checked at the forward-auth endpoint ``/authz`` with a verifier service token."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pyotp
from playwright.sync_api import Page, expect

from harness.live_server import LiveServer

PASSWORD = "correct horse battery staple 42"
STEP_SECONDS = 30
EMPTY_SHA512 = hashlib.sha512(b"").hexdigest()
GQL_KEYS = Path(sys.executable).parent / "gql-keys"


VIOLATION_MARKS = ("securitypolicyviolation", "Content Security Policy", "Trusted")


@dataclass
class Recorder:
    origin: str
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if any(m in line for m in VIOLATION_MARKS)]

    def foreign_requests(self) -> list[str]:
        mine = urlsplit(self.origin).netloc
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).netloc != mine
        ]


def new_email() -> str:
    return f"person-{secrets.token_hex(4)}@example.com"


def next_code(server: LiveServer, seed: str) -> str:
    """A code no earlier step used: the server's clock moves on one TOTP step first
    (codes are accepted once per account and step)."""
    server.clock.advance(STEP_SECONDS)
    return str(pyotp.TOTP(seed).at(server.clock.time()))


def create_account(page: Page, email: str) -> None:
    page.goto("/")
    page.get_by_role("link", name="Create account").click()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()


def enable_two_factor(page: Page, server: LiveServer) -> tuple[str, list[str]]:
    """Set up 2FA from the page; returns the seed read from ``Setup key`` and the
    recovery codes as downloaded."""
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Set up authenticator").click()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    seed = page.get_by_label("Setup key").inner_text().strip()
    page.get_by_label("Authentication code").fill(next_code(server, seed))
    page.get_by_role("button", name="Enable").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download recovery codes").click()
    codes = Path(download.value.path()).read_text().split()
    page.get_by_role("button", name="I have saved them").click()
    return seed, codes


def sign_in(page: Page, server: LiveServer, email: str, seed: str) -> None:
    page.goto("/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Authentication code").fill(next_code(server, seed))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="API Management")).to_be_visible()


def create_key(
    page: Page, server: LiveServer, seed: str, label: str, scopes: list[str], allowlist: str
) -> tuple[str, str]:
    """Create a key in the dialog; returns its ``key`` identifier and the secret."""
    page.get_by_role("button", name="Create New Key").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Label").fill(label)
    for title in scopes:
        dialog.get_by_label(title, exact=True).check()
    dialog.get_by_label("IP allowlist").fill(allowlist)
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Next").click()
    secret = dialog.get_by_label("Secret key").inner_text().strip()
    key = dialog.locator("dd code").inner_text().strip()
    return key, secret


def server_env(server: LiveServer) -> dict[str, str]:
    """The environment a ``gql-keys`` command needs to act on ``server``'s database."""
    return {
        **os.environ,
        "GQL_KEYS_DATABASE_URL": server.settings.database_url,
        "GQL_KEYS_DATA_DIR": str(server.settings.data_dir),
        "GQL_KEYS_MASTER_KEY": server.settings.master_key,
    }


def report_leak(server: LiveServer, secret: str) -> None:
    """Report ``secret`` as leaked the way an operator does (``gql-keys keys report-leak``)."""
    subprocess.run(
        [str(GQL_KEYS), "keys", "report-leak"],
        env=server_env(server),
        input=secret,
        check=True,
        capture_output=True,
        text=True,
    )


def verifier_token(server: LiveServer) -> str:
    env = server_env(server)
    done = subprocess.run(
        [
            str(GQL_KEYS),
            "service-token",
            "create",
            "--name",
            f"gw-{secrets.token_hex(3)}",
            "--role",
            "verifier",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def partner_request(
    server: LiveServer, token: str, key: str, secret: str, *, client_ip: str, path: str
) -> str:
    """A partner's signed GET, checked by the gateway at ``/authz`` the way Envoy's
    ``ext_authz`` asks (the request itself under the prefix); returns the decision from
    ``X-Verification-Code``."""
    timestamp = str(int(server.clock.time()))
    payload = f"GET\n{path}\n\n{EMPTY_SHA512}\n{timestamp}".encode()
    signature = hmac.new(secret.encode(), payload, hashlib.sha512).hexdigest()
    response = httpx.get(
        f"{server.url}/authz{path}",
        headers={
            "X-Verifier-Token": token,
            "X-Real-IP": client_ip,
            "KEY": key,
            "Timestamp": timestamp,
            "SIGN": signature,
        },
        timeout=10,
    )
    return response.headers["x-verification-code"]


def graphql(server: LiveServer, query: str, variables: dict[str, Any], token: str) -> Any:
    response = httpx.post(
        f"{server.url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"} if token else {},
        timeout=10,
    )
    return response.json()["data"]


def register(server: LiveServer) -> str:
    """A new account without 2FA, made through the API; its email (the password is PASSWORD)."""
    email = new_email()
    graphql(
        server,
        "mutation ($i: RegisterInput!) { register(input: $i) { user { id } } }",
        {"i": {"email": email, "password": PASSWORD}},
        "",
    )
    return email


def account_with_two_factor(server: LiveServer) -> tuple[str, str, str]:
    """A new account with 2FA on, made through the API: (email, seed, session token)."""
    email = register(server)
    login = "mutation ($i: LoginInput!) { login(input: $i) { token } }"
    token = graphql(server, login, {"i": {"email": email, "password": PASSWORD}}, "")["login"][
        "token"
    ]
    begin = "mutation ($i: BeginTwoFactorSetupInput!) { beginTwoFactorSetup(input: $i) { secret } }"
    seed = graphql(server, begin, {"i": {"password": PASSWORD}}, token)["beginTwoFactorSetup"][
        "secret"
    ]
    confirm = """mutation ($i: ConfirmTwoFactorSetupInput!) {
      confirmTwoFactorSetup(input: $i) { user { twoFactorEnabled } } }"""
    done = graphql(server, confirm, {"i": {"code": next_code(server, seed)}}, token)
    assert done["confirmTwoFactorSetup"]["user"]["twoFactorEnabled"] is True
    return email, seed, token


def api_key_for(
    server: LiveServer, token: str, seed: str, label: str, **extra: Any
) -> tuple[str, str]:
    """A key made through the API (SPOT_READ, 127.0.0.1 only, plus ``extra`` input
    fields): (key identifier, secret)."""
    create = """mutation ($i: CreateApiKeyInput!) {
      createApiKey(input: $i) { challenge { id } userErrors { message } } }"""
    created = graphql(
        server,
        create,
        {"i": {"label": label, "scopes": ["SPOT_READ"], "ipAllowlist": ["127.0.0.1"], **extra}},
        token,
    )
    challenge = created["createApiKey"]["challenge"]["id"]
    confirm = """mutation ($i: VerifyTwoFactorInput!) {
      verifyTwoFactor(input: $i) { apiKey { key } secret } }"""
    done = graphql(
        server, confirm, {"i": {"challengeId": challenge, "code": next_code(server, seed)}}, token
    )["verifyTwoFactor"]
    return done["apiKey"]["key"], done["secret"]


def key_id_of(server: LiveServer, token: str, key: str) -> str:
    """The global id of the key whose identifier is ``key`` (deleted ones included)."""
    listing = """{ apiKeys(first: 100, includeDeleted: true) { nodes { id key } } }"""
    nodes = graphql(server, listing, {}, token)["apiKeys"]["nodes"]
    found: str = next(node["id"] for node in nodes if node["key"] == key)
    return found


def roll_key(server: LiveServer, token: str, seed: str, key_id: str) -> str:
    """Roll a key through the API (an hour's overlap); returns the new secret."""
    roll = """mutation ($i: RollApiKeyInput!) { rollApiKey(input: $i) { challenge { id } } }"""
    challenge = graphql(server, roll, {"i": {"id": key_id, "overlapSeconds": 3600}}, token)[
        "rollApiKey"
    ]["challenge"]["id"]
    confirm = """mutation ($i: VerifyTwoFactorInput!) { verifyTwoFactor(input: $i) { secret } }"""
    variables = {"i": {"challengeId": challenge, "code": next_code(server, seed)}}
    secret: str = graphql(server, confirm, variables, token)["verifyTwoFactor"]["secret"]
    return secret


def rename_key(server: LiveServer, token: str, key_id: str, label: str) -> None:
    """A narrowing change: applies at once, no code."""
    update = """mutation ($i: UpdateApiKeyInput!) {
      updateApiKey(input: $i) { apiKey { label } userErrors { message } } }"""
    done = graphql(server, update, {"i": {"id": key_id, "label": label}}, token)["updateApiKey"]
    assert done["apiKey"] == {"label": label}, done


def delete_key(server: LiveServer, token: str, key_id: str) -> None:
    delete = """mutation ($i: DeleteApiKeyInput!) { deleteApiKey(input: $i) { deletedApiKeyId } }"""
    assert graphql(server, delete, {"i": {"id": key_id}}, token)["deleteApiKey"]["deletedApiKeyId"]


def tab_to(page: Page, name: str, limit: int = 80) -> None:
    """Press Tab until the focused element is named ``name`` (its label or its text)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => {
              const el = document.activeElement;
              return ((el.labels && el.labels[0]?.textContent) || el.textContent || '').trim();
            }"""
        )
        if focused == name:
            return
    raise AssertionError(f"Tab never reached {name!r}")


SPOT_PATH = "/api/v4/spot/accounts"


def edit_and_roll(
    page: Page, server: LiveServer, seed: str, verifier: str, key: str, secret: str
) -> None:
    """On the key's page: a narrowing edit applies at once, a widening one asks for a code;
    rolling shows a new secret once while the old one verifies through the overlap."""
    page.get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Wallet: read").uncheck()
    dialog.get_by_role("button", name="Save changes").click()
    expect(page.locator("dialog")).to_have_count(0)  # gone from the DOM, not just closed
    expect(page.get_by_text("Saved.", exact=True)).to_be_visible()
    expect(page.locator("dl.facts")).not_to_contain_text("Wallet: read")

    page.get_by_role("button", name="Edit").click()
    dialog.get_by_label("Futures: read").check()
    dialog.get_by_role("button", name="Save changes").click()
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("dialog")).to_have_count(0)  # gone from the DOM, not just closed
    expect(page.locator("dl.facts")).to_contain_text("Futures: read")

    page.get_by_role("button", name="Roll secret").click()
    dialog.get_by_label("Google Authenticator code").fill(next_code(server, seed))
    dialog.get_by_role("button", name="Roll now").click()
    rolled = dialog.get_by_label("Secret key").inner_text().strip()
    assert rolled
    assert rolled != secret
    dialog.get_by_role("button", name="Done").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert rolled not in page.content()
    expect(page.locator("dl.facts")).to_contain_text("the previous secret still verifies until")
    for old_or_new in (secret, rolled):
        decision = partner_request(
            server, verifier, key, old_or_new, client_ip="127.0.0.1", path=SPOT_PATH
        )
        assert decision == "VALID"


def walk_the_whole_journey(page: Page, server: LiveServer, recorder: Recorder) -> None:
    """Create an account, turn on 2FA, create a key with two scopes and an allowlist, read
    its secret once, sign partner requests with it (one allowed, one denied), see them in
    Live activity and on the key's page (chart and logs), edit and roll it, delete it,
    sign out; with no CSP
    violation and no request to another origin on the way."""
    create_account(page, new_email())
    seed, recovery_codes = enable_two_factor(page, server)
    assert len(recovery_codes) >= 8
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_have_count(0)
    log = page.get_by_role("log", name="Live activity")
    expect(page.get_by_text("Live", exact=True)).to_be_visible()

    key, secret = create_key(
        page, server, seed, "partner-a", ["Spot: read", "Wallet: read"], "127.0.0.1\n10.1.0.0/16"
    )
    assert len(secret) >= 32
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Copy")).to_be_visible()
    expect(dialog.get_by_role("alert")).to_contain_text("shown only once")
    dialog.get_by_role("button", name="Done").click()
    expect(page.locator("dialog")).to_have_count(0)  # gone from the DOM, not just closed
    assert secret not in page.content()

    row = page.get_by_role("row").filter(has_text="partner-a")
    expect(row).to_contain_text(key)
    expect(row).to_contain_text("Spot: read")
    expect(row).to_contain_text("Wallet: read")
    expect(row).to_contain_text("10.1.0.0/16")

    token = verifier_token(server)
    allowed = partner_request(server, token, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert allowed == "VALID"
    expect(log).to_contain_text("VALID")
    expect(log).to_contain_text("partner-a")
    denied = partner_request(server, token, key, secret, client_ip="192.0.2.9", path=SPOT_PATH)
    assert denied == "IP_NOT_ALLOWED"
    expect(log).to_contain_text("IP_NOT_ALLOWED")

    row.get_by_role("link", name="partner-a").click()
    expect(page.get_by_role("heading", name="partner-a")).to_be_visible()
    expect(page.locator("figure.chart canvas").first).to_be_visible()
    expect(page.locator("figure.chart figcaption")).to_contain_text("1 allowed, 1 denied")
    logs = page.get_by_role("table", name="Usage logs, newest first")
    expect(logs.get_by_role("row")).to_have_count(3)
    expect(logs).to_contain_text("VALID")
    expect(logs).to_contain_text("192.0.2.9")
    page.get_by_label("Outcome").select_option("denied")
    page.get_by_role("button", name="Apply filters").click()
    expect(logs.get_by_role("row")).to_have_count(2)
    expect(logs).not_to_contain_text("VALID")

    edit_and_roll(page, server, seed, token, key, secret)

    page.get_by_role("link", name="API Management").click()
    page.get_by_role("row").filter(has_text="partner-a").get_by_role(
        "button", name="Delete"
    ).click()
    page.get_by_role("button", name="Delete key").click()
    expect(page.get_by_role("row").filter(has_text="partner-a")).to_have_count(0)
    gone = partner_request(server, token, key, secret, client_ip="127.0.0.1", path=SPOT_PATH)
    assert gone == "KEY_DELETED"

    session_token = page.evaluate("() => sessionStorage.getItem('gql-keys.session')")
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0
    viewer = httpx.post(
        f"{server.url}/graphql",
        json={"query": "{ viewer { id } }"},
        headers={"Authorization": f"Bearer {session_token}"},
    ).json()
    assert viewer.get("data") is None or viewer["data"]["viewer"] is None

    assert recorder.csp_violations() == []
    assert any(url.startswith("ws://") for url in recorder.requests)  # the live feed's socket
    assert recorder.foreign_requests() == []
