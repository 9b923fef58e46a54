"""Signing users up through the GraphQL API, and computing their TOTP codes.

Codes are accepted once per account. ``signed_up_user`` confirms 2FA with the code of
the *previous* time step (within the allowed drift), so ``totp_code(seed, rt)`` is
still unused right after sign-up. For any further code call ``next_code(seed, rt)``,
which moves ``rt.clock`` on by one 30-second step first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
import pyotp

from gql_keys.runtime import Runtime
from gql_keys.security.totp import DIGITS, STEP_SECONDS
from gql_keys.services.security_events import ClientInfo
from harness.graphql import gql
from harness.windows import clear_of_window_end

DEFAULT_PASSWORD = "correct horse battery staple 42"
# Where service calls made directly by tests (not over HTTP) say they come from.
LOCAL_CLIENT = ClientInfo("127.0.0.1", "tests")

REGISTER = """
mutation ($input: RegisterInput!) {
  register(input: $input) { user { id email twoFactorEnabled } userErrors { field code message } }
}
"""

LOGIN = """
mutation ($input: LoginInput!) {
  login(input: $input) {
    token user { id email twoFactorEnabled } userErrors { field code message }
  }
}
"""

BEGIN_SETUP = """
mutation ($input: BeginTwoFactorSetupInput!) {
  beginTwoFactorSetup(input: $input) {
    secret otpauthUri qrSvg userErrors { field code message }
  }
}
"""

CONFIRM_SETUP = """
mutation ($input: ConfirmTwoFactorSetupInput!) {
  confirmTwoFactorSetup(input: $input) {
    user { id twoFactorEnabled } recoveryCodes userErrors { field code message }
  }
}
"""


@dataclass
class TestUser:
    __test__ = False  # not a test class, whatever pytest thinks of the name

    user_id: int
    email: str
    password: str
    token: str
    seed: str | None
    recovery_codes: list[str] | None = None


def totp_code(seed: str, rt: Runtime, step_offset: int = 0) -> str:
    """The code for ``seed`` at ``rt.clock`` time, ``step_offset`` steps away."""
    step = int(rt.clock.time() // STEP_SECONDS) + step_offset
    return str(pyotp.TOTP(seed, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step))


async def previous_step_code(seed: str, rt: Runtime) -> str:
    """The code of the step before ``rt.clock``'s, still inside the allowed drift when the
    server checks it: close to a step boundary, wait for the boundary to pass first (the
    previous step's code turns invalid the moment the next step begins)."""
    await clear_of_window_end(STEP_SECONDS, now=rt.clock.time())
    return totp_code(seed, rt, step_offset=-1)


def next_code(seed: str, rt: Runtime) -> str:
    """Advance ``rt.clock`` by one step and return the (unused) code of the new step."""
    rt.clock.advance(STEP_SECONDS)
    return totp_code(seed, rt)


def _user_id(global_id: str) -> int:
    from gql_keys.graphql.node import decode_int_id

    pk = decode_int_id(global_id, "User")
    assert pk is not None, global_id
    return pk


async def login_token(
    client: httpx.AsyncClient, email: str, password: str, totp: str | None = None
) -> str:
    body = await gql(
        client, LOGIN, {"input": {"email": email, "password": password, "totpCode": totp}}
    )
    payload = body["data"]["login"]
    assert payload["userErrors"] == [], payload
    token: str = payload["token"]
    return token


async def signed_up_user(
    client: httpx.AsyncClient,
    rt: Runtime,
    *,
    email: str | None = None,
    two_factor: bool = True,
    password: str = DEFAULT_PASSWORD,
) -> TestUser:
    """Register, log in and (by default) set up and confirm 2FA, all over GraphQL."""
    email = email or f"user-{secrets.token_hex(4)}@example.com"
    body = await gql(client, REGISTER, {"input": {"email": email, "password": password}})
    payload = body["data"]["register"]
    assert payload["userErrors"] == [], payload
    user_id = _user_id(payload["user"]["id"])
    email = payload["user"]["email"]
    token = await login_token(client, email, password)
    if not two_factor:
        return TestUser(user_id, email, password, token, None)

    body = await gql(client, BEGIN_SETUP, {"input": {"password": password}}, token=token)
    begun = body["data"]["beginTwoFactorSetup"]
    assert begun["userErrors"] == [], begun
    seed: str = begun["secret"]
    body = await gql(
        client,
        CONFIRM_SETUP,
        {"input": {"code": await previous_step_code(seed, rt)}},
        token=token,
    )
    confirmed = body["data"]["confirmTwoFactorSetup"]
    assert confirmed["userErrors"] == [], confirmed
    return TestUser(user_id, email, password, token, seed, confirmed["recoveryCodes"])
