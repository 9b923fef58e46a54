"""Listing, reading and deleting keys: own keys only, keyset pages, status, soft delete."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from gql_keys.broker.events import ActivityKind
from gql_keys.global_ids import encode_global_id
from gql_keys.runtime import Runtime
from harness.accounts import TestUser, signed_up_user
from harness.graphql import error_codes, gql
from harness.keys import create_active_key, sign_request
from tests.api.key_changes_support import drain
from tests.api.test_keys import (
    DELETE,
    GET,
    LIST,
    NODE,
    VERIFY,
    codes_and_fields,
    create,
    new_key,
    raw_rows,
)


async def delete(client: httpx.AsyncClient, user: TestUser, key_id: str) -> dict[str, Any]:
    body = await gql(client, DELETE, {"input": {"id": key_id}}, token=user.token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["deleteApiKey"]
    return payload


async def test_api_keys_pages_newest_first_with_a_total_count(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    ids = [(await new_key(client, rt, user, label=f"k{i}"))["apiKey"]["id"] for i in range(5)]
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(client, LIST, {"first": 2, "after": after}, token=user.token)
        page = body["data"]["apiKeys"]
        assert page["totalCount"] == 5
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        seen += [n["id"] for n in page["nodes"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == list(reversed(ids))
    assert pages == 3


async def test_pagination_is_stable_while_keys_are_added(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    ids = [(await new_key(client, rt, user, label=f"k{i}"))["apiKey"]["id"] for i in range(3)]
    first = (await gql(client, LIST, {"first": 2}, token=user.token))["data"]["apiKeys"]
    await new_key(client, rt, user, label="newer")
    rest = await gql(
        client, LIST, {"first": 2, "after": first["pageInfo"]["endCursor"]}, token=user.token
    )
    assert [n["id"] for n in rest["data"]["apiKeys"]["nodes"]] == [ids[0]]


async def test_api_keys_default_page_is_twenty(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    body = await gql(client, LIST, token=user.token)
    page = body["data"]["apiKeys"]
    assert page == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
        "nodes": [],
    }


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"first": 0}, ["first"]),
        ({"first": 101}, ["first"]),
        ({"after": "not-a-cursor"}, ["after"]),
        ({"after": "WyJ4Il0"}, ["after"]),  # ["x"]
    ],
)
async def test_api_keys_rejects_bad_page_arguments(
    client: httpx.AsyncClient, rt: Runtime, variables: dict[str, object], field: list[str]
) -> None:
    user = await signed_up_user(client, rt)
    body = await gql(client, LIST, variables, token=user.token)
    assert error_codes(body) == ["INVALID_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == field


async def test_api_keys_needs_a_user_session(client: httpx.AsyncClient) -> None:
    assert error_codes(await gql(client, LIST)) == ["UNAUTHENTICATED"]
    assert error_codes(await gql(client, GET, {"id": encode_global_id("ApiKey", 1)})) == [
        "UNAUTHENTICATED"
    ]


async def test_status_turns_expired_after_expires_at(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    soon = rt.clock.now() + timedelta(minutes=5)
    key = (await new_key(client, rt, user, expiresAt=soon.isoformat()))["apiKey"]
    assert key["status"] == "ACTIVE"
    rt.clock.advance(6 * 60)
    body = await gql(client, GET, {"id": key["id"]}, token=user.token)
    assert body["data"]["apiKey"]["status"] == "EXPIRED"
    listing = await gql(client, LIST, token=user.token)
    assert [n["status"] for n in listing["data"]["apiKeys"]["nodes"]] == ["EXPIRED"]


async def test_a_user_never_sees_another_users_keys(client: httpx.AsyncClient, rt: Runtime) -> None:
    owner = await signed_up_user(client, rt)
    intruder = await signed_up_user(client, rt)
    key_id = (await new_key(client, rt, owner))["apiKey"]["id"]
    assert (await gql(client, GET, {"id": key_id}, token=intruder.token))["data"] == {
        "apiKey": None
    }
    assert (await gql(client, NODE, {"id": key_id}, token=intruder.token))["data"] == {"node": None}
    listing = await gql(client, LIST, {"includeDeleted": True}, token=intruder.token)
    assert listing["data"]["apiKeys"]["totalCount"] == 0
    own = await gql(client, NODE, {"id": key_id}, token=owner.token)
    assert own["data"]["node"]["id"] == key_id


async def test_a_pending_key_cannot_be_read_by_id(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    await create(client, user)
    (row,) = await raw_rows("api_keys")
    key_id = encode_global_id("ApiKey", row["id"])
    assert (await gql(client, GET, {"id": key_id}, token=user.token))["data"]["apiKey"] is None
    assert (await gql(client, NODE, {"id": key_id}, token=user.token))["data"]["node"] is None
    assert codes_and_fields(await delete(client, user, key_id)) == [("NOT_FOUND", ["input", "id"])]


async def test_malformed_ids_read_as_missing(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    for bad in ("nope", encode_global_id("User", user.user_id), encode_global_id("ApiKey", "x")):
        assert (await gql(client, GET, {"id": bad}, token=user.token))["data"]["apiKey"] is None


async def test_delete_api_key_soft_deletes_and_publishes_after_commit(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    subscriber = rt.hub.subscribe(lambda e: True)
    payload = await delete(client, user, key["id"])
    assert payload == {"deletedApiKeyId": key["id"], "userErrors": []}
    (event,) = drain(subscriber)
    assert event.kind is ActivityKind.KEY_DELETED
    assert event.owner_id == user.user_id
    assert event.key == key["key"]
    (row,) = await raw_rows("api_keys")
    assert row["deleted_at"] is not None  # the row stays for the logs

    listing = await gql(client, LIST, token=user.token)
    assert listing["data"]["apiKeys"]["totalCount"] == 0
    with_deleted = await gql(client, LIST, {"includeDeleted": True}, token=user.token)
    assert [n["status"] for n in with_deleted["data"]["apiKeys"]["nodes"]] == ["DELETED"]
    single = await gql(client, GET, {"id": key["id"]}, token=user.token)
    assert single["data"]["apiKey"]["status"] == "DELETED"


async def test_deleting_twice_is_not_found(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    key_id = (await new_key(client, rt, user))["apiKey"]["id"]
    assert (await delete(client, user, key_id))["userErrors"] == []
    again = await delete(client, user, key_id)
    assert codes_and_fields(again) == [("NOT_FOUND", ["input", "id"])]
    assert again["deletedApiKeyId"] is None


async def test_another_user_cannot_delete_a_key(client: httpx.AsyncClient, rt: Runtime) -> None:
    owner = await signed_up_user(client, rt)
    intruder = await signed_up_user(client, rt)
    key_id = (await new_key(client, rt, owner))["apiKey"]["id"]
    subscriber = rt.hub.subscribe(lambda e: True)
    payload = await delete(client, intruder, key_id)
    assert codes_and_fields(payload) == [("NOT_FOUND", ["input", "id"])]
    assert drain(subscriber) == []
    (row,) = await raw_rows("api_keys")
    assert row["deleted_at"] is None


async def test_delete_api_key_needs_a_user_session(client: httpx.AsyncClient, rt: Runtime) -> None:
    body = await gql(client, DELETE, {"input": {"id": encode_global_id("ApiKey", 1)}})
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_an_expired_key_can_still_be_deleted(client: httpx.AsyncClient, rt: Runtime) -> None:
    user = await signed_up_user(client, rt)
    soon = rt.clock.now() + timedelta(minutes=5)
    key_id = (await new_key(client, rt, user, expiresAt=soon.isoformat()))["apiKey"]["id"]
    rt.clock.advance(6 * 60)
    assert (await delete(client, user, key_id))["userErrors"] == []


async def test_read_types_never_expose_storage_fields(client: httpx.AsyncClient) -> None:
    body = await gql(client, '{ __type(name: "ApiKey") { fields { name } } }')
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert not names & {"secret", "secretSealed", "publicKey", "state", "userId"}
    assert {"id", "key", "status", "expiryClamped", "rateLimit"} <= names


async def test_delete_forgets_the_key_in_the_verification_cache(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    user = await signed_up_user(client, rt)
    key = (await new_key(client, rt, user))["apiKey"]
    cached = await rt.key_cache.get(key["key"])
    assert cached is not None
    assert not cached.deleted
    assert (await delete(client, user, key["id"]))["userErrors"] == []
    after = await rt.key_cache.get(key["key"])
    assert after is None or after.deleted


async def test_a_signing_partner_reads_only_its_own_key_and_manages_none(
    client: httpx.AsyncClient, rt: Runtime
) -> None:
    owner = await signed_up_user(client, rt)
    other_key_id = (await new_key(client, rt, owner))["apiKey"]["id"]
    row, secret = await create_active_key(rt, owner.user_id)
    own_id = encode_global_id("ApiKey", row.id)

    async def partner(query: str, variables: dict[str, Any], i: int) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        headers = sign_request(
            secret, "POST", "/graphql", "", body, str(int(rt.clock.time()) + i), key=row.key
        )
        headers["content-type"] = "application/json"
        response = await client.post("/graphql", content=body, headers=headers)
        result: dict[str, Any] = response.json()
        return result

    assert (await partner(GET, {"id": own_id}, 0))["data"]["apiKey"]["key"] == row.key
    assert (await partner(GET, {"id": other_key_id}, 1))["data"] == {"apiKey": None}
    assert error_codes(await partner(LIST, {}, 2)) == ["FORBIDDEN"]
    assert error_codes(await partner(DELETE, {"input": {"id": own_id}}, 3)) == ["FORBIDDEN"]
    challenge = {"input": {"challengeId": "kch_x", "code": "123456"}}
    assert error_codes(await partner(VERIFY, challenge, 4)) == ["FORBIDDEN"]
