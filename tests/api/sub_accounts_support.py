"""Sub-accounts through GraphQL, and their keys: shared by the sub-account test modules."""

from __future__ import annotations

from typing import Any

import httpx

from gql_keys.runtime import Runtime
from harness.accounts import TestUser, next_code
from harness.graphql import gql
from tests.api.test_keys import KEY_FIELDS, create, verify

SUB_FIELDS = "id label createdAt locked deletedAt"
SUB_PAYLOAD = f"subAccount {{ {SUB_FIELDS} }} userErrors {{ field code message }}"

CREATE_SUB = f"""
mutation ($input: CreateSubAccountInput!) {{
  createSubAccount(input: $input) {{ {SUB_PAYLOAD} }}
}}
"""
LOCK_SUB = f"""
mutation ($input: LockSubAccountInput!) {{
  lockSubAccount(input: $input) {{ {SUB_PAYLOAD} }}
}}
"""
UNLOCK_SUB = """
mutation ($input: UnlockSubAccountInput!) {
  unlockSubAccount(input: $input) {
    challenge { id expiresAt purpose } userErrors { field code message }
  }
}
"""
DELETE_SUB = """
mutation ($input: DeleteSubAccountInput!) {
  deleteSubAccount(input: $input) { deletedSubAccountId userErrors { field code message } }
}
"""
CONFIRM = f"""
mutation ($input: VerifyTwoFactorInput!) {{
  verifyTwoFactor(input: $input) {{
    apiKey {{ id }} secret subAccount {{ {SUB_FIELDS} }} userErrors {{ field code message }}
  }}
}}
"""
LIST_SUBS = f"""
query ($first: Int, $after: String) {{
  subAccounts(first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ cursor node {{ id }} }}
    nodes {{ {SUB_FIELDS} }}
  }}
}}
"""
SUB_KEYS = f"""
query ($id: ID!, $includeDeleted: Boolean) {{
  node(id: $id) {{
    ... on SubAccount {{
      {SUB_FIELDS}
      apiKeys(includeDeleted: $includeDeleted) {{
        totalCount nodes {{ {KEY_FIELDS} subAccount {{ id }} }}
      }}
    }}
  }}
}}
"""
MY_KEYS = "{ apiKeys { totalCount nodes { id subAccount { id } } } }"


async def run(
    client: httpx.AsyncClient, user: TestUser, query: str, **variables: Any
) -> dict[str, Any]:
    """One operation as ``user``; its data's only field (top-level errors fail the test)."""
    body = await gql(client, query, variables, token=user.token)
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    result: dict[str, Any] = payload
    return result


async def new_sub_account(
    client: httpx.AsyncClient, user: TestUser, label: str = "desk 1"
) -> dict[str, Any]:
    payload = await run(client, user, CREATE_SUB, input={"label": label})
    assert payload["userErrors"] == [], payload
    sub: dict[str, Any] = payload["subAccount"]
    return sub


async def new_sub_key(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, sub_id: str, **overrides: Any
) -> dict[str, Any]:
    """A confirmed key of the sub-account; the verifyTwoFactor payload (apiKey, secret)."""
    created = await create(client, user, subAccountId=sub_id, **overrides)
    assert created["userErrors"] == [], created
    assert user.seed is not None
    payload = await verify(client, user, created["challenge"]["id"], next_code(user.seed, rt))
    assert payload["userErrors"] == [], payload
    return payload


async def lock(client: httpx.AsyncClient, user: TestUser, sub_id: str) -> dict[str, Any]:
    return await run(client, user, LOCK_SUB, input={"id": sub_id})


async def unlock(
    client: httpx.AsyncClient, rt: Runtime, user: TestUser, sub_id: str
) -> dict[str, Any]:
    """Ask to unlock, then confirm with the master's next code; the verifyTwoFactor payload."""
    asked = await run(client, user, UNLOCK_SUB, input={"id": sub_id})
    assert asked["userErrors"] == [], asked
    assert asked["challenge"]["purpose"] == "UNLOCK_SUB_ACCOUNT"
    assert user.seed is not None
    return await run(
        client,
        user,
        CONFIRM,
        input={"challengeId": asked["challenge"]["id"], "code": next_code(user.seed, rt)},
    )
